//! GraphQL types of routing: rules and the decisions they took.

use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::Severity;
use crate::graphql::enums::mirror_enum;
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Date;
use crate::graphql::scalars::Timestamp;
use crate::loaders::{ProtocolById, TerritoryById};
use crate::protocol::types::Protocol;
use crate::territory::types::Territory;
use async_graphql::{Context, ID, Object};
use entity::routing_rule;

mirror_enum!(
    /// What a routing rule does with its best matches.
    RoutingMode => entity::enums::RoutingMode {
        /// Creates draft referrals (AUTOMATED_RULE) to the best matches for an
        /// operator to confirm and send.
        Propose,
        /// Sends a referral to the best match at once where every gate allows it
        /// (protocol, consent, area, eligibility, places); else falls back to PROPOSE
        /// and says why.
        Send,
    }
);

/// A routing rule: when a need at or above a severity is assessed for a person who
/// meets its conditions, it proposes or sends referrals to services of its types,
/// ranked by `matchServices`' score.
#[derive(Clone, Debug)]
pub struct RoutingRule(pub routing_rule::Model);

impl From<routing_rule::Model> for RoutingRule {
    fn from(model: routing_rule::Model) -> Self {
        Self(model)
    }
}

/// A routing rule: when a need at or above a severity is assessed for a person who
/// meets its conditions, it proposes or sends referrals to services of its types.
#[Object]
impl RoutingRule {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::RoutingRule, self.0.id)
    }
    /// Name, for people.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The protocol it belongs to (it applies to its signatories' assessments and
    /// proposes its signatories' services); null: region-wide.
    async fn protocol(&self, ctx: &Context<'_>) -> GqlResult<Option<Protocol>> {
        let Some(id) = self.0.protocol_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(ProtocolById(id)).await
    }
    /// The NEED code it answers.
    async fn need(&self) -> &str {
        &self.0.need_code
    }
    /// The least severity that fires it.
    async fn min_severity(&self) -> Severity {
        self.0.min_severity.into()
    }
    /// SERVICE_TYPE codes of the services it proposes.
    async fn service_types(&self) -> Vec<String> {
        self.0
            .service_types
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
    /// Only for people living in this territory.
    async fn territory(&self, ctx: &Context<'_>) -> GqlResult<Option<Territory>> {
        let Some(id) = self.0.territory_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(TerritoryById(id)).await
    }
    /// Only for people of this TARGET_GROUP (by the assessment).
    async fn target_group(&self) -> Option<&str> {
        self.0.target_group.as_deref()
    }
    /// Only for people at least this old (a record without birth date does not match).
    async fn min_age(&self) -> Option<i32> {
        self.0.min_age
    }
    /// Only for people at most this old (a record without birth date does not match).
    async fn max_age(&self) -> Option<i32> {
        self.0.max_age
    }
    /// PROPOSE or SEND.
    async fn mode(&self) -> RoutingMode {
        self.0.mode.into()
    }
    /// How many drafts it proposes at most.
    async fn max_proposals(&self) -> i32 {
        self.0.max_proposals
    }
    /// Of the rules answering one need, the applicable one of highest priority fires.
    async fn priority(&self) -> i32 {
        self.0.priority
    }
    /// First day in force (null: from its creation).
    async fn valid_from(&self) -> Option<Date> {
        self.0.valid_from.map(Date)
    }
    /// Last day in force (null: open-ended).
    async fn valid_to(&self) -> Option<Date> {
        self.0.valid_to.map(Date)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// When it was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

crate::connection!(
    RoutingRuleConnection,
    RoutingRuleEdge,
    RoutingRule,
    "routing rules"
);
