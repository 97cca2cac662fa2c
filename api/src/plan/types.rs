//! GraphQL types of individual plans. Every field checks how the caller sees the plan
//! (the rule of [`crate::privacy::access`]): the lead organization reads all of it; an
//! organization performing actions reads those actions and the goals they serve;
//! reviews, the agreement, the closing note and the progress are the lead's alone.

use crate::auth::Viewer;
use crate::catalogue::types::Service;
use crate::context::ContextExt;
use crate::error::{AppResult, GqlResult};
use crate::graphql::enums::mirror_enum;
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::{Date, Timestamp};
use crate::loaders::{
    ActionsOfPlan, GoalsOfPlan, IndividualPlanById, Loaders, OrganizationById, PlanActionById,
    ReferralById, ReviewsOfPlan, ServiceById, TermByCode,
};
use crate::organization::types::Organization;
use crate::privacy::access::{self, PlanView};
use crate::referral::types::Outcome;
use crate::taxonomy::types::Term;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::Utc;
use entity::enums::Taxonomy;
use entity::{individual_plan, plan_action, plan_goal, plan_review};
use uuid::Uuid;

mirror_enum!(
    /// Whether an individual plan is followed.
    PlanStatus => entity::enums::PlanStatus {
        /// The pathway is under way.
        Active,
        /// The pathway has ended.
        Closed,
    }
);

mirror_enum!(
    /// Where an action of an individual plan stands.
    PlanActionStatus => entity::enums::PlanActionStatus {
        /// Not started: no referral yet, or a draft.
        Planned,
        /// Its referral was sent and awaits an answer.
        Referred,
        /// Its referral was accepted: the organization is working on it.
        Started,
        /// Done: its referral completed (with the outcome), or the lead closed it.
        Done,
        /// Its referral ended without help (rejected, failed, cancelled, expired); a new
        /// referral may start it again.
        Stopped,
        /// Dropped by the lead (or when the plan closed before it started).
        Cancelled,
    }
);

/// How the caller takes part in a plan.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum PlanViewerRole {
    /// The caller's organization leads the plan and reads all of it.
    Lead,
    /// The caller's organization performs some of its actions and reads those actions
    /// and the goals they serve.
    Participant,
}

/// How `viewer` sees `plan` now (None: not at all), through the request's loaders.
async fn view(
    loaders: &Loaders,
    viewer: &Viewer,
    plan: &individual_plan::Model,
) -> AppResult<Option<PlanView>> {
    let Ok(organization) = access::working_organization(viewer) else {
        return Ok(None);
    };
    if plan.lead_organization_id == organization {
        return Ok(Some(PlanView::Lead));
    }
    let actions = actions_seen(loaders, plan, organization).await?;
    Ok((!actions.is_empty()).then_some(PlanView::Participant))
}

/// The actions of `plan` that `organization` performs and sees as a participant.
async fn actions_seen(
    loaders: &Loaders,
    plan: &individual_plan::Model,
    organization: Uuid,
) -> AppResult<Vec<plan_action::Model>> {
    let actions = loaders
        .0
        .load_one(ActionsOfPlan(plan.id))
        .await?
        .unwrap_or_default();
    let keys: Vec<ReferralById> = actions
        .iter()
        .filter(|a| a.organization_id == organization)
        .filter_map(|a| a.referral_id.map(ReferralById))
        .collect();
    let referrals = loaders.0.load_many(keys).await?;
    let now = Utc::now();
    Ok(actions
        .into_iter()
        .filter(|a| {
            let referral = a.referral_id.and_then(|r| referrals.get(&ReferralById(r)));
            access::sees_plan_action(PlanView::Participant, organization, a, referral, now)
        })
        .collect())
}

/// The actions of `plan` that `viewer` sees.
async fn visible_actions(
    loaders: &Loaders,
    viewer: &Viewer,
    plan: &individual_plan::Model,
) -> AppResult<Vec<plan_action::Model>> {
    match view(loaders, viewer, plan).await? {
        Some(PlanView::Lead) => Ok(loaders
            .0
            .load_one(ActionsOfPlan(plan.id))
            .await?
            .unwrap_or_default()),
        Some(PlanView::Participant) => {
            actions_seen(loaders, plan, access::working_organization(viewer)?).await
        }
        None => Ok(Vec::new()),
    }
}

