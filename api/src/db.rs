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

/// Where a database URL points, without credentials: `host:port` for PostgreSQL, the
/// file for SQLite.
pub fn where_is(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let file = rest.trim_start_matches("//");
        return file.split('?').next().unwrap_or(file).to_owned();
    }
    match reqwest::Url::parse(url) {
        Ok(parsed) => format!(
            "{}:{}",
            parsed.host_str().unwrap_or("localhost"),
            parsed.port().unwrap_or(5432)
        ),
        Err(_) => "an unreadable URL".to_owned(),
    }
}

/// Settings of every PostgreSQL session the pool opens (see [`connect`]).
pub const POSTGRES_SESSION: [(&str, &str); 2] =
    [("plan_cache_mode", "force_custom_plan"), ("jit", "off")];

/// Opens the pool. Statement logging is disabled: bound values may be personal data.
/// Each statement has a span (`sea_orm.*`, for traces) carrying the engine and the
/// statement's kind (`db.operation`: SELECT, INSERT, ...), never its text: a statement
/// written with its values inline would carry them.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    create_private_sqlite_file(&settings.database_url)?;
    let mut options = ConnectOptions::new(settings.database_url.clone());
    options
        .max_connections(settings.database_max_connections)
        .connect_timeout(Duration::from_secs(
            settings.database_acquire_timeout_secs.max(1),
        ))
        .acquire_timeout(Duration::from_secs(
            settings.database_acquire_timeout_secs.max(1),
        ))
        // A connection in use within the last seconds is known to be alive: checking
        // it again cost a round trip per statement (PostgreSQL's CPU and ours: a
        // tenth of the server's time on a page of organizations).
        .test_before_acquire_if_idle_for(Duration::from_secs(settings.database_ping_idle_secs))
        .sqlx_logging(false)
        .record_stmt_in_spans(false)
        // WAL: readers never wait for the writer, and writers queue for the lock
        // (with the busy timeout) instead of failing.
        // PostgreSQL: plan every statement with its values (the statements are
        // prepared once per connection, and the generic plan PostgreSQL switches to
        // after five executions ignores the filter's values: 30-45 ms against 9 ms
        // for the filtered catalogue page), and no JIT compilation (it spent 1.4 s
        // compiling a 60 ms matching statement whose estimate crossed its threshold).
        .map_sqlx_postgres_opts(|o| o.options(POSTGRES_SESSION))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
        });
    Database::connect(options).await
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), queueing behind another writer instead of failing later when a
/// read lock would have to be upgraded (the replica's background workers write while
/// requests do); on PostgreSQL it is a plain `BEGIN`.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
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

/// A raw statement written with `?` placeholders, numbered (`$1`, `$2`, ...) on
/// PostgreSQL: one text for both engines.
pub fn statement(
    backend: sea_orm::DatabaseBackend,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> sea_orm::Statement {
    let text = if backend == sea_orm::DatabaseBackend::Postgres {
        let mut text = String::with_capacity(sql.len() + 16);
        let mut number = 0;
        for c in sql.chars() {
            if c == '?' {
                number += 1;
                text.push('$');
                text.push_str(&number.to_string());
            } else {
                text.push(c);
            }
        }
        text
    } else {
        sql.to_owned()
    };
    sea_orm::Statement::from_sql_and_values(backend, text, values)
}

/// The rows of a raw statement written with `?` placeholders ([`statement`]).
pub async fn query_all(
    db: &impl sea_orm::ConnectionTrait,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
    db.query_all_raw(statement(db.get_database_backend(), sql, values))
        .await
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
