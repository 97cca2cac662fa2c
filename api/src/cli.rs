//! The `melt` command line.

use crate::auth::keys::{self, ServerKey};
use crate::auth::token::{TokenRequest, mint};
use crate::auth::viewer::{Role, ViewerKind, scopes};
use crate::graphql::relay::{NodeKind, expect_id};
use crate::settings::Settings;
use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// MeLT network API: the GraphQL backbone of Tuscany's labour and social inclusion
/// network. Settings come from the environment (see the README).
#[derive(Parser, Debug)]
#[command(name = "melt", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (applies migrations, loads the demo network when enabled).
    #[command(after_help = SERVE_SETTINGS)]
    Serve,
    /// Manage database migrations.
    #[command(after_help = DATABASE_SETTINGS)]
    Migrate {
        /// What to do.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Load the demo network (once; later runs change nothing).
    #[command(after_help = DATABASE_SETTINGS)]
    Seed,
    /// Print the GraphQL schema (SDL).
    ExportSchema {
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Export the public directory (applies migrations first).
    #[command(after_help = DATABASE_SETTINGS)]
    Export {
        /// What to export.
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Mint an access token signed with the server's own key and print it alone on
    /// stdout (the key file is created on first use, as `serve` does).
    Token(TokenArgs),
    /// Manage the server's signing key.
    Keys {
        /// What to do.
        #[command(subcommand)]
        action: KeysAction,
    },
}

/// What `melt export` writes.
#[derive(Subcommand, Debug, Clone)]
pub enum ExportWhat {
    /// The public directory in Open Referral HSDS 3.0: every organization, service,
    /// site, link of a service to a site, taxonomy and term, as JSON arrays
    /// (`services.json`, ...) or as the HSDS tabular CSV files (`services.csv`,
    /// `phones.csv`, ...).
    Hsds {
        /// The format.
        #[arg(long, value_enum, default_value = "json")]
        format: crate::hsds::dump::Format,
        /// The folder to write the files into (created if needed; files of the same
        /// name are replaced).
        #[arg(long, short)]
        output: PathBuf,
    },
}

/// Arguments of `melt token`.
#[derive(Args, Debug, Clone, Default)]
pub struct TokenArgs {
    /// Global ID of the organization the caller acts for, as the API returns it.
    #[arg(long, value_name = "ID")]
    pub org: Option<String>,
    /// A role: REGIONAL_ADMIN, ORG_ADMIN, OPERATOR or AUDITOR (repeatable).
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// A scope (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Lifetime: seconds (`3600`) or with a unit (`90s`, `30m`, `1h`, `1d`).
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Token subject.
    #[arg(long, default_value = DEFAULT_SUBJECT)]
    pub subject: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
}

/// The settings `melt serve` reads, for `--help`.
const SERVE_SETTINGS: &str = "Settings (environment; the README describes each): \
DATABASE_URL, MELT_DATABASE_MAX_CONNECTIONS, MELT_DATABASE_ACQUIRE_TIMEOUT_SECS, \
MELT_DATABASE_PING_IDLE_SECS, MELT_HOST, MELT_PORT, MELT_LOG_FORMAT, MELT_LOG_FILTER, MELT_DEMO_DATA, MELT_GRAPHIQL, \
MELT_INTROSPECTION, MELT_FIELD_SUGGESTIONS, MELT_MAX_*, MELT_AUTH_*, MELT_SIGNING_KEY_FILE, \
MELT_CLIENT_TOKEN_TTL_SECS, MELT_TOKEN_MAX_LIFETIME_SECS, MELT_TOKEN_RATE_LIMIT_PER_MINUTE, \
MELT_DATA_KEYS, MELT_DATA_KEY_CURRENT, MELT_PERSON_HASH_KEY, MELT_DEV_DATA_KEYS, \
MELT_DEV_DATA_KEY_FILE, MELT_RATE_LIMIT_*, MELT_JOBS_INTERVAL_SECS, MELT_RETENTION_MONTHS, \
MELT_RECEIVER_ACCESS_DAYS, MELT_SHUTDOWN_GRACE_SECS, MELT_MATCH_*, \
MELT_EVENTS_POLL_INTERVAL_MS, MELT_WEBHOOK_*, MELT_CORS_ORIGINS, MELT_TRUSTED_PROXIES, \
MELT_PERSISTED_QUERIES_FILE, MELT_PERSISTED_QUERIES_ONLY, MELT_WEBSOCKET_INIT_TIMEOUT_SECS, \
MELT_METRICS_ADDR, MELT_OTLP_ENDPOINT, MELT_STATISTICS_*, MELT_OTLP_SERVICE_NAME; MELT_CONFIG names a TOML \
file with the same keys.";

/// The settings the database commands read, for `--help`.
const DATABASE_SETTINGS: &str = "Settings (environment): DATABASE_URL, \
MELT_DATABASE_MAX_CONNECTIONS, MELT_DATABASE_ACQUIRE_TIMEOUT_SECS, MELT_DATABASE_PING_IDLE_SECS, \
MELT_DATA_KEYS and MELT_PERSON_HASH_KEY (PostgreSQL), MELT_CONFIG.";

/// Subject of `melt token` tokens unless `--subject` is given.
pub const DEFAULT_SUBJECT: &str = "melt-cli";

/// Longest lifetime `melt token` accepts: 30 days.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Signing key actions.
#[derive(Subcommand, Debug, Clone)]
pub enum KeysAction {
    /// Generate a new Ed25519 signing key (PKCS#8 PEM).
    Generate {
        /// Write it to this file (created readable by its owner only; an existing file
        /// is never overwritten) instead of printing it.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Re-encrypt personal data still encrypted with an older data key with the current
    /// one (`MELT_DATA_KEY_CURRENT`, default the last of `MELT_DATA_KEYS`).
    RotateData,
}

/// Parses a lifetime: seconds, or a number with `s`, `m`, `h` or `d`.
pub fn parse_ttl(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => bail!("invalid --ttl `{text}`: use seconds or a number with s, m, h or d"),
    };
    let number: u64 = number.trim().parse().map_err(|_| {
        anyhow!("invalid --ttl `{text}`: use seconds or a number with s, m, h or d")
    })?;
    let ttl = Duration::from_secs(number.saturating_mul(factor));
    if ttl.is_zero() || ttl > MAX_TTL {
        bail!("invalid --ttl `{text}`: between 1 second and 30 days");
    }
    Ok(ttl)
}

/// What `melt token` will sign, checked: the organization must be an Organization
/// global ID, roles and scopes must exist.
pub fn token_request(args: &TokenArgs) -> anyhow::Result<TokenRequest> {
    let organization = match &args.org {
        None => None,
        Some(id) => Some(
            expect_id(
                &async_graphql::ID(id.trim().to_owned()),
                NodeKind::Organization,
            )
            .map_err(|e| anyhow!("invalid --org: {e}"))?,
        ),
    };
    let mut roles = Vec::new();
    for name in &args.roles {
        let role = Role::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            anyhow!("unknown role `{name}`: use one of {}", known.join(", "))
        })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    if organization.is_none()
        && let Some(role) = roles
            .iter()
            .find(|r| matches!(r, Role::OrgAdmin | Role::Operator))
    {
        bail!("--role {} needs --org <organization ID>", role.as_str());
    }
    for scope in &args.scopes {
        if !scopes::ALL.contains(&scope.as_str()) {
            bail!(
                "unknown scope `{scope}`: use one of {}",
                scopes::ALL.join(", ")
            );
        }
    }
    let subject = args.subject.trim();
    if subject.is_empty() {
        bail!("--subject must not be blank");
    }
    Ok(TokenRequest {
        subject: subject.to_owned(),
        kind: ViewerKind::User,
        organization,
        roles,
        scopes: args.scopes.clone(),
        name: args.name.clone(),
        ttl: parse_ttl(&args.ttl)?,
    })
}

/// `melt token`: a token signed with the key of `settings.signing_key_file` (created
/// when absent). No database is needed.
pub fn mint_token(settings: &Settings, args: &TokenArgs) -> anyhow::Result<String> {
    let request = token_request(args)?;
    if request.ttl.as_secs() > settings.token_max_lifetime_secs {
        bail!(
            "invalid --ttl `{}`: the service refuses tokens living longer than \
             MELT_TOKEN_MAX_LIFETIME_SECS ({} s)",
            args.ttl,
            settings.token_max_lifetime_secs
        );
    }
    let key = ServerKey::load_or_create(&settings.signing_key_file)?;
    mint(&key, settings, &request)
}

/// `melt keys generate`: writes a new key to `output` (never overwriting a file) and
/// returns `None`, or returns the PEM to print.
pub fn generate_key(output: Option<&Path>) -> anyhow::Result<Option<String>> {
    let pem = ServerKey::generate_pem()?;
    match output {
        None => Ok(Some(pem)),
        Some(path) => {
            if path.exists() {
                bail!("{} exists: refusing to overwrite a key", path.display());
            }
            keys::write_private(path, &pem)?;
            Ok(None)
        }
    }
}

/// Migration actions.
#[derive(Subcommand, Debug, Clone, Copy)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

/// What a command ends with: done, or a command-line mistake to report on stderr
/// (without a backtrace) with exit status 1.
pub enum Outcome {
    /// The command did its work.
    Done,
    /// The command was refused; the message says why.
    Refused(anyhow::Error),
}

/// Runs one command of the `melt` binary. Commands that need no settings (exporting
/// the schema, generating a key) run before settings and telemetry are loaded.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let command = cli.command.unwrap_or(Command::Serve);
    match &command {
        Command::ExportSchema { output } => return export_schema(output.as_deref()),
        Command::Keys {
            action: KeysAction::Generate { output },
        } => return Ok(new_key(output.as_deref())),
        _ => {}
    }
    let settings = match Settings::load_checked() {
        Ok(settings) => settings,
        // A settings mistake is the user's: their words, no backtrace.
        Err(message) => return Ok(Outcome::Refused(anyhow::anyhow!(message))),
    };
    let telemetry = crate::telemetry::init(&settings);
    let outcome = run_with_settings(command, settings).await;
    telemetry.shutdown().await;
    outcome
}

