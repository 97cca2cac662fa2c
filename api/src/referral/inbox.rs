//! The caller's inbox and outbox: most urgent first, then soonest due.

use super::lifecycle::{self};
use super::service::{acting_organization, reading_organization};
use crate::audit::service::Actor;
use crate::auth::viewer::{Viewer, ViewerKind};
use crate::error::{AppError, AppResult};
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
    /// Only changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// The order of the list.
    pub order: ReferralOrder,
    /// The order reversed.
    pub descending: bool,
    /// Reading SENT referrals of the inbox marks them RECEIVED (the caller said so, or
    /// is a person: see [`marks_on_read`]).
    pub mark_received: bool,
}

impl ReferralQuery {
    /// The statuses asked for when the query lists the inbox by status alone (none:
    /// every status): its count is then one the database keeps
    /// ([`crate::tally::inbox`]).
    fn inbox_statuses_only(&self) -> Option<&[ReferralStatus]> {
        let Self {
            direction,
            statuses,
            service,
            person,
            due_before,
            priorities,
            updated_since,
            order: _,
            descending: _,
            mark_received: _,
        } = self;
        let unconditional = *direction == Direction::Inbox
            && service.is_none()
            && person.is_none()
            && due_before.is_none()
            && priorities.is_empty()
            && updated_since.is_none();
        unconditional.then_some(statuses.as_slice())
    }
}

/// Orders of the inbox and the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReferralOrder {
    /// Most urgent first, then soonest due (none last).
    #[default]
    Urgency,
    /// By last change (`updated_at`), then id: how a mirror reads what changed.
    UpdatedAt,
}

/// Whether the caller's read of its inbox marks SENT referrals RECEIVED: `asked` when
/// given, else yes for a person (DESIGN.md: the receiver's first read marks it) and no
/// for a machine client, whose reading never changes state unless it asks. A client
/// asking for it needs `referrals:write` (FORBIDDEN otherwise).
pub fn marks_on_read(viewer: &Viewer, asked: Option<bool>) -> AppResult<bool> {
    let marks = asked.unwrap_or(viewer.kind == ViewerKind::User);
    if marks && viewer.kind == ViewerKind::Client {
        acting_organization(viewer).map_err(|_| {
            AppError::Forbidden(
                "`markReceived: true` changes referrals: it needs the `referrals:write` scope"
                    .to_owned(),
            )
        })?;
    }
    Ok(marks)
}

fn direction_condition(direction: Direction, org: Uuid, now: DateTime<Utc>) -> Condition {
    match direction {
        Direction::Inbox => crate::privacy::access::inbox(org, now),
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

/// The inbox/outbox order: priority rank, due date (none last), id; or by last change.
fn sort(order: ReferralOrder, descending: bool) -> Sort<referral::Entity> {
    if order == ReferralOrder::UpdatedAt {
        return Sort::by(
            referral::Column::UpdatedAt,
            referral::Column::Id,
            descending,
            |row: &referral::Model| Cursor::new(SortKey::Time(row.updated_at), row.id),
        );
    }
    Sort {
        keys: vec![generated("priority_rank"), generated("due_sort")],
        kinds: vec![KeyKind::Int, KeyKind::Time],
        id: referral::Column::Id,
        descending,
        cursor: |row| Cursor {
            keys: vec![
                SortKey::Int(priority_rank(row.priority)),
                SortKey::Time(row.due_at.unwrap_or_else(no_due_date)),
            ],
            id: row.id,
        },
    }
}

/// Lists the caller's inbox or outbox in the query's order. With `mark_received`,
/// reading SENT referrals in the inbox marks them RECEIVED.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    query: &ReferralQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<referral::Model>, u64)> {
    let org = reading_organization(&actor.viewer)?;
    let now = Utc::now();
    let mut select =
        referral::Entity::find().filter(direction_condition(query.direction, org, now));
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
    if let Some(since) = query.updated_since {
        select = select.filter(referral::Column::UpdatedAt.gte(since));
    }
    let sort = sort(query.order, query.descending);
    let (page, total) = match query.inbox_statuses_only().filter(|_| with_total) {
        Some(statuses) => {
            let kept = async { Ok(crate::tally::inbox(db, org, statuses, now).await?) };
            pagination::list_beside(db, select, &sort, window, kept).await?
        }
        None => pagination::list(db, select, &sort, window, with_total).await?,
    };
    if query.direction == Direction::Outbox || !query.mark_received {
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
    let org = reading_organization(viewer)?;
    let now = Utc::now();
    let rows: Vec<(ReferralStatus, u64)> = match direction {
        Direction::Inbox => crate::tally::inbox_by_status(db, org, now).await?,
        Direction::Outbox => {
            let rows: Vec<(ReferralStatus, i64)> = referral::Entity::find()
                .select_only()
                .column(referral::Column::Status)
                .column_as(Expr::col(referral::Column::Id).count(), "count")
                .filter(direction_condition(direction, org, now))
                .group_by(referral::Column::Status)
                .into_tuple()
                .all(db)
                .await?;
            rows.into_iter()
                .map(|(status, n)| (status, u64::try_from(n).unwrap_or(0)))
                .collect()
        }
    };
    Ok(lifecycle::STATUSES
        .into_iter()
        .map(|status| {
            let count = rows
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            (status, count)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::viewer::{Role, scopes};

    fn caller(kind: ViewerKind, scopes: &[&str]) -> Viewer {
        Viewer {
            kind,
            subject: "s".into(),
            organization: Some(Uuid::now_v7()),
            roles: vec![Role::Operator],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            name: None,
        }
    }

    #[test]
    fn a_person_s_read_marks_by_default_and_a_client_s_only_when_it_asks_with_write_power() {
        let person = caller(ViewerKind::User, &[]);
        assert!(marks_on_read(&person, None).unwrap());
        assert!(!marks_on_read(&person, Some(false)).unwrap());
        let reader = caller(ViewerKind::Client, &[scopes::REFERRALS_READ]);
        assert!(!marks_on_read(&reader, None).unwrap());
        assert!(!marks_on_read(&reader, Some(false)).unwrap());
        assert!(matches!(
            marks_on_read(&reader, Some(true)),
            Err(AppError::Forbidden(_))
        ));
        let writer = caller(ViewerKind::Client, &[scopes::REFERRALS_WRITE]);
        assert!(!marks_on_read(&writer, None).unwrap());
        assert!(marks_on_read(&writer, Some(true)).unwrap());
    }
}
