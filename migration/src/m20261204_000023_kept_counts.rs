//! Counts the database keeps instead of recounting on every page: services by status
//! (the public catalogue's `totalCount`) and, for each receiving organization, the
//! referrals of its inbox by status.
//!
//! Triggers on `service` and `referral` append a row `+1` or `-1` to a tally for each
//! row that enters or leaves a count, whatever writes it (the API, a job, a cascade, a
//! hand-written statement), in the writer's own transaction: a count is exact as soon
//! as the change commits. Appending (never updating one row per count) means two
//! writers never wait for each other, nor deadlock, over a count; the periodic jobs fold
//! each count's rows back into one (`api::tally::compact`).
//!
//! The inbox tally holds the referrals the receiver reads with no end to its reading
//! (sent, `receiver_access_until` null). Those whose reading ends in the future are
//! few (closed ones, for the reading period) and time decides when they leave the
//! inbox, so a count adds them from the referrals themselves, through the index this
//! migration adds on `(receiver_organization_id, status, receiver_access_until,
//! sent_at)`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::tables::{drop_index, index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The referrals a receiver reads with no end to its reading: the rows the inbox tally
/// counts (`{row}` is `NEW` or `OLD`).
const COUNTED_REFERRAL: &str = "{row}.sent_at IS NOT NULL AND {row}.receiver_access_until IS NULL";

/// An update that moves a referral between counts (or in or out of them).
const REFERRAL_MOVES: &str = "NOT (OLD.receiver_organization_id = NEW.receiver_organization_id \
     AND OLD.status = NEW.status \
     AND (OLD.sent_at IS NULL) = (NEW.sent_at IS NULL) \
     AND (OLD.receiver_access_until IS NULL) = (NEW.receiver_access_until IS NULL))";

/// The columns the inbox tally depends on.
const REFERRAL_COLUMNS: &str = "receiver_organization_id, status, sent_at, receiver_access_until";

/// The referral's entry in the inbox tally: `(organization, status, n)` of `row`.
fn inbox_entry(row: &str, n: i32) -> String {
    format!(
        "INSERT INTO inbox_tally (organization_id, status, n) \
         SELECT {row}.receiver_organization_id, {row}.status, {n} WHERE {}",
        COUNTED_REFERRAL.replace("{row}", row)
    )
}

/// The service's entry in the service tally.
fn service_entry(row: &str, n: i32) -> String {
    format!("INSERT INTO service_tally (status, n) VALUES ({row}.status, {n})")
}

/// A PostgreSQL trigger function `name` that writes `entry` of the old row (`-1`) when
/// one goes and of the new row (`+1`) when one comes.
fn postgres_function(name: &str, entry: fn(&str, i32) -> String) -> String {
    format!(
        "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF TG_OP <> 'INSERT' THEN {}; END IF; \
           IF TG_OP <> 'DELETE' THEN {}; END IF; \
           RETURN NULL; \
         END $$",
        entry("OLD", -1),
        entry("NEW", 1)
    )
}

/// Statements creating the triggers on PostgreSQL.
fn postgres_triggers() -> Vec<String> {
    vec![
        postgres_function("service_tally_keep", service_entry),
        "CREATE TRIGGER service_tally_rows AFTER INSERT OR DELETE ON service \
         FOR EACH ROW EXECUTE FUNCTION service_tally_keep()"
            .to_owned(),
        "CREATE TRIGGER service_tally_status AFTER UPDATE OF status ON service \
         FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) \
         EXECUTE FUNCTION service_tally_keep()"
            .to_owned(),
        postgres_function("inbox_tally_keep", inbox_entry),
        "CREATE TRIGGER inbox_tally_rows AFTER INSERT OR DELETE ON referral \
         FOR EACH ROW EXECUTE FUNCTION inbox_tally_keep()"
            .to_owned(),
        format!(
            "CREATE TRIGGER inbox_tally_move AFTER UPDATE OF {REFERRAL_COLUMNS} ON referral \
             FOR EACH ROW WHEN ({REFERRAL_MOVES}) EXECUTE FUNCTION inbox_tally_keep()"
        ),
    ]
}

