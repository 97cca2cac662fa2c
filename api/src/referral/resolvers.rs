//! The `referrals` and `referralCounts` queries, and referrals through `node(id:)`.

use super::gates;
use super::inbox::{self, ReferralOrder, ReferralQuery};
use super::service;
use super::transition::mark_received_on_read;
use super::types::{
    Priority, Referral, ReferralConnection, ReferralDirection, ReferralReadiness, ReferralStatus,
    StatusCount,
};
use crate::audit::service::Actor;
use crate::auth::Viewer;
use crate::context::ContextExt;
use crate::error::{AppResult, GqlResult};
use crate::graphql::enums::{OrderDirection, stored};
use crate::graphql::relay::NodeKind;
use crate::graphql::relay::{expect_id, expect_opt_id};
use crate::graphql::scalars::Timestamp;
use crate::loaders::{Loaders, ReferralById};
use crate::pagination::Window;
use async_graphql::{Context, Enum, ID, InputObject, Object};

/// Filter of `referrals`. All given conditions must hold.
#[derive(InputObject)]
pub struct ReferralFilter {
    /// Referrals the caller's organization receives (INBOX) or sends (OUTBOX).
    pub direction: ReferralDirection,
    /// Only in these statuses.
    pub statuses: Option<Vec<ReferralStatus>>,
    /// Only to this service.
    pub service: Option<ID>,
    /// Only of this person.
    pub person: Option<ID>,
    /// Only due before this time.
    pub due_before: Option<Timestamp>,
    /// Only with these priorities.
    pub priorities: Option<Vec<Priority>>,
    /// Only referrals changed at or after this time (inclusive): what a mirror reads
    /// since its last read, with `orderBy: {field: UPDATED_AT}`. Referrals that left
    /// the caller's view are in `tombstones`.
    pub updated_since: Option<Timestamp>,
}

/// Fields referrals can be ordered by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReferralOrderField {
    /// Most urgent first (priority), then soonest due, no due date last.
    #[default]
    Urgency,
    /// Time of the last change (`updatedAt`), then id.
    UpdatedAt,
}

/// Ordering of `referrals`.
#[derive(InputObject, Default)]
pub struct ReferralOrderBy {
    /// The field.
    #[graphql(default)]
    pub field: ReferralOrderField,
    /// The direction (ASC: most urgent first, or oldest change first).
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Loads a referral for `node(id:)`: only the sender's and receiver's OPERATOR,
/// ORG_ADMIN or client with `referrals:read` or `referrals:write` see it, others read
/// null. A person's first read as receiver of a SENT referral marks it RECEIVED; a
/// machine client's read changes nothing (it calls `markReferralReceived`).
pub async fn load_node(
    loaders: &Loaders,
    viewer: &Viewer,
    id: uuid::Uuid,
) -> AppResult<Option<Referral>> {
    let Some(row) = loaders.0.load_one(ReferralById(id)).await? else {
        return Ok(None);
    };
    if !service::is_visible_to(viewer, &row) {
        return Ok(None);
    }
    let actor = Actor {
        viewer: viewer.clone(),
        request_id: None,
    };
    if !inbox::marks_on_read(viewer, None)? {
        return Ok(Some(Referral(row)));
    }
    let rows = mark_received_on_read(loaders.db(), &actor, vec![row]).await?;
    Ok(rows.into_iter().next().map(Referral))
}

/// Referral queries.
#[derive(Default)]
pub struct ReferralQueries;

#[Object]
impl ReferralQueries {
    /// The referrals the caller's organization receives or sends, most urgent first,
    /// then soonest due (no due date last), or by last change (`orderBy`).
    /// OPERATOR and ORG_ADMIN of an organization, or its client with `referrals:read`
    /// or `referrals:write`. Whether reading SENT referrals of the inbox marks them
    /// RECEIVED is `markReceived`.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn referrals(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which referrals: the direction is required, the other conditions narrow it."
        )]
        filter: ReferralFilter,
        #[graphql(desc = "The order (default: most urgent first).")] order_by: Option<
            ReferralOrderBy,
        >,
        #[graphql(
            desc = "Whether reading the SENT referrals of this inbox page marks them RECEIVED. Default: true for people (OPERATOR, ORG_ADMIN), false for machine clients, whose reading never changes state unless they ask; a client passing true needs `referrals:write` (FORBIDDEN otherwise). Ignored for the outbox."
        )]
        mark_received: Option<bool>,
        #[graphql(
            desc = "Return at most this many items from the start of the list (1 to 100), with `after`."
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the items after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
        #[graphql(
            desc = "Return at most this many items from the end of the list (1 to 100), with `before`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Return the items before this cursor (an edge's `cursor`).")]
        before: Option<String>,
    ) -> GqlResult<ReferralConnection> {
        let actor = ctx.actor()?;
        service::reading_organization(&actor.viewer)?;
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let order_by = order_by.unwrap_or_default();
        let query = ReferralQuery {
            direction: filter.direction.into(),
            statuses: stored(filter.statuses),
            service: expect_opt_id(filter.service.as_ref(), NodeKind::Service)?,
            person: expect_opt_id(filter.person.as_ref(), NodeKind::Person)?,
            due_before: filter.due_before.map(Into::into),
            priorities: stored(filter.priorities),
            updated_since: filter.updated_since.map(Into::into),
            order: match order_by.field {
                ReferralOrderField::Urgency => ReferralOrder::Urgency,
                ReferralOrderField::UpdatedAt => ReferralOrder::UpdatedAt,
            },
            descending: order_by.direction == OrderDirection::Desc,
            mark_received: inbox::marks_on_read(&actor.viewer, mark_received)?,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = inbox::list(db, &actor, &query, &window, with_total).await?;
        Ok(ReferralConnection::from_page(page, total))
    }

    /// Every gate that would refuse sending the caller's organization's record of
    /// `person` to `service` today (service ACTIVE, area, age range, open places,
    /// consent, protocol), without sending anything. For the same callers as
    /// `createReferral`; NOT_FOUND when the organization holds no record of the person.
    async fn referral_readiness(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ID of the service the person would be referred to.")] service: ID,
        #[graphql(desc = "Global ID of the caller's organization's record of the person.")]
        person: ID,
        #[graphql(
            default = false,
            desc = "Whether the caller would send with `acceptWaitlist` (no open place is then no refusal)."
        )]
        accept_waitlist: bool,
    ) -> GqlResult<ReferralReadiness> {
        let service = expect_id(&service, NodeKind::Service)?;
        let person = expect_id(&person, NodeKind::Person)?;
        let actor = ctx.actor()?;
        let gates = gates::readiness(ctx.db()?, &actor, service, person, accept_waitlist).await?;
        Ok(gates.into())
    }

    /// How many referrals of the caller's inbox or outbox are in each status (every
    /// status, zeros included).
    async fn referral_counts(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Count the referrals the caller's organization receives (INBOX) or sends (OUTBOX)."
        )]
        direction: ReferralDirection,
    ) -> GqlResult<Vec<StatusCount>> {
        let db = ctx.db()?;
        let viewer = ctx.viewer()?;
        let counts = inbox::counts(db, viewer, direction.into()).await?;
        Ok(counts
            .into_iter()
            .map(|(status, count)| StatusCount {
                status: status.into(),
                count,
            })
            .collect())
    }
}
