//! The caller's inbox and outbox: most urgent first, then soonest due.

use super::lifecycle::{self};
use super::service::acting_organization;
use crate::audit::service::Actor;
use crate::auth::viewer::Viewer;
use crate::error::AppResult;
use crate::pagination::{self, Cursor, KeyKind, Page, Sort, SortKey, Window};
use chrono::{DateTime, TimeZone, Utc};
use entity::enums::{Priority, ReferralStatus};
use entity::referral;
use sea_orm::sea_query::{Alias, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use super::transition::mark_received_on_read;
/// Which referrals of the caller's organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received by it.
    Inbox,
    /// Sent by it.
    Outbox,
}

/// What to list.
#[derive(Clone, Debug)]
pub struct ReferralQuery {
    /// Inbox or outbox.
    pub direction: Direction,
    /// Only these statuses.
    pub statuses: Vec<ReferralStatus>,
    /// Only to this service.
    pub service: Option<Uuid>,
    /// Only of this person.
    pub person: Option<Uuid>,
    /// Only due before this time.
    pub due_before: Option<DateTime<Utc>>,
    /// Only these priorities.
    pub priorities: Vec<Priority>,
}

fn direction_condition(direction: Direction, org: Uuid) -> Condition {
    match direction {
        Direction::Inbox => crate::privacy::access::inbox(org, Utc::now()),
        Direction::Outbox => Condition::all().add(referral::Column::SenderOrganizationId.eq(org)),
    }
}

/// Rank of a priority in an inbox, URGENT first: the value the database stores in the
/// generated column `referral.priority_rank` (migration 7), for cursors.
fn priority_rank(priority: Priority) -> i64 {
    match priority {
        Priority::Urgent => 0,
        Priority::High => 1,
        Priority::Normal => 2,
        Priority::Low => 3,
    }
}

/// The due date of a referral without one, last in an inbox: the value the database
/// stores in the generated column `referral.due_sort` for a null `due_at`.
fn no_due_date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A generated sort column of `referral` (not in the entity: nothing writes it).
fn generated(column: &'static str) -> Expr {
    Expr::col((referral::Entity, Alias::new(column)))
}

/// The inbox/outbox order: priority rank, due date (none last), id.
fn sort() -> Sort<referral::Entity> {
    Sort {
        keys: vec![generated("priority_rank"), generated("due_sort")],
        kinds: vec![KeyKind::Int, KeyKind::Time],
        id: referral::Column::Id,
        descending: false,
        cursor: |row| Cursor {
            keys: vec![
                SortKey::Int(priority_rank(row.priority)),
                SortKey::Time(row.due_at.unwrap_or_else(no_due_date)),
            ],
            id: row.id,
        },
    }
}

/// Lists the caller's inbox or outbox, most urgent first, then soonest due (referrals
/// without a due date last). Reading SENT referrals in the inbox marks them RECEIVED.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    query: &ReferralQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<referral::Model>, u64)> {
    let org = acting_organization(&actor.viewer)?;
    let mut select = referral::Entity::find().filter(direction_condition(query.direction, org));
    if !query.statuses.is_empty() {
        select = select.filter(referral::Column::Status.is_in(query.statuses.clone()));
    }
    if !query.priorities.is_empty() {
        select = select.filter(referral::Column::Priority.is_in(query.priorities.clone()));
    }
    if let Some(service) = query.service {
        select = select.filter(referral::Column::ReceiverServiceId.eq(service));
    }
    if let Some(person) = query.person {
        select = select.filter(referral::Column::PersonId.eq(person));
    }
    if let Some(due_before) = query.due_before {
        select = select.filter(referral::Column::DueAt.lt(due_before));
    }
    let (page, total) = pagination::list(db, select, &sort(), window, with_total).await?;
    if query.direction == Direction::Outbox {
        return Ok((page, total));
    }
    // The receiver has now read these: SENT ones become RECEIVED (their keys stay).
    let (rows, cursors): (Vec<_>, Vec<_>) = page.items.into_iter().unzip();
    let rows = mark_received_on_read(db, actor, rows).await?;
    let items = rows.into_iter().zip(cursors).collect();
    Ok((Page { items, ..page }, total))
}

/// How many referrals of the caller's inbox or outbox are in each status (every
/// status, zeros included, in lifecycle order).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn counts(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    direction: Direction,
) -> AppResult<Vec<(ReferralStatus, u64)>> {
    let org = acting_organization(viewer)?;
    let rows: Vec<(ReferralStatus, i64)> = referral::Entity::find()
        .select_only()
        .column(referral::Column::Status)
        .column_as(Expr::col(referral::Column::Id).count(), "count")
        .filter(direction_condition(direction, org))
        .group_by(referral::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(lifecycle::STATUSES
        .into_iter()
        .map(|status| {
            let count = rows
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            (status, count)
        })
        .collect())
}
