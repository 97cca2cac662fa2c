//! The database: one code path for SQLite (default) and PostgreSQL.

use crate::settings::Settings;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, TransactionTrait};
use std::time::Duration;

/// The file of an SQLite URL that asks for it to be created (`mode=rwc`).
fn sqlite_file_to_create(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let creates = query.split('&').any(|pair| pair == "mode=rwc");
    (creates && !path.is_empty() && !path.contains(":memory:")).then(|| path.into())
}

/// Creates a missing SQLite database file readable by its owner only (0600): it holds
/// personal data. SQLite gives its `-wal` and `-shm` files the same mode. An existing
/// file is left as it is.
fn create_private_sqlite_file(url: &str) -> Result<(), DbErr> {
    let Some(path) = sqlite_file_to_create(url) else {
        return Ok(());
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(DbErr::Custom(format!(
            "cannot create the database file {}: {error}",
            path.display()
        ))),
    }
}

/// Opens the pool. Statement logging is disabled: bound values may be personal data.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    create_private_sqlite_file(&settings.database_url)?;
    let mut options = ConnectOptions::new(settings.database_url.clone());
    options
        .max_connections(settings.database_max_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Applies pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Loads the demo network in one transaction, unless it is already there.
pub async fn seed_demo(db: &DatabaseConnection) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let loaded = crate::seed::load_demo_network(&txn).await?;
    txn.commit().await?;
    Ok(loaded)
}

/// An in-memory SQLite database with the real migrations and the demo network, for
/// service-level tests (one connection: each would have a database of its own).
#[cfg(test)]
pub(crate) async fn memory_with_demo() -> DatabaseConnection {
    let mut options = ConnectOptions::new("sqlite::memory:");
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.expect("in-memory SQLite");
    migrate(&db).await.expect("migrations");
    seed_demo(&db).await.expect("demo network");
    db
}

/// Id of the demo organization whose name contains `name` (tests).
#[cfg(test)]
pub(crate) async fn organization_like(db: &DatabaseConnection, name: &str) -> uuid::Uuid {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::organization::Entity::find()
        .filter(entity::organization::Column::Name.contains(name))
        .one(db)
        .await
        .expect("query")
        .unwrap_or_else(|| panic!("no organization like {name}"))
        .id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sqlite_files_to_create_are_named() {
        assert_eq!(
            sqlite_file_to_create("sqlite://melt.db?mode=rwc"),
            Some("melt.db".into())
        );
        assert_eq!(
            sqlite_file_to_create("sqlite:///var/lib/melt/melt.db?mode=rwc"),
            Some("/var/lib/melt/melt.db".into())
        );
        assert_eq!(sqlite_file_to_create("sqlite://melt.db"), None);
        assert_eq!(sqlite_file_to_create("sqlite::memory:"), None);
        assert_eq!(sqlite_file_to_create("postgres://x@h/melt"), None);
    }
}
