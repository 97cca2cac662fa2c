//! The statistics, computed by the database: `GROUP BY` over the compact fact table
//! (`referral_fact`, one row per sent referral, kept by [`crate::referral::facts`])
//! and over the catalogue. Per cell, one pass counts every state, acceptance, who
//! declined and every outcome (`COUNT(CASE ..)`), a second the rejected rows by
//! reason; medians and 90th percentiles come from per-cell histograms of whole hours
//! with running sums (`SUM(..) OVER (PARTITION BY .. ORDER BY ..)`, the same SQL on
//! SQLite and PostgreSQL) or, by service type on PostgreSQL, from `percentile_disc`.
//! Only aggregates reach the application, which then decides suppression
//! ([`super::domain::suppress`]).
use super::domain::{self, Granularity, PeriodRange};
use super::types::{ReferralStatisticsDimension as Dimension, StatisticsTerritoryLevel as Level};
use crate::auth::policy;
use crate::auth::viewer::{Role, Viewer, ViewerKind};
use crate::error::{AppError, AppResult};
use chrono::Utc;
use entity::enums::{DeclinedBy, Outcome, ReferralStatus, Taxonomy, TerritoryKind};
use entity::{term, territory};
use sea_orm::{
    AccessMode, ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, EntityTrait, IsolationLevel, Iterable, QueryFilter, QueryResult,
    TransactionTrait, Value,
};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Most rows one answer may have.
pub const MAX_ROWS: usize = 5_000;

/// Whether the caller may read the statistics: REGIONAL_ADMIN always; everyone when
/// `public` (`MELT_STATISTICS_PUBLIC`). Otherwise anonymous callers must
/// authenticate and every other caller is FORBIDDEN.
pub fn may_read(viewer: &Viewer, public: bool) -> AppResult<()> {
    if public || (viewer.kind == ViewerKind::User && viewer.has_role(Role::RegionalAdmin)) {
        Ok(())
    } else {
        Err(policy::deny(
            viewer,
            "only the regional administration may read the statistics",
        ))
    }
}

/// The states a sent referral can be in, in the order rows list them.
pub const SENT_STATES: [ReferralStatus; 10] = [
    ReferralStatus::Sent,
    ReferralStatus::Received,
    ReferralStatus::Accepted,
    ReferralStatus::Rejected,
    ReferralStatus::InProgress,
    ReferralStatus::OnHold,
    ReferralStatus::Completed,
    ReferralStatus::Failed,
    ReferralStatus::Cancelled,
    ReferralStatus::Expired,
];

/// Who may decline, in the order rows list them.
pub const DECLINERS: [DeclinedBy; 2] = [DeclinedBy::Provider, DeclinedBy::Person];

/// The stored kind of a territory level's territories.
fn level_kind(level: Level) -> TerritoryKind {
    match level {
        Level::Region => TerritoryKind::Region,
        Level::HubArea => TerritoryKind::HubArea,
        Level::Zone => TerritoryKind::Zone,
        Level::Province => TerritoryKind::Province,
    }
}

/// The keys of a cell (absent: not grouped by it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Month or quarter index.
    pub period: i32,
    /// Territory of the level (none: the region).
    pub territory: Option<Uuid>,
    /// Service type term.
    pub service_type: Option<Uuid>,
    /// Sender's kind (stored value).
    pub sender: Option<String>,
    /// Receiver's kind (stored value).
    pub receiver: Option<String>,
}

/// Time measures, in the order of [`Tally::durations`].
pub const DURATIONS: [&str; 3] = [
    "receipt_minutes",
    "acceptance_minutes",
    "completion_minutes",
];

/// The aggregates of one cell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Referrals sent.
    pub total: u64,
    /// By state, in the order of [`SENT_STATES`].
    pub states: [u64; 10],
    /// Accepted at some point.
    pub accepted: u64,
    /// Rejections by reason code.
    pub reasons: BTreeMap<String, u64>,
    /// Rejections by who declined, in the order of [`DECLINERS`].
    pub declined: [u64; 2],
    /// Completions by outcome, in the order of `Outcome::iter()`.
    pub outcomes: [u64; 8],
    /// Per time measure: (referrals that reached the step, median hours, p90 hours).
    pub durations: [Option<(u64, i64, i64)>; 3],
}

