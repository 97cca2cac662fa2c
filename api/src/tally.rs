//! Counts the database keeps (migration 23): services by status, and each receiving
//! organization's inbox by status. Triggers append `+1`/`-1` rows to a tally in the
//! writer's transaction, so a count read here is exact; [`compact`] folds each count's
//! rows back into one, so that reading one stays a handful of index entries whatever
//! the size of the catalogue or the inbox.
//!
//! The inbox tally holds the referrals read with no end to their reading; those whose
//! reading ends in the future are added from the referrals themselves (few: closed
//! ones within their reading period), so time needs no job to keep a count right.

use chrono::{DateTime, Utc};
use entity::enums::{ReferralStatus, ServiceStatus};
use entity::referral;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement, UnionType};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, DeriveIden, QueryResult,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

/// The service tally: one or more rows per status whose `n` add up to the services in
/// that status.
#[derive(DeriveIden)]
enum ServiceTally {
    Table,
    Status,
    N,
}

/// The inbox tally: rows per (receiving organization, status) whose `n` add up to the
/// referrals it reads with no end to their reading.
#[derive(DeriveIden)]
enum InboxTally {
    Table,
    OrganizationId,
    Status,
    N,
}

/// Name of the column of counted rows in [`inbox_rows`].
const N: &str = "n";

/// `CAST(COALESCE(SUM(n), 0) AS BIGINT)`: PostgreSQL's sum of bigints is a numeric.
fn sum_of(column: Expr) -> Expr {
    Func::coalesce([column.sum(), Expr::val(0)]).cast_as(Alias::new("BIGINT"))
}

/// The count in the first column of `row` (none: 0).
fn count_in(row: Option<QueryResult>) -> Result<u64, DbErr> {
    let n: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Reads the one count `select` returns.
async fn one(db: &impl ConnectionTrait, select: &SelectStatement) -> Result<u64, DbErr> {
    count_in(db.query_one(select).await?)
}

/// Services in any of `statuses` (every service when empty).
pub async fn services(db: &impl ConnectionTrait, statuses: &[ServiceStatus]) -> Result<u64, DbErr> {
    let mut select = Query::select();
    select
        .expr(sum_of(Expr::col(ServiceTally::N)))
        .from(ServiceTally::Table);
    if !statuses.is_empty() {
        select.and_where(
            Expr::col(ServiceTally::Status).is_in(statuses.iter().map(ActiveEnum::to_value)),
        );
    }
    one(db, &select).await
}

/// The rows `(status, n)` that add up to `organization`'s inbox at `now` in any of
/// `statuses` (all when empty): its tally, and a 1 for each referral whose reading ends
/// after `now`. The same rule as `privacy::access::inbox`.
fn inbox_rows(
    organization: Uuid,
    statuses: &[ReferralStatus],
    now: DateTime<Utc>,
) -> SelectStatement {
    let values: Vec<String> = statuses.iter().map(ActiveEnum::to_value).collect();
    let mut kept = Query::select();
    kept.column(InboxTally::Status)
        .expr_as(Expr::col(InboxTally::N), Alias::new(N))
        .from(InboxTally::Table)
        .and_where(Expr::col(InboxTally::OrganizationId).eq(organization));
    let mut ending = Query::select();
    ending
        .column(referral::Column::Status)
        .expr_as(Expr::val(1i64), Alias::new(N))
        .from(referral::Entity)
        .and_where(referral::Column::ReceiverOrganizationId.eq(organization))
        .and_where(referral::Column::ReceiverAccessUntil.gt(now))
        .and_where(referral::Column::SentAt.is_not_null());
    if !values.is_empty() {
        kept.and_where(Expr::col(InboxTally::Status).is_in(values.clone()));
        ending.and_where(Expr::col(referral::Column::Status).is_in(values));
    }
    kept.union(UnionType::All, ending).to_owned()
}

/// The referrals of `organization`'s inbox at `now` in any of `statuses` (all when
/// empty).
pub async fn inbox(
    db: &impl ConnectionTrait,
    organization: Uuid,
    statuses: &[ReferralStatus],
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let select = Query::select()
        .expr(sum_of(Expr::col(Alias::new(N))))
        .from_subquery(inbox_rows(organization, statuses, now), Alias::new("t"))
        .to_owned();
    one(db, &select).await
}

/// `organization`'s inbox at `now` by status (statuses without referrals absent).
pub async fn inbox_by_status(
    db: &impl ConnectionTrait,
    organization: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<(ReferralStatus, u64)>, DbErr> {
    let status = Alias::new("status");
    let select = Query::select()
        .column(status.clone())
        .expr(sum_of(Expr::col(Alias::new(N))))
        .from_subquery(inbox_rows(organization, &[], now), Alias::new("t"))
        .group_by_col(status)
        .to_owned();
    let mut counts = Vec::new();
    for row in db.query_all(&select).await? {
        let status: String = row.try_get_by_index(0)?;
        let n: i64 = row.try_get_by_index(1)?;
        let status = ReferralStatus::try_from_value(&status)?;
        counts.push((status, u64::try_from(n).unwrap_or(0)));
    }
    Ok(counts)
}

/// Folds the rows of every count that has more than one into one (none where they add
/// up to zero); returns how many rows it removed. Safe beside writers and beside
/// another replica compacting: on PostgreSQL each table in one statement (the rows it
/// deletes are the ones it adds up; rows written meanwhile stay for the next run), on
/// SQLite in one write transaction (writers wait for it).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn compact<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<u64, DbErr> {
    let mut removed = 0;
    for (table, key) in [
        ("service_tally", "status"),
        ("inbox_tally", "organization_id, status"),
    ] {
        removed += match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                let sql = format!(
                    "WITH gone AS (DELETE FROM {table} WHERE ({key}) IN \
                     (SELECT {key} FROM {table} GROUP BY {key} HAVING COUNT(*) > 1) \
                     RETURNING {key}, n), \
                     kept AS (INSERT INTO {table} ({key}, n) SELECT {key}, SUM(n) FROM gone \
                     GROUP BY {key} HAVING SUM(n) <> 0 RETURNING 1) \
                     SELECT (SELECT COUNT(*) FROM gone) - (SELECT COUNT(*) FROM kept)"
                );
                count_in(
                    db.query_one_raw(sea_orm::Statement::from_string(
                        DatabaseBackend::Postgres,
                        sql,
                    ))
                    .await?,
                )?
            }
            _ => {
                let txn = db.begin().await?;
                // A write first, so that the transaction holds SQLite's one write lock
                // before it reads: no row can arrive between the sums and the deletes.
                txn.execute_unprepared(&format!("DELETE FROM {table} WHERE n = 0"))
                    .await?;
                let before = txn
                    .execute_unprepared(&format!(
                        "INSERT INTO {table} ({key}, n) SELECT {key}, SUM(n) FROM {table} \
                         GROUP BY {key} HAVING COUNT(*) > 1"
                    ))
                    .await?
                    .rows_affected();
                let gone = txn
                    .execute_unprepared(&format!(
                        "DELETE FROM {table} WHERE rowid < (SELECT MAX(rowid) FROM {table}) - {before} + 1 \
                         AND ({key}) IN (SELECT {key} FROM {table} GROUP BY {key} HAVING COUNT(*) > 1)"
                    ))
                    .await?
                    .rows_affected();
                let zeros = txn
                    .execute_unprepared(&format!("DELETE FROM {table} WHERE n = 0"))
                    .await?
                    .rows_affected();
                txn.commit().await?;
                (gone + zeros).saturating_sub(before)
            }
        };
    }
    Ok(removed)
}