/// Decrypts the stored free text `field` of a plan of `person`, writing the read to the
/// access log (as every read of a person's data); nothing is read, nor logged, where
/// there is no text.
async fn read_text(
    ctx: &Context<'_>,
    person: Uuid,
    field: &str,
    stored: Option<&String>,
) -> GqlResult<Option<String>> {
    let Some(stored) = stored else {
        return Ok(None);
    };
    crate::context::log_read(ctx, person, field).await?;
    Ok(Some(ctx.protection()?.decrypt(stored)?))
}

/// [`read_text`] for a part of the plan `plan` (a goal, an action), whose person comes
/// from the request's batch of plans, read only where there is a text.
async fn read_part_text(
    ctx: &Context<'_>,
    plan: Uuid,
    field: &str,
    stored: Option<&String>,
) -> GqlResult<Option<String>> {
    if stored.is_none() {
        return Ok(None);
    }
    let plan = ctx.loaders()?.0.load_one(IndividualPlanById(plan)).await?;
    let person = plan
        .ok_or(crate::error::AppError::NotFound("plan"))?
        .person_id;
    read_text(ctx, person, field, stored).await
}

/// A person's individual plan (piano individualizzato).
#[derive(Clone, Debug)]
pub struct IndividualPlan(pub individual_plan::Model);

impl From<individual_plan::Model> for IndividualPlan {
    fn from(model: individual_plan::Model) -> Self {
        Self(model)
    }
}

impl IndividualPlan {
    async fn lead_only(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        Ok(view(ctx.loaders()?, ctx.viewer()?, &self.0).await? == Some(PlanView::Lead))
    }
}