/// Runs a command that needs the settings (telemetry is installed).
async fn run_with_settings(command: Command, settings: Settings) -> anyhow::Result<Outcome> {
    match command {
        // Only the token goes to stdout; logs go to stderr.
        Command::Token(args) => Ok(match mint_token(&settings, &args) {
            Ok(token) => {
                println!("{token}");
                Outcome::Done
            }
            Err(error) => Outcome::Refused(error),
        }),
        Command::Serve => serve(settings).await.map(|()| Outcome::Done),
        Command::Migrate { action } => {
            let db = crate::db::connect(&settings).await?;
            match action {
                MigrateAction::Up => Migrator::up(&db, None).await?,
                MigrateAction::Down => Migrator::down(&db, Some(1)).await?,
                MigrateAction::Status => Migrator::status(&db).await?,
            }
            Ok(Outcome::Done)
        }
        Command::Seed => {
            let db = crate::db::connect(&settings).await?;
            crate::db::migrate(&db).await?;
            if crate::db::seed_demo(&db).await? {
                tracing::info!("demo network loaded");
            } else {
                tracing::info!("demo network already present; nothing changed");
            }
            Ok(Outcome::Done)
        }
        Command::Export {
            what: ExportWhat::Hsds { format, output },
        } => {
            let db = crate::db::connect(&settings).await?;
            crate::db::migrate(&db).await?;
            let lists = crate::hsds::dump::read_all(&db)
                .await
                .map_err(|e| anyhow!("reading the directory failed: {e:?}"))?;
            let files = crate::hsds::dump::write(&lists, format, &output)?;
            tracing::info!(files = files.len(), output = %output.display(), "HSDS export written");
            Ok(Outcome::Done)
        }
        Command::Keys {
            action: KeysAction::RotateData,
        } => {
            let db = crate::db::connect(&settings).await?;
            crate::db::migrate(&db).await?;
            let protection = crate::crypto::DataProtection::from_settings(&settings)?;
            let changed = crate::person::protection::rotate_data(&db, &protection)
                .await
                .map_err(|e| anyhow!("re-encryption failed: {e:?}"))?;
            tracing::info!(
                rows = changed,
                "personal data re-encrypted with the current key"
            );
            Ok(Outcome::Done)
        }
        // Handled above, before settings.
        Command::ExportSchema { .. }
        | Command::Keys {
            action: KeysAction::Generate { .. },
        } => Ok(Outcome::Done),
    }
}

