//! Individual plan mutations, by the organization that leads the plan (its OPERATOR or
//! ORG_ADMIN users, or its clients with `persons:write`): the plan and its goals,
//! actions, reviews, the person's agreement and the closing. Actions move with their
//! referrals (`createReferral.planAction`).

use super::service::{self, Agreement, NewAction, NewGoal, NewPlan, NewReview};
use super::types::{IndividualPlan, PlanAction, PlanActionStatus};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::relay::{NodeKind, expect_id};
use crate::graphql::scalars::Date;
use crate::referral::types::Outcome;
use async_graphql::{Context, ID, InputObject, Object};

/// A goal of a new individual plan.
#[derive(InputObject)]
pub struct PlanGoalInput {
    /// A PLAN_GOAL code (`terms(taxonomy: PLAN_GOAL)`), once per plan.
    pub goal: String,
    /// What the goal means for the person (at most 4,000 characters; encrypted; read by
    /// the organizations performing actions for it).
    pub description: Option<String>,
    /// When it should be reached.
    pub target_on: Option<Date>,
}

/// A new individual plan on the caller's organization's own record of a person.
#[derive(InputObject)]
pub struct CreateIndividualPlanInput {
    /// The person's record (the caller's organization's own).
    pub person: ID,
    /// First day (today when omitted).
    pub starts_on: Option<Date>,
    /// The goals, in order (1 to 20).
    pub goals: Vec<PlanGoalInput>,
}

/// A new action of an individual plan.
#[derive(InputObject)]
pub struct AddPlanActionInput {
    /// The plan (ACTIVE).
    pub plan: ID,
    /// The plan's `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// The PLAN_GOAL code of the plan's goal the action serves.
    pub goal: String,
    /// The service (ACTIVE) that performs it; its provider takes part in the plan once
    /// a referral for the action is sent.
    pub service: ID,
    /// What is to be done (at most 4,000 characters; encrypted).
    pub description: Option<String>,
    /// First day.
    pub starts_on: Option<Date>,
    /// Last day; not before `startsOn`.
    pub ends_on: Option<Date>,
}

/// Sets the status of an action no open referral follows.
#[derive(InputObject)]
pub struct SetPlanActionStatusInput {
    /// The action.
    pub id: ID,
    /// The action's `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// DONE, CANCELLED or PLANNED (the other statuses follow the action's referral).
    pub status: PlanActionStatus,
    /// How it ended: give it with DONE only.
    pub outcome: Option<Outcome>,
}

/// A review of an individual plan.
#[derive(InputObject)]
pub struct RecordPlanReviewInput {
    /// The plan (ACTIVE).
    pub plan: ID,
    /// The plan's `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// The day of the review (today when omitted; not in the future).
    pub reviewed_on: Option<Date>,
    /// What the review found (at most 4,000 characters; encrypted).
    pub notes: String,
    /// When the next review is due; not before `reviewedOn`.
    pub next_review_on: Option<Date>,
}

/// The person's agreement to an individual plan.
#[derive(InputObject)]
pub struct RecordPlanAgreementInput {
    /// The plan (ACTIVE).
    pub plan: ID,
    /// The plan's `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// The day the person signed (not in the future, not before the plan starts).
    pub signed_on: Date,
    /// Where the signed document is kept: a reference in your records (at most 1,000
    /// characters; encrypted).
    pub evidence: String,
}

/// Closes an individual plan.
#[derive(InputObject)]
pub struct CloseIndividualPlanInput {
    /// The plan (ACTIVE).
    pub plan: ID,
    /// The plan's `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// Why (at most 4,000 characters; encrypted).
    pub note: Option<String>,
}

payload! {
    CreateIndividualPlanPayload("createIndividualPlan") { plan: IndividualPlan, "The new plan" }
    AddPlanActionPayload("addPlanAction") { action: PlanAction, "The new action" }
    SetPlanActionStatusPayload("setPlanActionStatus") {
        action: PlanAction, "The action after the change"
    }
    RecordPlanReviewPayload("recordPlanReview") { plan: IndividualPlan, "The plan reviewed" }
    RecordPlanAgreementPayload("recordPlanAgreement") {
        plan: IndividualPlan, "The plan with the agreement"
    }
    CloseIndividualPlanPayload("closeIndividualPlan") { plan: IndividualPlan, "The closed plan" }
}

