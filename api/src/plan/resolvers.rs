//! Individual plan queries.

use super::service;
use super::types::IndividualPlan;
use crate::context::ContextExt;
use crate::error::{AppError, GqlResult};
use crate::graphql::relay::{NodeKind, expect_opt_id};
use async_graphql::{Context, ID, Object};

/// Most plans one answer lists (a record has one active plan and its closed ones).
const MAX_PLANS: usize = 100;

/// Individual plan queries.
#[derive(Default)]
pub struct PlanQueries;

#[Object]
impl PlanQueries {
    /// The individual plans the caller's organization sees, newest first: those of a
    /// person's record (`person`), or the plan whose action a referral started
    /// (`referral`). Give exactly one. For OPERATOR and ORG_ADMIN users and clients with
    /// `persons:write`; the lead reads all of a plan, an organization performing actions
    /// only those actions and their goals, others nothing (an empty list).
    async fn individual_plans(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A person's record: its plans.")] person: Option<ID>,
        #[graphql(desc = "A referral: the plan whose action it started.")] referral: Option<ID>,
    ) -> GqlResult<Vec<IndividualPlan>> {
        let person = expect_opt_id(person.as_ref(), NodeKind::Person)?;
        let referral = expect_opt_id(referral.as_ref(), NodeKind::Referral)?;
        if person.is_some() == referral.is_some() {
            return Err(AppError::BadUserInput(
                "give exactly one of `person` and `referral`".to_owned(),
            )
            .into());
        }
        let organization = crate::privacy::access::working_organization(ctx.viewer()?)?;
        let mut plans = service::visible(ctx.db()?, organization, person, referral).await?;
        plans.truncate(MAX_PLANS);
        Ok(plans.into_iter().map(IndividualPlan).collect())
    }
}