/// How a question groups: the key columns, the joins they need and their values.
///
/// By service type, the fact rows are first aggregated by service (`sv`), and only
/// those partial counts are joined to the services' types and summed again: the join
/// multiplies a few thousand partial rows rather than every fact row.
struct Shape {
    keys: Vec<(&'static str, &'static str)>,
    joins: String,
    values: Vec<Value>,
    by_service_type: bool,
}

/// The rows a statement groups: the facts `f`; partial rows `i` aggregated by
/// service; the facts joined to their services' types (`st`).
#[derive(Clone, Copy)]
enum Rows {
    Facts,
    Partials,
    FactsByType,
}

/// The join from partial rows (`i`, by service `sv`) to their service types.
const TYPE_JOIN: &str = " JOIN service_term st ON st.service_id = i.sv \
    JOIN term ty ON ty.id = st.term_id AND ty.taxonomy = 'SERVICE_TYPE'";

impl Shape {
    /// The shape's values followed by the first and last month of a `BETWEEN ? AND ?`.
    fn values_between(&self, from: domain::MonthIndex, to: domain::MonthIndex) -> Vec<Value> {
        let mut values = self.values.clone();
        values.push(from.into());
        values.push(to.into());
        values
    }

    fn new(range: &PeriodRange, level: Level, dimensions: &[Dimension]) -> Self {
        let period = match range.granularity {
            Granularity::Month => "f.sent_month",
            Granularity::Quarter => "f.sent_month / 3",
        };
        let mut keys = vec![(period, "p")];
        let mut by_service_type = false;
        let mut joins = String::new();
        let mut values = Vec::new();
        match level {
            Level::Region => {}
            Level::Province => keys.push(("f.province_id", "t")),
            Level::Zone | Level::HubArea => {
                keys.push(("tm.grouping_id", "t"));
                joins.push_str(
                    " JOIN territory_member tm ON tm.municipality_id = f.municipality_id \
                     JOIN territory tg ON tg.id = tm.grouping_id AND tg.kind = ? \
                     AND (tg.valid_from IS NULL OR tg.valid_from <= ?) \
                     AND (tg.valid_to IS NULL OR tg.valid_to >= ?)",
                );
                let today = Utc::now().date_naive();
                values.push(level_kind(level).to_value().into());
                values.push(today.into());
                values.push(today.into());
            }
        }
        for dimension in dimensions {
            match dimension {
                Dimension::ServiceType => {
                    keys.push(("f.service_id", "sv"));
                    by_service_type = true;
                }
                Dimension::SenderKind => keys.push(("f.sender_kind", "sk")),
                Dimension::ReceiverKind => keys.push(("f.receiver_kind", "rk")),
            }
        }
        Self {
            keys,
            joins,
            values,
            by_service_type,
        }
    }

