//! Regional statistics: `referral_fact`, one compact row per sent referral with the
//! coded facts the statistics group and aggregate (month sent, the person's
//! municipality and province at sending, receiving service, sender and receiver
//! kinds, state, rejection reason and who declined, outcome, whether it was ever
//! accepted, and the minutes to receipt, acceptance and completion). The API keeps it
//! in the transaction of every transition; this migration fills it from the
//! referrals already sent and their events. No personal values: codes, times and ids.
//!
//! Indexes: the period range every referral statistic filters on, and the receiving
//! service (its types are joined by it). The capacity and coverage statistics read
//! the catalogue through indexes it already has (`service_area(municipality_id)`,
//! `service_term(term_id)`, `service(status)`).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{drop_index, fk, index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Indexes `(table, columns)` this migration adds.
const INDEXES: &[(&str, &[&str])] = &[
    ("referral_fact", &["sent_month"]),
    ("referral_fact", &["service_id"]),
];

/// The expressions of one engine: month index and whole minutes between two times.
struct Dialect {
    month: &'static str,
    minutes_from_sent: fn(&str) -> String,
}

fn sqlite_minutes(to: &str) -> String {
    format!(
        "CAST((julianday(substr({to}, 1, 19)) - julianday(substr(r.sent_at, 1, 19))) * 1440 AS INTEGER)"
    )
}

fn postgres_minutes(to: &str) -> String {
    format!("CAST(floor(extract(epoch from ({to} - r.sent_at)) / 60) AS INTEGER)")
}

const SQLITE: Dialect = Dialect {
    month: "CAST(strftime('%Y', substr(r.sent_at, 1, 19)) AS INTEGER) * 12 \
            + CAST(strftime('%m', substr(r.sent_at, 1, 19)) AS INTEGER) - 1",
    minutes_from_sent: sqlite_minutes,
};

const POSTGRES: Dialect = Dialect {
    month: "CAST(extract(year from r.sent_at AT TIME ZONE 'UTC') * 12 \
            + extract(month from r.sent_at AT TIME ZONE 'UTC') - 1 AS INTEGER)",
    minutes_from_sent: postgres_minutes,
};

/// The first time the referral reached one of `statuses` (an SQL list of literals).
fn first_event(statuses: &str) -> String {
    format!(
        "(SELECT min(e.occurred_at) FROM referral_event e \
         WHERE e.referral_id = r.id AND e.to_status IN ({statuses}))"
    )
}

/// The last rejection event's column.
fn rejection(column: &str) -> String {
    format!(
        "(SELECT e.{column} FROM referral_event e WHERE e.referral_id = r.id \
         AND e.to_status = 'REJECTED' ORDER BY e.occurred_at DESC LIMIT 1)"
    )
}

/// The statement that fills `referral_fact` from the referrals already sent and their
/// events (also what a test compares with the rows the API keeps).
pub fn backfill_sql(backend: sea_orm::DatabaseBackend) -> String {
    backfill(match backend {
        sea_orm::DatabaseBackend::Postgres => &POSTGRES,
        _ => &SQLITE,
    })
}

fn backfill(dialect: &Dialect) -> String {
    let minutes = dialect.minutes_from_sent;
    format!(
        "INSERT INTO referral_fact (referral_id, sent_month, municipality_id, province_id, \
         service_id, sender_kind, receiver_kind, status, rejection_reason, declined_by, \
         outcome, accepted, receipt_minutes, acceptance_minutes, completion_minutes) \
         SELECT r.id, {month}, p.residence_municipality_id, mu.parent_id, \
         r.receiver_service_id, so.kind, ro.kind, r.status, {reason}, {declined}, r.outcome, \
         EXISTS (SELECT 1 FROM referral_event e WHERE e.referral_id = r.id \
                 AND e.to_status = 'ACCEPTED'), \
         {receipt}, {acceptance}, {completion} \
         FROM referral r \
         JOIN person p ON p.id = r.person_id \
         JOIN territory mu ON mu.id = p.residence_municipality_id \
         JOIN organization so ON so.id = r.sender_organization_id \
         JOIN organization ro ON ro.id = r.receiver_organization_id \
         WHERE r.sent_at IS NOT NULL",
        month = dialect.month,
        reason = rejection("reason_code"),
        declined = rejection("declined_by"),
        receipt = minutes(&first_event("'RECEIVED', 'ACCEPTED', 'REJECTED'")),
        acceptance = minutes(&first_event("'ACCEPTED'")),
        completion = minutes(&first_event("'COMPLETED'")),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(n("referral_fact"))
                .col(pk_uuid(n("referral_id")))
                .col(integer(n("sent_month")))
                .col(uuid(n("municipality_id")))
                .col(uuid_null(n("province_id")))
                .col(uuid(n("service_id")))
                .col(string_len(n("sender_kind"), 32))
                .col(string_len(n("receiver_kind"), 32))
                .col(string_len(n("status"), 16))
                .col(string_len_null(n("rejection_reason"), 64))
                .col(string_len_null(n("declined_by"), 16))
                .col(string_len_null(n("outcome"), 32))
                .col(boolean(n("accepted")).default(false))
                .col(integer_null(n("receipt_minutes")))
                .col(integer_null(n("acceptance_minutes")))
                .col(integer_null(n("completion_minutes")))
                .foreign_key(&mut fk(
                    "referral_fact",
                    "referral_id",
                    "referral",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        for (table, columns) in INDEXES {
            m.create_index(index(table, columns, false)).await?;
        }
        m.get_connection()
            .execute_unprepared(&backfill_sql(m.get_database_backend()))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, columns) in INDEXES {
            m.drop_index(drop_index(table, columns)).await?;
        }
        m.drop_table(Table::drop().table(n("referral_fact")).to_owned())
            .await
    }
}
