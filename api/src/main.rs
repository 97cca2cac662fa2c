//! `melt`: thin entry point over the library.

use anyhow::Context;
use clap::Parser;
use melt_api::cli::{Cli, Command, KeysAction, MigrateAction};
use melt_api::settings::Settings;
use melt_api::startup::Application;
use migration::{Migrator, MigratorTrait};

/// Reports a command-line mistake on stderr, without a backtrace, and exits with 1.
fn fail(error: &anyhow::Error) -> ! {
    eprintln!("error: {error:#}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::ExportSchema { output } = &command {
        let sdl = melt_api::graphql::schema::sdl();
        return match output {
            Some(path) => std::fs::write(path, sdl)
                .with_context(|| format!("cannot write {}", path.display())),
            None => {
                print!("{sdl}");
                Ok(())
            }
        };
    }
    if let Command::Keys {
        action: KeysAction::Generate { output },
    } = &command
    {
        match melt_api::cli::generate_key(output.as_deref()) {
            Ok(Some(pem)) => print!("{pem}"),
            Ok(None) => {
                if let Some(path) = output {
                    eprintln!("wrote a new signing key to {}", path.display());
                }
            }
            Err(error) => fail(&error),
        }
        return Ok(());
    }
    let settings = Settings::load().context("invalid settings")?;
    melt_api::telemetry::init(&settings);
    if let Command::Token(args) = &command {
        // Only the token goes to stdout; logs go to stderr.
        match melt_api::cli::mint_token(&settings, args) {
            Ok(token) => println!("{token}"),
            Err(error) => fail(&error),
        }
        return Ok(());
    }
    match command {
        Command::Serve => {
            let app = Application::build(settings.clone()).await?;
            let base = format!("http://{}:{}", settings.host, app.port());
            tracing::info!("GraphQL endpoint: {base}/graphql");
            if settings.graphiql {
                tracing::info!("GraphiQL IDE:     {base}/graphql (open it in a browser)");
            }
            app.run().await?;
        }
        Command::Migrate { action } => {
            let db = melt_api::db::connect(&settings).await?;
            match action {
                MigrateAction::Up => Migrator::up(&db, None).await?,
                MigrateAction::Down => Migrator::down(&db, Some(1)).await?,
                MigrateAction::Status => Migrator::status(&db).await?,
            }
        }
        Command::Seed => {
            let db = melt_api::db::connect(&settings).await?;
            melt_api::db::migrate(&db).await?;
            if melt_api::db::seed_demo(&db).await? {
                tracing::info!("demo network loaded");
            } else {
                tracing::info!("demo network already present; nothing changed");
            }
        }
        Command::Keys {
            action: KeysAction::RotateData,
        } => {
            let db = melt_api::db::connect(&settings).await?;
            melt_api::db::migrate(&db).await?;
            let protection = melt_api::crypto::DataProtection::from_settings(&settings)?;
            let changed = melt_api::person::service::rotate_data(&db, &protection)
                .await
                .map_err(|e| anyhow::anyhow!("re-encryption failed: {e:?}"))?;
            tracing::info!(
                rows = changed,
                "personal data re-encrypted with the current key"
            );
        }
        Command::ExportSchema { .. } | Command::Token(_) | Command::Keys { .. } => {}
    }
    Ok(())
}
