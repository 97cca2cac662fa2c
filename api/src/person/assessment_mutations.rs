//! Recording and revising needs assessments.

use super::assessment::{self as service, Assessment, AssessmentData};
use super::types::{NeedsAssessment, Severity};
use crate::context::Actor;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::error::{AppError, AppResult};
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::relay::{NodeKind, expect_id};
use crate::graphql::scalars::Date;
use crate::matching::domain::Weights;
use crate::privacy::access::ReceiverAccess;
use crate::referral::service::Privacy;
use crate::routing::evaluate::Evaluation;
use crate::validation::Checked;
use async_graphql::{Context, ID, InputObject, Object};
use sea_orm::ConnectionTrait;

/// One need and its severity.
#[derive(InputObject, Clone)]
pub struct AssessedNeedInput {
    /// A NEED term code.
    pub need: String,
    /// How severe it is.
    pub severity: Severity,
}

/// Input of `recordNeedsAssessment`.
#[derive(InputObject)]
pub struct RecordNeedsAssessmentInput {
    /// The person: your organization's own record of them.
    pub person: ID,
    /// The needs (at least one, at most 30), each a NEED term code with a severity; a
    /// need named twice keeps its higher severity.
    pub needs: Vec<AssessedNeedInput>,
    /// TARGET_GROUP term codes the person belongs to.
    pub target_groups: Option<Vec<String>>,
    /// Notes (at most 4,000 characters; encrypted at rest).
    pub notes: Option<String>,
    /// The day of the assessment (today when omitted; not in the future).
    pub assessed_on: Option<Date>,
}

/// Input of `reviseNeedsAssessment`: the assessment as it should now read.
#[derive(InputObject)]
pub struct ReviseNeedsAssessmentInput {
    /// The assessment.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// The needs, replacing the old ones.
    pub needs: Vec<AssessedNeedInput>,
    /// The target groups, replacing the old ones.
    pub target_groups: Option<Vec<String>>,
    /// The notes, replacing the old ones (none when omitted).
    pub notes: Option<String>,
    /// The day of the assessment (today when omitted).
    pub assessed_on: Option<Date>,
}

payload! {
    RecordNeedsAssessmentPayload("recordNeedsAssessment") { needs_assessment: NeedsAssessment, "The assessment" }
    ReviseNeedsAssessmentPayload("reviseNeedsAssessment") { needs_assessment: NeedsAssessment, "The assessment after the change" }
}

impl AssessedNeedInput {
    fn into_data(
        needs: Vec<Self>,
        target_groups: Option<Vec<String>>,
        notes: Option<String>,
        assessed_on: Option<Date>,
    ) -> AssessmentData {
        AssessmentData {
            needs: needs
                .into_iter()
                .map(|n| (n.need, n.severity.into()))
                .collect(),
            target_groups: target_groups.unwrap_or_default(),
            notes,
            assessed_on: assessed_on.map(|d| d.0),
        }
    }
}

impl RecordNeedsAssessmentInput {
    /// The person and what the assessment says.
    fn parts(self) -> (ID, AssessmentData) {
        let data = AssessedNeedInput::into_data(
            self.needs,
            self.target_groups,
            self.notes,
            self.assessed_on,
        );
        (self.person, data)
    }
}

impl ReviseNeedsAssessmentInput {
    /// The assessment, the version read, and what it should now say.
    fn parts(self) -> (ID, i32, AssessmentData) {
        let data = AssessedNeedInput::into_data(
            self.needs,
            self.target_groups,
            self.notes,
            self.assessed_on,
        );
        (self.id, self.expected_version, data)
    }
}

/// What evaluating the routing rules needs from the request.
fn routing<'a>(ctx: &'a Context<'_>) -> GqlResult<(Privacy<'a>, Weights)> {
    let settings = ctx.settings()?;
    let privacy = Privacy {
        protection: ctx.protection()?,
        receiver_access: ReceiverAccess::days(settings.receiver_access_days).0,
    };
    let weights = Weights::from_settings(settings).map_err(AppError::internal_message)?;
    Ok((privacy, weights))
}

/// Evaluates a recorded (or revised) assessment against the routing rules, in the
/// same transaction, when the caller may create referrals (its decisions are then
/// read as `NeedsAssessment.routingDecisions`).
async fn evaluate(
    db: &impl ConnectionTrait,
    actor: &Actor,
    privacy: Privacy<'_>,
    weights: &Weights,
    recorded: &Checked<Assessment>,
) -> AppResult<()> {
    let Ok(assessment) = recorded else {
        return Ok(());
    };
    if crate::referral::service::acting_organization(&actor.viewer).is_err() {
        return Ok(());
    }
    let run = Evaluation {
        actor,
        privacy,
        weights,
    };
    crate::routing::evaluate::evaluate(db, run, assessment).await?;
    Ok(())
}

/// Needs assessment mutations.
#[derive(Default)]
pub struct AssessmentMutations;

#[Object]
impl AssessmentMutations {
    /// Records a needs assessment on the caller's organization's own record of a
    /// person: its OPERATOR or ORG_ADMIN (or client with `persons:write`). Codes are
    /// checked against the NEED and TARGET_GROUP taxonomies; notes are encrypted.
    async fn record_needs_assessment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RecordNeedsAssessmentInput,
    ) -> GqlResult<RecordNeedsAssessmentPayload> {
        let (person, data) = input.parts();
        let person = expect_id(&person, NodeKind::Person)?;
        let protection = ctx.protection()?;
        let (privacy, weights) = routing(ctx)?;
        mutate(ctx, async |db, actor| {
            let recorded = service::record(db, protection, actor, person, data).await?;
            evaluate(db, actor, privacy, &weights, &recorded).await?;
            Ok(recorded)
        })
        .await
    }

    /// Revises an assessment of the caller's organization: needs, target groups, notes
    /// and day are replaced.
    async fn revise_needs_assessment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: ReviseNeedsAssessmentInput,
    ) -> GqlResult<ReviseNeedsAssessmentPayload> {
        let (id, expected, data) = input.parts();
        let id = expect_id(&id, NodeKind::NeedsAssessment)?;
        let protection = ctx.protection()?;
        let (privacy, weights) = routing(ctx)?;
        mutate(ctx, async |db, actor| {
            let revised = service::revise(db, protection, actor, id, expected, data).await?;
            evaluate(db, actor, privacy, &weights, &revised).await?;
            Ok(revised)
        })
        .await
    }
}