    /// The keys as read from `rows`, each `(expression, alias)`: over partial rows and
    /// over facts joined to the types, the service (`sv`) becomes its type (`ty`).
    fn keys_of(&self, rows: Rows) -> impl Iterator<Item = (String, &'static str)> + '_ {
        self.keys
            .iter()
            .map(move |&(expr, alias)| match (rows, alias) {
                (Rows::Facts, _) => (expr.to_owned(), alias),
                (Rows::Partials | Rows::FactsByType, "sv") => ("st.term_id".to_owned(), "ty"),
                (Rows::Partials, _) => (format!("i.{alias}"), alias),
                (Rows::FactsByType, _) => (expr.to_owned(), alias),
            })
    }

    /// The keys' select list over `rows`.
    fn select(&self, rows: Rows) -> String {
        self.keys_of(rows)
            .map(|(expr, alias)| format!("{expr} AS {alias}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The keys' `GROUP BY` list over `rows`.
    fn group(&self, rows: Rows) -> String {
        self.keys_of(rows)
            .map(|(expr, _)| expr)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The aliases of the answer's keys.
    fn answer_aliases(&self) -> String {
        self.keys_of(Rows::Partials)
            .map(|(_, alias)| alias)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn has(&self, alias: &str) -> bool {
        self.keys
            .iter()
            .any(|(_, a)| *a == alias || (alias == "ty" && *a == "sv"))
    }

    fn key(&self, row: &QueryResult) -> AppResult<Key> {
        Ok(Key {
            period: row.try_get("", "p")?,
            territory: if self.has("t") {
                Some(row.try_get("", "t")?)
            } else {
                None
            },
            service_type: if self.has("ty") {
                Some(row.try_get("", "ty")?)
            } else {
                None
            },
            sender: if self.has("sk") {
                Some(row.try_get("", "sk")?)
            } else {
                None
            },
            receiver: if self.has("rk") {
                Some(row.try_get("", "rk")?)
            } else {
                None
            },
        })
    }
}

/// A consistent, read-only view for one answer: the statements of an answer (counts,
/// reasons, durations, names) read one snapshot, so a referral moving meanwhile
/// cannot make the counts and the durations disagree. `REPEATABLE READ READ ONLY` on
/// PostgreSQL; SQLite's transaction reads one snapshot already.
pub async fn snapshot(db: &DatabaseConnection) -> AppResult<DatabaseTransaction> {
    Ok(if db.get_database_backend() == DatabaseBackend::Postgres {
        db.begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await?
    } else {
        db.begin().await?
    })
}

/// The tallies of every cell of the months `from..=to`, grouped as asked: three
/// statements, all aggregates (counts, rejection reasons, durations).
pub async fn referral_tallies(
    db: &impl ConnectionTrait,
    range: &PeriodRange,
    from: domain::MonthIndex,
    to: domain::MonthIndex,
    level: Level,
    dimensions: &[Dimension],
) -> AppResult<BTreeMap<Key, Tally>> {
    let shape = Shape::new(range, level, dimensions);
    let mut tallies = counts(db, &shape, from, to).await?;
    rejection_reasons(db, &shape, from, to, &mut tallies).await?;
    if db.get_database_backend() == DatabaseBackend::Postgres && shape.by_service_type {
        durations_by_percentiles(db, &shape, from, to, &mut tallies).await?;
    } else {
        durations_by_histograms(db, &shape, from, to, &mut tallies).await?;
    }
    Ok(tallies)
}

/// PostgreSQL's `work_mem` for the counting statement (see [`counts`]).
const COUNT_WORK_MEM: &str = "32MB";

/// One conditional count of a cell: its alias and its condition over the fact `f`.
struct Column {
    alias: String,
    condition: &'static str,
    values: Vec<Value>,
}

/// The counts a tally holds, each a `COUNT(CASE WHEN .. THEN 1 END)` of one pass:
/// states (`s0`..), accepted (`ac`), declined by (`d0`..), outcomes (`o0`..).
fn count_columns() -> Vec<Column> {
    let mut columns: Vec<Column> = SENT_STATES
        .iter()
        .enumerate()
        .map(|(i, state)| Column {
            alias: format!("s{i}"),
            condition: "f.status = ?",
            values: vec![state.to_value().into()],
        })
        .collect();
    columns.push(Column {
        alias: "ac".to_owned(),
        condition: "f.accepted = ?",
        values: vec![true.into()],
    });
    for (i, declined) in DECLINERS.iter().enumerate() {
        columns.push(Column {
            alias: format!("d{i}"),
            condition: "f.status = ? AND f.declined_by = ?",
            values: vec![
                ReferralStatus::Rejected.to_value().into(),
                declined.to_value().into(),
            ],
        });
    }
    for (i, outcome) in Outcome::iter().enumerate() {
        columns.push(Column {
            alias: format!("o{i}"),
            condition: "f.status = ? AND f.outcome = ?",
            values: vec![
                ReferralStatus::Completed.to_value().into(),
                outcome.to_value().into(),
            ],
        });
    }
    columns
}

/// Every count of every cell in one pass over the fact rows: one row per cell.
async fn counts(
    db: &impl ConnectionTrait,
    shape: &Shape,
    from: domain::MonthIndex,
    to: domain::MonthIndex,
) -> AppResult<BTreeMap<Key, Tally>> {
    let columns = count_columns();
    let mut values: Vec<Value> = columns.iter().flat_map(|c| c.values.clone()).collect();
    values.extend(shape.values_between(from, to));
    let mut sql = format!(
        "SELECT {select}, COUNT(*) AS c, {counts} FROM referral_fact f{joins} \
         WHERE f.sent_month BETWEEN ? AND ? GROUP BY {group}",
        select = shape.select(Rows::Facts),
        counts = columns
            .iter()
            .map(|c| format!("COUNT(CASE WHEN {} THEN 1 END) AS {}", c.condition, c.alias))
            .collect::<Vec<_>>()
            .join(", "),
        joins = shape.joins,
        group = shape.group(Rows::Facts),
    );
    if shape.by_service_type {
        sql = format!(
            "SELECT {select}, CAST(SUM(i.c) AS BIGINT) AS c, {sums} FROM ({sql}) i{TYPE_JOIN} \
             GROUP BY {group}",
            select = shape.select(Rows::Partials),
            sums = columns
                .iter()
                .map(|c| format!("CAST(SUM(i.{0}) AS BIGINT) AS {0}", c.alias))
                .collect::<Vec<_>>()
                .join(", "),
            group = shape.group(Rows::Partials),
        );
    }
    let mut tallies = BTreeMap::new();
    // PostgreSQL's default 4 MB makes it sort the fact rows on disk to group them
    // (it expects far more cells than there are); a hash table of the cells fits in
    // a few megabytes more. Only for this statement: the percentiles' sorts run
    // faster in the default's small runs. `SET LOCAL` ends with the transaction.
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        db.execute_unprepared(&format!("SET LOCAL work_mem = '{COUNT_WORK_MEM}'"))
            .await?;
    }
    let rows = crate::db::query_all(db, &sql, values).await?;
    if postgres {
        db.execute_unprepared("SET LOCAL work_mem TO DEFAULT")
            .await?;
    }
    for row in rows {
        let count = |alias: &str| -> AppResult<u64> {
            Ok(u64::try_from(big(&row, alias)?).unwrap_or_default())
        };
        let mut tally = Tally {
            total: count("c")?,
            accepted: count("ac")?,
            ..Tally::default()
        };
        for (i, slot) in tally.states.iter_mut().enumerate() {
            *slot = count(&format!("s{i}"))?;
        }
        for (i, slot) in tally.declined.iter_mut().enumerate() {
            *slot = count(&format!("d{i}"))?;
        }
        for (i, slot) in tally.outcomes.iter_mut().enumerate() {
            *slot = count(&format!("o{i}"))?;
        }
        tallies.insert(shape.key(&row)?, tally);
    }
    Ok(tallies)
}

/// Rejections by reason code, per cell: a pass over the rejected fact rows only.
async fn rejection_reasons(
    db: &impl ConnectionTrait,
    shape: &Shape,
    from: domain::MonthIndex,
    to: domain::MonthIndex,
    tallies: &mut BTreeMap<Key, Tally>,
) -> AppResult<()> {
    let mut values = shape.values_between(from, to);
    values.push(ReferralStatus::Rejected.to_value().into());
    let mut sql = format!(
        "SELECT {select}, f.rejection_reason AS rr, COUNT(*) AS c FROM referral_fact f{joins} \
         WHERE f.sent_month BETWEEN ? AND ? AND f.status = ? AND f.rejection_reason IS NOT NULL \
         GROUP BY {group}, f.rejection_reason",
        select = shape.select(Rows::Facts),
        joins = shape.joins,
        group = shape.group(Rows::Facts),
    );
    if shape.by_service_type {
        sql = format!(
            "SELECT {select}, i.rr AS rr, CAST(SUM(i.c) AS BIGINT) AS c FROM ({sql}) i{TYPE_JOIN} \
             GROUP BY {group}, i.rr",
            select = shape.select(Rows::Partials),
            group = shape.group(Rows::Partials),
        );
    }
    for row in crate::db::query_all(db, &sql, values).await? {
        let reason: String = row.try_get("", "rr")?;
        let count = u64::try_from(big(&row, "c")?).unwrap_or_default();
        if let Some(tally) = tallies.get_mut(&shape.key(&row)?) {
            *tally.reasons.entry(reason).or_default() += count;
        }
    }
    Ok(())
}

/// Medians and 90th percentiles from histograms of whole hours per cell and measure,
/// and their running sums: the nearest-rank median is the first hour whose running
/// count reaches half the cell's, the 90th percentile the first reaching nine tenths.
/// Fast where a cell's histogram folds many referrals into few hours (few cells);
/// the same SQL on both engines.
async fn durations_by_histograms(
    db: &impl ConnectionTrait,
    shape: &Shape,
    from: domain::MonthIndex,
    to: domain::MonthIndex,
    tallies: &mut BTreeMap<Key, Tally>,
) -> AppResult<()> {
    let values = shape.values_between(from, to);
    let histograms = DURATIONS
        .iter()
        .enumerate()
        .map(|(measure, column)| {
            format!(
                "SELECT {measure} AS m, {select}, f.{column} / 60 AS v, COUNT(*) AS c \
                 FROM referral_fact f{joins} \
                 WHERE f.sent_month BETWEEN ? AND ? AND f.{column} IS NOT NULL \
                 GROUP BY {group}, f.{column} / 60",
                select = shape.select(Rows::Facts),
                joins = shape.joins,
                group = shape.group(Rows::Facts),
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let histograms = if shape.by_service_type {
        format!(
            "SELECT i.m AS m, {select}, i.v AS v, CAST(SUM(i.c) AS BIGINT) AS c \
             FROM ({histograms}) i{TYPE_JOIN} GROUP BY i.m, {group}, i.v",
            select = shape.select(Rows::Partials),
            group = shape.group(Rows::Partials),
        )
    } else {
        histograms
    };
    let partition = format!("m, {}", shape.answer_aliases());
    let durations = format!(
        "WITH h AS ({histograms}), \
         w AS (SELECT h.*, \
           CAST(SUM(c) OVER (PARTITION BY {partition} ORDER BY v \
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS running, \
           CAST(SUM(c) OVER (PARTITION BY {partition}) AS BIGINT) AS n \
           FROM h) \
         SELECT {partition}, n, \
           MIN(CASE WHEN running * 2 >= n THEN v END) AS median, \
           MIN(CASE WHEN running * 10 >= n * 9 THEN v END) AS p90 \
         FROM w GROUP BY {partition}, n"
    );
    let mut duration_values = Vec::new();
    for _ in DURATIONS {
        duration_values.extend(values.iter().cloned());
    }
    for row in crate::db::query_all(db, &durations, duration_values).await? {
        let key = shape.key(&row)?;
        let measure: i32 = row.try_get("", "m")?;
        let n: i64 = row.try_get("", "n")?;
        let median: i64 = hours(&row, "median")?;
        let p90: i64 = hours(&row, "p90")?;
        if let (Some(tally), Some(slot)) = (
            tallies.get_mut(&key),
            usize::try_from(measure)
                .ok()
                .filter(|m| *m < DURATIONS.len()),
        ) {
            tally.durations[slot] = Some((u64::try_from(n).unwrap_or_default(), median, p90));
        }
    }
    Ok(())
}

/// The same medians and 90th percentiles by PostgreSQL's ordered-set aggregate
/// `percentile_disc` (nearest rank, as above), all three measures in one pass over
/// the fact rows joined to their services' types. Used by service type, where a
/// cell's histogram hardly folds anything and the histograms of the services would
/// have to be re-added by type: one sort instead of three histograms and two windows.
async fn durations_by_percentiles(
    db: &impl ConnectionTrait,
    shape: &Shape,
    from: domain::MonthIndex,
    to: domain::MonthIndex,
    tallies: &mut BTreeMap<Key, Tally>,
) -> AppResult<()> {
    let values = shape.values_between(from, to);
    let measures = DURATIONS
        .iter()
        .enumerate()
        .map(|(i, column)| {
            format!(
                "COUNT(f.{column}) AS n{i}, \
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY f.{column} / 60) AS median{i}, \
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY f.{column} / 60) AS p90_{i}"
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {select}, {measures} FROM referral_fact f \
         JOIN service_term st ON st.service_id = f.service_id \
         JOIN term ty ON ty.id = st.term_id AND ty.taxonomy = 'SERVICE_TYPE'{joins} \
         WHERE f.sent_month BETWEEN ? AND ? GROUP BY {group}",
        select = shape.select(Rows::FactsByType),
        joins = shape.joins,
        group = shape.group(Rows::FactsByType),
    );
    for row in crate::db::query_all(db, &sql, values).await? {
        let Some(tally) = tallies.get_mut(&shape.key(&row)?) else {
            continue;
        };
        for (i, slot) in tally.durations.iter_mut().enumerate() {
            let n = big(&row, &format!("n{i}"))?;
            if n > 0 {
                *slot = Some((
                    u64::try_from(n).unwrap_or_default(),
                    hours(&row, &format!("median{i}"))?,
                    hours(&row, &format!("p90_{i}"))?,
                ));
            }
        }
    }
    Ok(())
}

/// An hour count (an integer on both engines; PostgreSQL's `int / int` is `int`).
fn hours(row: &QueryResult, column: &str) -> AppResult<i64> {
    row.try_get::<i64>("", column)
        .or_else(|_| row.try_get::<i32>("", column).map(i64::from))
        .map_err(AppError::from)
}

/// A cell of capacity statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Active services.
    pub services: i64,
    /// Those counting places.
    pub counting: i64,
    /// Those with none left.
    pub full: i64,
    /// Open places.
    pub open_places: i64,
    /// People waiting.
    pub waitlisted: i64,
}

/// Capacity of active services by territory of `level` and service type: one
/// aggregate over the distinct (territory, type, service) triples.
pub async fn capacity(
    db: &impl ConnectionTrait,
    level: Level,
) -> AppResult<BTreeMap<(Option<Uuid>, Uuid), Capacity>> {
    let mut values: Vec<Value> = Vec::new();
    let (territory, joins) = match level {
        Level::Region => ("NULL", String::new()),
        Level::Province => (
            "mu.parent_id",
            " JOIN service_area sa ON sa.service_id = s.id \
             JOIN territory mu ON mu.id = sa.municipality_id"
                .to_owned(),
        ),
        Level::Zone | Level::HubArea => {
            let today = Utc::now().date_naive();
            values.push(level_kind(level).to_value().into());
            values.push(today.into());
            values.push(today.into());
            (
                "tm.grouping_id",
                " JOIN service_area sa ON sa.service_id = s.id \
                 JOIN territory_member tm ON tm.municipality_id = sa.municipality_id \
                 JOIN territory tg ON tg.id = tm.grouping_id AND tg.kind = ? \
                 AND (tg.valid_from IS NULL OR tg.valid_from <= ?) \
                 AND (tg.valid_to IS NULL OR tg.valid_to >= ?)"
                    .to_owned(),
            )
        }
    };
    let sql = format!(
        "SELECT d.t AS t, d.ty AS ty, COUNT(*) AS services, COUNT(d.open_places) AS counting, \
         SUM(CASE WHEN d.open_places = 0 THEN 1 ELSE 0 END) AS full_services, \
         COALESCE(SUM(d.open_places), 0) AS open_places, \
         COALESCE(SUM(d.waitlist_length), 0) AS waitlisted \
         FROM (SELECT DISTINCT {territory} AS t, st.term_id AS ty, s.id, s.open_places, \
               s.waitlist_length \
               FROM service s \
               JOIN service_term st ON st.service_id = s.id \
               JOIN term ty ON ty.id = st.term_id AND ty.taxonomy = 'SERVICE_TYPE'{joins} \
               WHERE s.status = 'ACTIVE') d \
         GROUP BY d.t, d.ty"
    );
    let mut cells = BTreeMap::new();
    for row in crate::db::query_all(db, &sql, values).await? {
        let territory: Option<Uuid> = if level == Level::Region {
            None
        } else {
            Some(row.try_get("", "t")?)
        };
        let service_type: Uuid = row.try_get("", "ty")?;
        cells.insert(
            (territory, service_type),
            Capacity {
                services: big(&row, "services")?,
                counting: big(&row, "counting")?,
                full: big(&row, "full_services")?,
                open_places: big(&row, "open_places")?,
                waitlisted: big(&row, "waitlisted")?,
            },
        );
    }
    Ok(cells)
}

/// A count or a sum of integers (`bigint` on PostgreSQL, an integer on SQLite).
fn big(row: &QueryResult, column: &str) -> AppResult<i64> {
    Ok(row.try_get::<i64>("", column)?)
}

/// (service type, municipality) pairs no active service covers: municipalities of
/// `within` (every one when `None`), types of `types` (every one when empty).
pub async fn coverage_gaps(
    db: &impl ConnectionTrait,
    types: &[Uuid],
    within: Option<&territory::Model>,
) -> AppResult<Vec<(Uuid, Uuid)>> {
    let mut values: Vec<Value> = Vec::new();
    let mut conditions = String::new();
    if !types.is_empty() {
        conditions.push_str(&format!(
            " AND ty.id IN ({})",
            vec!["?"; types.len()].join(", ")
        ));
        values.extend(types.iter().map(|&t| Value::from(t)));
    }
    if let Some(within) = within {
        match within.kind {
            TerritoryKind::Region => {}
            TerritoryKind::Province => {
                conditions.push_str(" AND m.parent_id = ?");
                values.push(within.id.into());
            }
            TerritoryKind::Municipality => {
                conditions.push_str(" AND m.id = ?");
                values.push(within.id.into());
            }
            TerritoryKind::Zone | TerritoryKind::HubArea => {
                conditions.push_str(
                    " AND m.id IN (SELECT tm.municipality_id FROM territory_member tm \
                     WHERE tm.grouping_id = ?)",
                );
                values.push(within.id.into());
            }
        }
    }
    let sql = format!(
        "SELECT ty.id AS ty, m.id AS mu FROM term ty CROSS JOIN territory m \
         WHERE ty.taxonomy = 'SERVICE_TYPE' AND m.kind = 'MUNICIPALITY'{conditions} \
         AND NOT EXISTS (SELECT 1 FROM service_area sa \
           JOIN service_term st ON st.service_id = sa.service_id AND st.term_id = ty.id \
           JOIN service s ON s.id = sa.service_id AND s.status = 'ACTIVE' \
           WHERE sa.municipality_id = m.id) \
         ORDER BY ty.code, m.code"
    );
    crate::db::query_all(db, &sql, values)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "ty")?, row.try_get("", "mu")?)))
        .collect()
}

/// The SERVICE_TYPE terms by id.
pub async fn service_types(db: &impl ConnectionTrait) -> AppResult<HashMap<Uuid, term::Model>> {
    Ok(term::Entity::find()
        .filter(term::Column::Taxonomy.eq(Taxonomy::ServiceType))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}

/// The territories of a level by id, and the region.
pub async fn territories(
    db: &impl ConnectionTrait,
    level: Level,
) -> AppResult<(territory::Model, HashMap<Uuid, territory::Model>)> {
    let kinds = [TerritoryKind::Region, level_kind(level)];
    let rows = territory::Entity::find()
        .filter(territory::Column::Kind.is_in(kinds))
        .all(db)
        .await?;
    let region = rows
        .iter()
        .find(|t| t.kind == TerritoryKind::Region)
        .cloned()
        .ok_or_else(|| AppError::internal_message("the region is missing".to_owned()))?;
    Ok((region, rows.into_iter().map(|t| (t.id, t)).collect()))
}

/// Where each count of a row sits among its cells: the total, the states, the
/// accepted count, who declined, the outcomes, then the rejection reasons seen in the
/// table.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// The rejection reason codes of the table, sorted.
    pub reasons: Vec<String>,
}

impl Layout {
    /// The referrals sent.
    pub const TOTAL: usize = 0;
    /// Accepted at some point.
    pub const ACCEPTED: usize = 11;

    /// The layout of a table: every reason any of its rows has.
    pub fn of<'a>(tallies: impl IntoIterator<Item = &'a Tally>) -> Self {
        let mut reasons: Vec<String> = tallies
            .into_iter()
            .flat_map(|t| t.reasons.keys().cloned())
            .collect();
        reasons.sort();
        reasons.dedup();
        Self { reasons }
    }

    /// The cell of the `i`-th state of [`SENT_STATES`].
    pub fn state(i: usize) -> usize {
        1 + i
    }

    /// The cell of the `i`-th of [`DECLINERS`].
    pub fn declined(i: usize) -> usize {
        12 + i
    }

    /// The cell of the `i`-th outcome.
    pub fn outcome(i: usize) -> usize {
        14 + i
    }

    /// The cell of the `i`-th reason.
    pub fn reason(i: usize) -> usize {
        22 + i
    }

    /// Cells per row.
    pub fn width(&self) -> usize {
        22 + self.reasons.len()
    }

    /// A row's counts, cell by cell.
    pub fn values(&self, tally: &Tally) -> Vec<u64> {
        let mut values = vec![0; self.width()];
        values[Self::TOTAL] = tally.total;
        for (i, v) in tally.states.iter().enumerate() {
            values[Self::state(i)] = *v;
        }
        values[Self::ACCEPTED] = tally.accepted;
        for (i, v) in tally.declined.iter().enumerate() {
            values[Self::declined(i)] = *v;
        }
        for (i, v) in tally.outcomes.iter().enumerate() {
            values[Self::outcome(i)] = *v;
        }
        for (i, reason) in self.reasons.iter().enumerate() {
            values[Self::reason(i)] = tally.reasons.get(reason).copied().unwrap_or_default();
        }
        values
    }

    /// The lines inside one row whose first cell is their total: the states sum to the
    /// total, reasons and who declined to REJECTED, outcomes to COMPLETED.
    pub fn row_lines(&self) -> Vec<Vec<usize>> {
        let rejected = Self::state(3);
        let completed = Self::state(6);
        let mut states = vec![Self::TOTAL];
        states.extend((0..SENT_STATES.len()).map(Self::state));
        let mut reasons = vec![rejected];
        reasons.extend((0..self.reasons.len()).map(Self::reason));
        let mut declined = vec![rejected];
        declined.extend((0..DECLINERS.len()).map(Self::declined));
        let mut outcomes = vec![completed];
        outcomes.extend((0..8).map(Self::outcome));
        vec![states, reasons, declined, outcomes]
    }
}

/// The key of a row with one dimension taken out: the cells of a line along that
/// dimension share it. Months are lines of their quarter.
fn without(key: &Key, dimension: usize) -> Key {
    let mut key = key.clone();
    match dimension {
        0 => key.period = key.period.div_euclid(3),
        1 => key.territory = None,
        2 => key.service_type = None,
        3 => key.sender = None,
        _ => key.receiver = None,
    }
    key
}

/// Which cells of a table (rows in order, [`Layout::width`] cells each) are
/// suppressed under `k`, with their complements: the row lines of [`Layout`] and, for
/// every count, the line along each grouping dimension (months along their quarter;
/// nothing along quarters, the years are not published; nothing along the region, it
/// is one territory).
pub fn suppress_table(
    rows: &[(&Key, &Tally)],
    layout: &Layout,
    granularity: Granularity,
    k: u64,
) -> Vec<bool> {
    let width = layout.width();
    let mut values = Vec::with_capacity(rows.len() * width);
    for (_, tally) in rows {
        values.extend(layout.values(tally));
    }
    let mut lines: Vec<Vec<usize>> = Vec::new();
    for row in 0..rows.len() {
        for line in layout.row_lines() {
            lines.push(line.into_iter().map(|c| row * width + c).collect());
        }
    }
    let Some((first, _)) = rows.first() else {
        return Vec::new();
    };
    let dimensions = [
        granularity == Granularity::Month,
        first.territory.is_some(),
        first.service_type.is_some(),
        first.sender.is_some(),
        first.receiver.is_some(),
    ];
    for (dimension, grouped) in dimensions.into_iter().enumerate() {
        if !grouped {
            continue;
        }
        let mut groups: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
        for (row, (key, _)) in rows.iter().enumerate() {
            groups.entry(without(key, dimension)).or_default().push(row);
        }
        for members in groups.values().filter(|m| m.len() > 1) {
            for cell in 0..width {
                lines.push(members.iter().map(|row| row * width + cell).collect());
            }
        }
    }
    domain::suppress(&values, &lines, k)
}

/// Which capacity cells' waiting lists are suppressed: lines along the territories of
/// each type and along the types of each territory.
pub fn suppress_capacity(cells: &[((Option<Uuid>, Uuid), i64)], k: u64) -> Vec<bool> {
    let values: Vec<u64> = cells
        .iter()
        .map(|(_, v)| u64::try_from(*v).unwrap_or_default())
        .collect();
    let mut by_type: BTreeMap<Uuid, Vec<usize>> = BTreeMap::new();
    let mut by_territory: BTreeMap<Option<Uuid>, Vec<usize>> = BTreeMap::new();
    for (i, ((territory, service_type), _)) in cells.iter().enumerate() {
        by_type.entry(*service_type).or_default().push(i);
        by_territory.entry(*territory).or_default().push(i);
    }
    let mut lines: Vec<Vec<usize>> = by_territory.into_values().collect();
    if cells.iter().any(|((t, _), _)| t.is_some()) {
        lines.extend(by_type.into_values());
    }
    domain::suppress(&values, &lines, k)
}