/// Statements creating the triggers on SQLite (one per kind of change: no `TG_OP`).
fn sqlite_triggers() -> Vec<String> {
    vec![
        format!(
            "CREATE TRIGGER service_tally_insert AFTER INSERT ON service BEGIN {}; END",
            service_entry("NEW", 1)
        ),
        format!(
            "CREATE TRIGGER service_tally_delete AFTER DELETE ON service BEGIN {}; END",
            service_entry("OLD", -1)
        ),
        format!(
            "CREATE TRIGGER service_tally_status AFTER UPDATE OF status ON service \
             WHEN OLD.status IS NOT NEW.status BEGIN {}; {}; END",
            service_entry("OLD", -1),
            service_entry("NEW", 1)
        ),
        format!(
            "CREATE TRIGGER inbox_tally_insert AFTER INSERT ON referral BEGIN {}; END",
            inbox_entry("NEW", 1)
        ),
        format!(
            "CREATE TRIGGER inbox_tally_delete AFTER DELETE ON referral BEGIN {}; END",
            inbox_entry("OLD", -1)
        ),
        format!(
            "CREATE TRIGGER inbox_tally_move AFTER UPDATE OF {REFERRAL_COLUMNS} ON referral \
             WHEN {REFERRAL_MOVES} BEGIN {}; {}; END",
            inbox_entry("OLD", -1),
            inbox_entry("NEW", 1)
        ),
    ]
}

/// Statements dropping the triggers (and PostgreSQL's functions).
fn drop_triggers(backend: DatabaseBackend) -> Vec<String> {
    match backend {
        DatabaseBackend::Postgres => vec![
            "DROP FUNCTION IF EXISTS service_tally_keep() CASCADE".to_owned(),
            "DROP FUNCTION IF EXISTS inbox_tally_keep() CASCADE".to_owned(),
        ],
        _ => [
            "service_tally_insert",
            "service_tally_delete",
            "service_tally_status",
            "inbox_tally_insert",
            "inbox_tally_delete",
            "inbox_tally_move",
        ]
        .iter()
        .map(|name| format!("DROP TRIGGER IF EXISTS {name}"))
        .collect(),
    }
}

/// The counts of the rows already there.
const BACKFILL: [&str; 2] = [
    "INSERT INTO service_tally (status, n) SELECT status, COUNT(*) FROM service GROUP BY status",
    "INSERT INTO inbox_tally (organization_id, status, n) \
     SELECT receiver_organization_id, status, COUNT(*) FROM referral \
     WHERE sent_at IS NOT NULL AND receiver_access_until IS NULL \
     GROUP BY receiver_organization_id, status",
];

/// The index that finds the referrals whose reading ends in the future, in the
/// statuses counted: a range on `receiver_access_until` for each status (null, the
/// open referrals, is outside every such range), read from the index alone.
const READING_ENDS: (&str, &[&str]) = (
    "referral",
    &[
        "receiver_organization_id",
        "status",
        "receiver_access_until",
        "sent_at",
    ],
);

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(n("service_tally"))
                .col(string_len(n("status"), 32))
                .col(big_integer(n("n")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("service_tally", &["status", "n"], false))
            .await?;
        m.create_table(
            Table::create()
                .table(n("inbox_tally"))
                .col(uuid(n("organization_id")))
                .col(string_len(n("status"), 16))
                .col(big_integer(n("n")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "inbox_tally",
            &["organization_id", "status", "n"],
            false,
        ))
        .await?;
        let (table, cols) = READING_ENDS;
        m.create_index(index(table, cols, false)).await?;
        let db = m.get_connection();
        for statement in BACKFILL {
            db.execute_unprepared(statement).await?;
        }
        let triggers = match m.get_database_backend() {
            DatabaseBackend::Postgres => postgres_triggers(),
            _ => sqlite_triggers(),
        };
        for statement in triggers {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for statement in drop_triggers(m.get_database_backend()) {
            db.execute_unprepared(&statement).await?;
        }
        let (table, cols) = READING_ENDS;
        m.drop_index(drop_index(table, cols)).await?;
        for table in ["inbox_tally", "service_tally"] {
            m.drop_table(Table::drop().table(n(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
