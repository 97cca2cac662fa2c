//! The database: one code path for SQLite (default) and PostgreSQL.

use crate::settings::Settings;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, TransactionTrait};
use std::time::Duration;

/// Opens the pool. Statement logging is disabled: bound values may be personal data.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
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
