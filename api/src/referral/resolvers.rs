//! The `referrals` and `referralCounts` queries, and referrals through `node(id:)`.

use super::gates;
use super::inbox::{self, ReferralQuery};
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
use crate::graphql::enums::stored;
use crate::graphql::relay::NodeKind;
use crate::graphql::relay::{expect_id, expect_opt_id};
use crate::loaders::{Loaders, ReferralById};
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

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
    pub due_before: Option<DateTime<Utc>>,
    /// Only with these priorities.
    pub priorities: Option<Vec<Priority>>,
}

/// Loads a referral for `node(id:)`: only the sender's and receiver's OPERATOR,
/// ORG_ADMIN or client with `referrals:write` see it, others read null. The
/// receiver's first read of a SENT referral marks it RECEIVED.
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
    let rows = mark_received_on_read(loaders.db(), &actor, vec![row]).await?;
    Ok(rows.into_iter().next().map(Referral))
}

/// Referral queries.
#[derive(Default)]
pub struct ReferralQueries;

#[Object]
impl ReferralQueries {
    /// The referrals the caller's organization receives or sends, most urgent first,
    /// then soonest due (no due date last). OPERATOR and ORG_ADMIN of an organization,
    /// or its client with `referrals:write`. Reading SENT referrals in the inbox marks
    /// them RECEIVED.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn referrals(
        &self,
        ctx: &Context<'_>,
        filter: ReferralFilter,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<ReferralConnection> {
        let actor = ctx.actor()?;
        crate::referral::service::acting_organization(&actor.viewer)?;
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let query = ReferralQuery {
            direction: filter.direction.into(),
            statuses: stored(filter.statuses),
            service: expect_opt_id(filter.service.as_ref(), NodeKind::Service)?,
            person: expect_opt_id(filter.person.as_ref(), NodeKind::Person)?,
            due_before: filter.due_before,
            priorities: stored(filter.priorities),
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
        service: ID,
        person: ID,
        #[graphql(default = false)] accept_waitlist: bool,
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
