//! GraphQL types of the routing decisions an assessment caused: part of the
//! assessing organization's record of the person, read through
//! `NeedsAssessment.routingDecisions` by that organization alone.

use crate::catalogue::types::Service;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::mirror_enum;
use crate::graphql::scalars::Timestamp;
use crate::loaders::{ReferralById, RoutingRuleById, ServiceById};
use crate::referral::types::Referral;
use crate::routing::evaluate::Considered;
use crate::routing::types::{RoutingMode, RoutingRule};
use crate::validation::FieldErrorCode;
use async_graphql::{Context, Object};
use entity::routing_decision;

mirror_enum!(
    /// What came of a routing rule firing.
    RoutingOutcome => entity::enums::RoutingOutcome {
        /// Draft referrals were created.
        Proposed,
        /// A referral was sent to the best match.
        Sent,
        /// SEND mode, but a gate refused sending: the best match's draft and the
        /// next ones were proposed instead (`reason` names the gates).
        FellBackToPropose,
        /// No service of the rule's types is a candidate (or the residence is unknown).
        NoCandidate,
        /// A referral the rule created for the person is still open: nothing new.
        AlreadyOpen,
    }
);

/// A service a rule considered.
#[derive(Clone, Debug)]
pub struct ConsideredService(pub Considered);

/// A service a rule considered: its score and rank, or the gates that excluded it.
#[Object]
impl ConsideredService {
    /// The service.
    async fn service(&self, ctx: &Context<'_>) -> GqlResult<Option<Service>> {
        ctx.loaders()?.one(ServiceById(self.0.service)).await
    }
    /// Its score when the rule fired.
    async fn score(&self) -> f64 {
        self.0.score
    }
    /// Its rank among the candidates (from 1); null when excluded.
    async fn rank(&self) -> Option<u32> {
        self.0.rank
    }
    /// A referral was created to it.
    async fn chosen(&self) -> bool {
        self.0.chosen
    }
    /// The gates that excluded it (none for a candidate).
    async fn excluded_by(&self) -> &[FieldErrorCode] {
        &self.0.excluded
    }
}

/// What a routing rule decided when an assessment fired it.
#[derive(Clone, Debug)]
pub struct RoutingDecision(pub routing_decision::Model);

/// What a routing rule decided when an assessment fired it: which services it
/// considered, which it chose, why the others were not.
#[Object]
impl RoutingDecision {
    /// The rule that fired.
    async fn rule(&self, ctx: &Context<'_>) -> GqlResult<Option<RoutingRule>> {
        ctx.loaders()?.one(RoutingRuleById(self.0.rule_id)).await
    }
    /// The need it answered.
    async fn need(&self) -> &str {
        &self.0.need_code
    }
    /// The rule's mode when it fired.
    async fn mode(&self) -> RoutingMode {
        self.0.mode.into()
    }
    /// What came of it.
    async fn outcome(&self) -> RoutingOutcome {
        self.0.outcome.into()
    }
    /// Why it fell back, found no candidate or proposed nothing new (gate codes first).
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// The services it considered: candidates in rank order (at most 50), then
    /// excluded ones with the gates that excluded them (at most 50).
    async fn considered(&self) -> GqlResult<Vec<ConsideredService>> {
        let considered: Vec<Considered> =
            serde_json::from_str(&self.0.considered).map_err(crate::error::AppError::internal)?;
        Ok(considered.into_iter().map(ConsideredService).collect())
    }
    /// The referrals it created (or, for ALREADY_OPEN, the open ones), as far as the
    /// caller may read them.
    async fn referrals(&self, ctx: &Context<'_>) -> GqlResult<Vec<Referral>> {
        let ids: Vec<ReferralById> = self
            .0
            .referral_ids
            .split_whitespace()
            .filter_map(|id| id.parse().ok())
            .map(ReferralById)
            .collect();
        let viewer = ctx.viewer()?;
        let found = ctx.loaders()?.0.load_many(ids.clone()).await?;
        Ok(ids
            .iter()
            .filter_map(|id| found.get(id))
            .filter(|row| crate::referral::service::is_visible_to(viewer, row))
            .cloned()
            .map(Referral)
            .collect())
    }
    /// When it was taken.
    async fn decided_at(&self) -> Timestamp {
        Timestamp(self.0.decided_at)
    }
}