/// A person's individual plan (piano individualizzato), held by the organization that
/// leads the pathway: goals, actions performed by organizations of the network (each
/// started by a referral), reviews and the person's agreement.
#[Object]
impl IndividualPlan {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::IndividualPlan, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the plan (adding an action or a review bumps it too).
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// The person's record the plan is written on (the lead organization's own; read
    /// it with `node`, as the rule on people allows).
    async fn person_id(&self) -> ID {
        to_global_id(NodeKind::Person, self.0.person_id)
    }
    /// The organization that leads the pathway.
    async fn lead_organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.lead_organization_id))
            .await
    }
    /// How the caller's organization takes part: LEAD or PARTICIPANT.
    async fn viewer_role(&self, ctx: &Context<'_>) -> GqlResult<Option<PlanViewerRole>> {
        Ok(view(ctx.loaders()?, ctx.viewer()?, &self.0)
            .await?
            .map(|v| match v {
                PlanView::Lead => PlanViewerRole::Lead,
                PlanView::Participant => PlanViewerRole::Participant,
            }))
    }
    /// ACTIVE or CLOSED.
    async fn status(&self) -> PlanStatus {
        self.0.status.into()
    }
    /// First day of the plan.
    async fn starts_on(&self) -> Date {
        Date(self.0.starts_on)
    }
    /// The day the plan was closed.
    async fn closed_on(&self) -> Option<Date> {
        self.0.closed_on.map(Date)
    }
    /// Why the plan was closed (the lead only).
    async fn closing_note(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        if !self.lead_only(ctx).await? {
            return Ok(None);
        }
        let stored = self.0.closing_note_enc.as_ref();
        read_text(ctx, self.0.person_id, "plan.closingNote", stored).await
    }
    /// The goals: all of them for the lead, the goals of its actions for a participant.
    async fn goals(&self, ctx: &Context<'_>) -> GqlResult<Vec<PlanGoal>> {
        let goals = ctx
            .loaders()?
            .0
            .load_one(GoalsOfPlan(self.0.id))
            .await?
            .unwrap_or_default();
        let goals: Vec<plan_goal::Model> =
            match view(ctx.loaders()?, ctx.viewer()?, &self.0).await? {
                Some(PlanView::Lead) => goals,
                Some(PlanView::Participant) => {
                    let served: Vec<Uuid> = visible_actions(ctx.loaders()?, ctx.viewer()?, &self.0)
                        .await?
                        .iter()
                        .map(|a| a.goal_id)
                        .collect();
                    goals
                        .into_iter()
                        .filter(|g| served.contains(&g.id))
                        .collect()
                }
                None => Vec::new(),
            };
        Ok(goals.into_iter().map(PlanGoal).collect())
    }
    /// The actions: all of them for the lead, those it performs for a participant
    /// (from the moment their referral is sent).
    async fn actions(&self, ctx: &Context<'_>) -> GqlResult<Vec<PlanAction>> {
        Ok(visible_actions(ctx.loaders()?, ctx.viewer()?, &self.0)
            .await?
            .into_iter()
            .map(PlanAction)
            .collect())
    }
    /// The reviews, oldest first (the lead only; null for others).
    async fn reviews(&self, ctx: &Context<'_>) -> GqlResult<Option<Vec<PlanReview>>> {
        if !self.lead_only(ctx).await? {
            return Ok(None);
        }
        let rows: Vec<plan_review::Model> = ctx
            .loaders()?
            .0
            .load_one(ReviewsOfPlan(self.0.id))
            .await?
            .unwrap_or_default();
        let mut reviews = Vec::with_capacity(rows.len());
        for r in rows {
            let stored = r.notes_enc.as_ref();
            reviews.push(PlanReview {
                reviewed_on: Date(r.reviewed_on),
                notes: read_text(ctx, self.0.person_id, "planReview.notes", stored).await?,
                next_review_on: r.next_review_on.map(Date),
                recorded_at: Timestamp(r.created_at),
            });
        }
        Ok(Some(reviews))
    }
    /// The person's agreement to the plan (the lead only; null until signed).
    async fn agreement(&self, ctx: &Context<'_>) -> GqlResult<Option<PlanAgreement>> {
        let Some(signed_on) = self.0.agreement_signed_on else {
            return Ok(None);
        };
        if !self.lead_only(ctx).await? {
            return Ok(None);
        }
        Ok(Some(PlanAgreement {
            signed_on: Date(signed_on),
            evidence: read_text(
                ctx,
                self.0.person_id,
                "planAgreement.evidence",
                self.0.agreement_evidence_enc.as_ref(),
            )
            .await?
            .unwrap_or_default(),
        }))
    }
    /// How far the plan has come, by the status of its actions (the lead only).
    async fn progress(&self, ctx: &Context<'_>) -> GqlResult<Option<PlanProgress>> {
        if !self.lead_only(ctx).await? {
            return Ok(None);
        }
        let actions = visible_actions(ctx.loaders()?, ctx.viewer()?, &self.0).await?;
        Ok(Some(PlanProgress::of(&actions)))
    }
    /// When the plan was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the plan or one of its parts last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// The count of a plan's actions by status.
#[derive(SimpleObject, Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanProgress {
    /// All actions.
    pub actions: i32,
    /// PLANNED.
    pub planned: i32,
    /// REFERRED.
    pub referred: i32,
    /// STARTED.
    pub started: i32,
    /// DONE.
    pub done: i32,
    /// STOPPED.
    pub stopped: i32,
    /// CANCELLED.
    pub cancelled: i32,
}

impl PlanProgress {
    /// The progress of `actions`.
    pub fn of(actions: &[plan_action::Model]) -> Self {
        use entity::enums::PlanActionStatus as S;
        let mut p = Self::default();
        for action in actions {
            p.actions += 1;
            *match action.status {
                S::Planned => &mut p.planned,
                S::Referred => &mut p.referred,
                S::Started => &mut p.started,
                S::Done => &mut p.done,
                S::Stopped => &mut p.stopped,
                S::Cancelled => &mut p.cancelled,
            } += 1;
        }
        p
    }
}

