//! Creating and changing routing rules.

use super::service::{self, RuleData};
use super::types::{RoutingMode, RoutingRule};
use crate::error::GqlResult;
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::relay::{NodeKind, expect_id, expect_opt_id};
use crate::graphql::scalars::Date;
use crate::person::types::Severity;
use async_graphql::{Context, ID, InputObject, Object};

/// What a routing rule says.
#[derive(InputObject)]
pub struct RoutingRuleFields {
    /// Name, for people (at most 200 characters).
    pub name: String,
    /// The protocol it belongs to: it then applies to the assessments of the
    /// protocol's signatories and proposes their services; an administrator of the
    /// protocol's lead organization may set it. Omitted: region-wide (REGIONAL_ADMIN).
    pub protocol: Option<ID>,
    /// The NEED code it answers.
    pub need: String,
    /// The least severity that fires it.
    pub min_severity: Severity,
    /// SERVICE_TYPE codes of the services it proposes (1 to 20).
    pub service_types: Vec<String>,
    /// Only for people living in this territory (a municipality, zone, province...).
    pub territory: Option<ID>,
    /// Only for people of this TARGET_GROUP (by the assessment).
    pub target_group: Option<String>,
    /// Only for people at least this old (0 to 120).
    pub min_age: Option<i32>,
    /// Only for people at most this old (0 to 120).
    pub max_age: Option<i32>,
    /// PROPOSE (drafts) or SEND (the best match at once, else PROPOSE).
    pub mode: RoutingMode,
    /// How many drafts it proposes at most (1 to 10; default 3).
    pub max_proposals: Option<i32>,
    /// Of the rules answering one need, the applicable one of highest priority fires
    /// (-1,000 to 1,000; default 0).
    pub priority: Option<i32>,
    /// First day in force.
    pub valid_from: Option<Date>,
    /// Last day in force.
    pub valid_to: Option<Date>,
}

impl RoutingRuleFields {
    fn into_data(self) -> GqlResult<RuleData> {
        Ok(RuleData {
            name: self.name,
            protocol: expect_opt_id(self.protocol.as_ref(), NodeKind::Protocol)?,
            need: self.need,
            min_severity: self.min_severity.into(),
            service_types: self.service_types,
            territory: expect_opt_id(self.territory.as_ref(), NodeKind::Territory)?,
            target_group: self.target_group,
            min_age: self.min_age,
            max_age: self.max_age,
            mode: self.mode.into(),
            max_proposals: self.max_proposals.unwrap_or(3),
            priority: self.priority.unwrap_or(0),
            valid_from: self.valid_from.map(|d| d.0),
            valid_to: self.valid_to.map(|d| d.0),
        })
    }
}

/// Input of `createRoutingRule`.
#[derive(InputObject)]
pub struct CreateRoutingRuleInput {
    /// The rule.
    pub rule: RoutingRuleFields,
}

/// Input of `updateRoutingRule`: the rule as it should now read.
#[derive(InputObject)]
pub struct UpdateRoutingRuleInput {
    /// The rule.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// The rule's new fields (replacing all of them).
    pub rule: RoutingRuleFields,
}

payload! {
    CreateRoutingRulePayload("createRoutingRule") { routing_rule: RoutingRule, "The rule" }
    UpdateRoutingRulePayload("updateRoutingRule") { routing_rule: RoutingRule, "The rule after the change" }
}

/// Routing rule mutations.
#[derive(Default)]
pub struct RoutingMutations;

#[Object]
impl RoutingMutations {
    /// Creates a routing rule: region-wide by REGIONAL_ADMIN, within a protocol also by
    /// an ORG_ADMIN of its lead organization. Audited.
    async fn create_routing_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateRoutingRuleInput,
    ) -> GqlResult<CreateRoutingRulePayload> {
        let data = input.rule.into_data()?;
        mutate(ctx, async |db, actor| {
            service::create(db, actor, data).await
        })
        .await
    }

    /// Replaces a routing rule's fields (end one by setting `validTo`). For the same
    /// callers as `createRoutingRule`; decisions already taken stay. Audited.
    async fn update_routing_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateRoutingRuleInput,
    ) -> GqlResult<UpdateRoutingRulePayload> {
        let id = expect_id(&input.id, NodeKind::RoutingRule)?;
        let expected = input.expected_version;
        let data = input.rule.into_data()?;
        mutate(ctx, async |db, actor| {
            service::update(db, actor, id, expected, data).await
        })
        .await
    }
}
