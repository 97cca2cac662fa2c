//! The caller's inbox and outbox: most urgent first, then soonest due.

use super::lifecycle::{self};
use super::service::acting_organization;
use crate::audit::service::Actor;
use crate::auth::viewer::Viewer;
use crate::error::{AppError, AppResult};
use crate::pagination::{Page, Window};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use entity::enums::{Priority, ReferralStatus};
use entity::referral;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
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

fn priority_rank(priority: Priority) -> i32 {
    match priority {
        Priority::Urgent => 0,
        Priority::High => 1,
        Priority::Normal => 2,
        Priority::Low => 3,
    }
}

fn rank_expr() -> Expr {
    Expr::case(referral::Column::Priority.eq(Priority::Urgent), 0)
        .case(referral::Column::Priority.eq(Priority::High), 1)
        .case(referral::Column::Priority.eq(Priority::Normal), 2)
        .finally(3)
        .into()
}

fn no_due_date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn due_expr() -> Expr {
    Func::coalesce([Expr::col(referral::Column::DueAt), Expr::val(no_due_date())]).into()
}

/// A page request over the inbox/outbox order.
#[derive(Clone, Debug)]
pub struct ListWindow {
    limit: u64,
    backward: bool,
    after: Option<ListCursor>,
    before: Option<ListCursor>,
}

impl ListWindow {
    /// Validates Relay arguments like [`Window::new`], with this list's cursors.
    pub fn new(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> AppResult<Self> {
        let sizes = Window::new(first, None, last, None)?;
        let backward = last.is_some() || (first.is_none() && before.is_some() && after.is_none());
        Ok(Self {
            limit: sizes.limit,
            backward,
            after: after.map(ListCursor::decode).transpose()?,
            before: before.map(ListCursor::decode).transpose()?,
        })
    }
}

/// Position in the inbox/outbox order: priority rank, due date (none last), id.
#[derive(Clone, Debug, PartialEq)]
struct ListCursor {
    rank: i32,
    due: DateTime<Utc>,
    id: Uuid,
}

impl ListCursor {
    fn of(row: &referral::Model) -> Self {
        Self {
            rank: priority_rank(row.priority),
            due: row.due_at.unwrap_or_else(no_due_date),
            id: row.id,
        }
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "r|{}|{}|{}",
            self.rank,
            self.id,
            self.due.to_rfc3339()
        ))
    }

    fn decode(cursor: &str) -> AppResult<Self> {
        let invalid = || AppError::BadUserInput(format!("invalid cursor `{cursor}`"));
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = raw.splitn(4, '|');
        let (Some("r"), Some(rank), Some(id), Some(due)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        Ok(Self {
            rank: rank.parse().map_err(|_| invalid())?,
            id: Uuid::parse_str(id).map_err(|_| invalid())?,
            due: DateTime::parse_from_rfc3339(due)
                .map_err(|_| invalid())?
                .with_timezone(&Utc),
        })
    }

    /// Rows strictly after (`forward`) or before this position.
    fn beyond(&self, forward: bool) -> Condition {
        let (rank, due, id) = (Expr::val(self.rank), Expr::val(self.due), self.id);
        let cmp = |a: Expr, b: Expr| if forward { a.gt(b) } else { a.lt(b) };
        let id_cmp = if forward {
            referral::Column::Id.gt(id)
        } else {
            referral::Column::Id.lt(id)
        };
        Condition::any().add(cmp(rank_expr(), rank.clone())).add(
            Condition::all().add(rank_expr().eq(rank.clone())).add(
                Condition::any()
                    .add(cmp(due_expr(), due.clone()))
                    .add(Condition::all().add(due_expr().eq(due)).add(id_cmp)),
            ),
        )
    }
}

/// Lists the caller's inbox or outbox, most urgent first, then soonest due (referrals
/// without a due date last). Reading SENT referrals in the inbox marks them RECEIVED.
#[tracing::instrument(skip_all)]
pub async fn list<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    query: &ReferralQuery,
    window: &ListWindow,
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
    let total = if with_total {
        select.clone().count(db).await?
    } else {
        0
    };
    let mut paged = select;
    if let Some(after) = &window.after {
        paged = paged.filter(after.beyond(true));
    }
    if let Some(before) = &window.before {
        paged = paged.filter(before.beyond(false));
    }
    let order = if window.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut rows = paged
        .order_by(rank_expr(), order.clone())
        .order_by(due_expr(), order.clone())
        .order_by(referral::Column::Id, order)
        .limit(window.limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > window.limit;
    rows.truncate(usize::try_from(window.limit).unwrap_or(usize::MAX));
    if window.backward {
        rows.reverse();
    }
    let rows = if query.direction == Direction::Inbox {
        mark_received_on_read(db, actor, rows).await?
    } else {
        rows
    };
    let items = rows
        .into_iter()
        .map(|row| {
            let cursor = ListCursor::of(&row).encode();
            (row, cursor)
        })
        .collect();
    let (has_next_page, has_previous_page) = if window.backward {
        (window.before.is_some(), more)
    } else {
        (more, window.after.is_some())
    };
    Ok((
        Page {
            items,
            has_next_page,
            has_previous_page,
        },
        total,
    ))
}

/// How many referrals of the caller's inbox or outbox are in each status (every
/// status, zeros included, in lifecycle order).
#[tracing::instrument(skip_all)]
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