fn plan_id(id: &ID) -> crate::error::AppResult<uuid::Uuid> {
    expect_id(id, NodeKind::IndividualPlan)
}

/// Individual plan mutations.
#[derive(Default)]
pub struct PlanMutations;

#[Object]
impl PlanMutations {
    /// Creates an ACTIVE individual plan with its goals on the caller's organization's
    /// own record of a person (one active plan per record).
    async fn create_individual_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateIndividualPlanInput,
    ) -> GqlResult<CreateIndividualPlanPayload> {
        let new = NewPlan {
            person: expect_id(&input.person, NodeKind::Person)?,
            starts_on: input.starts_on.map(|d| d.0),
            goals: input
                .goals
                .into_iter()
                .map(|g| NewGoal {
                    code: g.goal,
                    description: g.description,
                    target_on: g.target_on.map(|d| d.0),
                })
                .collect(),
        };
        let protection = ctx.protection()?;
        mutate(ctx, async |db, actor| {
            service::create(db, protection, actor, new).await
        })
        .await
    }

    /// Adds an action to an individual plan the caller's organization leads.
    async fn add_plan_action(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: AddPlanActionInput,
    ) -> GqlResult<AddPlanActionPayload> {
        let plan = plan_id(&input.plan)?;
        let new = NewAction {
            goal: input.goal,
            service: expect_id(&input.service, NodeKind::Service)?,
            description: input.description,
            starts_on: input.starts_on.map(|d| d.0),
            ends_on: input.ends_on.map(|d| d.0),
        };
        let expected = input.expected_version;
        let protection = ctx.protection()?;
        mutate(ctx, async |db, actor| {
            service::add_action(db, protection, actor, plan, expected, new).await
        })
        .await
    }

    /// Sets the status of an action that no open referral follows (work the lead does
    /// itself, or an action dropped).
    async fn set_plan_action_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: SetPlanActionStatusInput,
    ) -> GqlResult<SetPlanActionStatusPayload> {
        let id = expect_id(&input.id, NodeKind::PlanAction)?;
        let (expected, status, outcome) = (
            input.expected_version,
            input.status.into(),
            input.outcome.map(Into::into),
        );
        mutate(ctx, async |db, actor| {
            service::set_action_status(db, actor, id, expected, status, outcome).await
        })
        .await
    }

    /// Records a review of an individual plan the caller's organization leads.
    async fn record_plan_review(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RecordPlanReviewInput,
    ) -> GqlResult<RecordPlanReviewPayload> {
        let plan = plan_id(&input.plan)?;
        let expected = input.expected_version;
        let review = NewReview {
            reviewed_on: input.reviewed_on.map(|d| d.0),
            notes: input.notes,
            next_review_on: input.next_review_on.map(|d| d.0),
        };
        let protection = ctx.protection()?;
        mutate(ctx, async |db, actor| {
            service::record_review(db, protection, actor, plan, expected, review).await
        })
        .await
    }

    /// Records the person's agreement to an individual plan the caller's organization
    /// leads (again: replaces it).
    async fn record_plan_agreement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RecordPlanAgreementInput,
    ) -> GqlResult<RecordPlanAgreementPayload> {
        let plan = plan_id(&input.plan)?;
        let expected = input.expected_version;
        let agreement = Agreement {
            signed_on: input.signed_on.0,
            evidence: input.evidence,
        };
        let protection = ctx.protection()?;
        mutate(ctx, async |db, actor| {
            service::record_agreement(db, protection, actor, plan, expected, agreement).await
        })
        .await
    }

    /// Closes an individual plan the caller's organization leads; its PLANNED actions
    /// are CANCELLED.
    async fn close_individual_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CloseIndividualPlanInput,
    ) -> GqlResult<CloseIndividualPlanPayload> {
        let plan = plan_id(&input.plan)?;
        let expected = input.expected_version;
        let protection = ctx.protection()?;
        mutate(ctx, async |db, actor| {
            service::close(db, protection, actor, plan, expected, input.note).await
        })
        .await
    }
}