/// Generates a signing key: printed, or written to `output`.
fn new_key(output: Option<&Path>) -> Outcome {
    match generate_key(output) {
        Ok(Some(pem)) => {
            print!("{pem}");
            Outcome::Done
        }
        Ok(None) => {
            if let Some(path) = output {
                eprintln!("wrote a new signing key to {}", path.display());
            }
            Outcome::Done
        }
        Err(error) => Outcome::Refused(error),
    }
}

/// Prints the SDL, or writes it to `output`.
fn export_schema(output: Option<&Path>) -> anyhow::Result<Outcome> {
    let sdl = crate::schema::sdl();
    match output {
        Some(path) => {
            std::fs::write(path, sdl).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => print!("{sdl}"),
    }
    Ok(Outcome::Done)
}

/// Builds the application and serves until a shutdown signal.
async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = crate::startup::Application::build(settings.clone()).await?;
    let base = format!("http://{}:{}", settings.host, app.port());
    tracing::info!("GraphQL endpoint: {base}/graphql");
    if settings.graphiql {
        tracing::info!("GraphiQL IDE:     {base}/graphql (open it in a browser)");
    }
    app.run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_take_seconds_or_a_unit() {
        let secs = |t: &str| parse_ttl(t).ok().map(|d| d.as_secs());
        assert_eq!(secs("3600"), Some(3600));
        assert_eq!(secs("30m"), Some(1800));
        assert_eq!(secs("1h"), Some(3600));
        assert_eq!(secs("2d"), Some(172_800));
        assert_eq!(secs("0"), None);
        assert_eq!(secs("1y"), None);
        assert_eq!(secs("h"), None);
        assert_eq!(secs("31d"), None);
    }

    #[test]
    fn token_arguments_are_checked() {
        let org = crate::graphql::relay::to_global_id(NodeKind::Organization, uuid::Uuid::now_v7());
        let args = TokenArgs {
            org: Some(org.to_string()),
            roles: vec!["org-admin".into()],
            ttl: "1h".into(),
            subject: DEFAULT_SUBJECT.into(),
            ..TokenArgs::default()
        };
        let request = token_request(&args).ok();
        assert_eq!(request.map(|r| r.roles), Some(vec![Role::OrgAdmin]));
        let bad_role = TokenArgs {
            roles: vec!["ADMIN".into()],
            ..args.clone()
        };
        assert!(token_request(&bad_role).is_err());
        let service_id =
            crate::graphql::relay::to_global_id(NodeKind::Service, uuid::Uuid::now_v7());
        let bad_org = TokenArgs {
            org: Some(service_id.to_string()),
            ..args.clone()
        };
        assert!(token_request(&bad_org).is_err());
        let no_org = TokenArgs { org: None, ..args };
        assert!(token_request(&no_org).is_err());
    }
}