/// A review of an individual plan.
#[derive(SimpleObject, Clone, Debug)]
pub struct PlanReview {
    /// The day of the review.
    pub reviewed_on: Date,
    /// What the review found.
    pub notes: Option<String>,
    /// When the next review is due.
    pub next_review_on: Option<Date>,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

/// The person's agreement to an individual plan.
#[derive(SimpleObject, Clone, Debug)]
pub struct PlanAgreement {
    /// The day the person signed.
    pub signed_on: Date,
    /// Where the signed document is kept (a reference in the lead's records).
    pub evidence: String,
}

/// A goal of an individual plan.
#[derive(Clone, Debug)]
pub struct PlanGoal(pub plan_goal::Model);

/// A goal of an individual plan (a PLAN_GOAL term).
#[Object]
impl PlanGoal {
    /// The PLAN_GOAL code.
    async fn code(&self) -> &str {
        &self.0.goal_code
    }
    /// The PLAN_GOAL term, with its labels.
    async fn goal(&self, ctx: &Context<'_>) -> GqlResult<Option<Term>> {
        ctx.loaders()?
            .one(TermByCode(Taxonomy::PlanGoal, self.0.goal_code.clone()))
            .await
    }
    /// What the goal means for the person.
    async fn description(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        let stored = self.0.description_enc.as_ref();
        read_part_text(ctx, self.0.plan_id, "planGoal.description", stored).await
    }
    /// When it should be reached.
    async fn target_on(&self) -> Option<Date> {
        self.0.target_on.map(Date)
    }
}

/// An action of an individual plan.
#[derive(Clone, Debug)]
pub struct PlanAction(pub plan_action::Model);

impl From<plan_action::Model> for PlanAction {
    fn from(model: plan_action::Model) -> Self {
        Self(model)
    }
}

/// An action of an individual plan: a service of some organization serving one of the
/// plan's goals, followed through the referral that started it.
#[Object]
impl PlanAction {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::PlanAction, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the action.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// The plan (a participant reads only its own part of it).
    async fn plan(&self, ctx: &Context<'_>) -> GqlResult<Option<IndividualPlan>> {
        ctx.loaders()?.one(IndividualPlanById(self.0.plan_id)).await
    }
    /// The goal it serves.
    async fn goal(&self, ctx: &Context<'_>) -> GqlResult<Option<PlanGoal>> {
        let goals = ctx
            .loaders()?
            .0
            .load_one(GoalsOfPlan(self.0.plan_id))
            .await?
            .unwrap_or_default();
        Ok(goals
            .into_iter()
            .find(|g| g.id == self.0.goal_id)
            .map(PlanGoal))
    }
    /// The service that performs it.
    async fn service(&self, ctx: &Context<'_>) -> GqlResult<Option<Service>> {
        ctx.loaders()?.one(ServiceById(self.0.service_id)).await
    }
    /// The organization that performs it (the service's provider).
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.organization_id))
            .await
    }
    /// What is to be done.
    async fn description(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        let stored = self.0.description_enc.as_ref();
        read_part_text(ctx, self.0.plan_id, "planAction.description", stored).await
    }
    /// First day.
    async fn starts_on(&self) -> Option<Date> {
        self.0.starts_on.map(Date)
    }
    /// Last day.
    async fn ends_on(&self) -> Option<Date> {
        self.0.ends_on.map(Date)
    }
    /// Where it stands; it follows its referral.
    async fn status(&self) -> PlanActionStatus {
        self.0.status.into()
    }
    /// How it ended, when DONE.
    async fn outcome(&self) -> Option<Outcome> {
        self.0.outcome.map(Into::into)
    }
    /// The referral that started it (read it with `node`, as the rule on referrals
    /// allows).
    async fn referral_id(&self) -> Option<ID> {
        self.0
            .referral_id
            .map(|id| to_global_id(NodeKind::Referral, id))
    }
    /// When the action was added.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the action last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// An action by id, for `node(id:)`: only for the plan's lead and the organization
/// performing it (once its referral was sent); absent otherwise.
pub async fn action_node(
    loaders: &Loaders,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<PlanAction>> {
    let Some(action) = loaders.0.load_one(PlanActionById(id)).await? else {
        return Ok(None);
    };
    let Some(plan) = loaders
        .0
        .load_one(IndividualPlanById(action.plan_id))
        .await?
    else {
        return Ok(None);
    };
    let seen = visible_actions(loaders, viewer, &plan)
        .await?
        .iter()
        .any(|a| a.id == action.id);
    Ok(seen.then_some(PlanAction(action)))
}

/// A plan by id, for `node(id:)`: only for who sees it; absent otherwise.
pub async fn plan_node(
    loaders: &Loaders,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<IndividualPlan>> {
    let Some(plan) = loaders.0.load_one(IndividualPlanById(id)).await? else {
        return Ok(None);
    };
    Ok(view(loaders, viewer, &plan)
        .await?
        .map(|_| IndividualPlan(plan)))
}
