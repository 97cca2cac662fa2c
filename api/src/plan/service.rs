//! Individual plans: created and changed by the organization that leads the pathway
//! (on its own record of the person), their actions followed through the referrals
//! that start them ([`follow_referral`]). Who sees what is the rule of
//! [`crate::privacy::access`] (`plan_visible`, `plan_view`, `sees_plan_action`).
//!
//! Free text (goal and action descriptions, review notes, the evidence of the
//! agreement, the closing note) is encrypted; the audit log records codes, states and
//! ids, never the text.

use crate::audit::service::{self as audit, Actor, Change};
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::events::service::{self as events, Audience};
use crate::graphql::relay::NodeKind;
use crate::privacy::access::{self, PlanView};
use crate::taxonomy::service::check_codes;
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{NaiveDate, Utc};
use entity::enums::{
    Outcome, PlanActionStatus, PlanStatus, ReferralStatus, ServiceStatus, Taxonomy,
};
use entity::{individual_plan, person, plan_action, plan_goal, plan_review, referral, service};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use std::collections::HashSet;
use uuid::Uuid;

/// Longest description of a goal or an action, review notes or closing note.
pub const TEXT_MAX: usize = 4000;
/// Longest evidence of the agreement (a document reference).
pub const EVIDENCE_MAX: usize = 1000;
/// Most goals of a plan.
pub const GOALS_MAX: usize = 20;
/// Most actions of a plan.
pub const ACTIONS_MAX: usize = 100;

/// A goal of a new plan.
#[derive(Clone, Debug)]
pub struct NewGoal {
    /// PLAN_GOAL code.
    pub code: String,
    /// What it means for the person.
    pub description: Option<String>,
    /// When it should be reached.
    pub target_on: Option<NaiveDate>,
}

/// A new plan.
#[derive(Clone, Debug)]
pub struct NewPlan {
    /// The lead organization's record of the person.
    pub person: Uuid,
    /// First day.
    pub starts_on: Option<NaiveDate>,
    /// Its goals, in order.
    pub goals: Vec<NewGoal>,
}

/// A new action of a plan.
#[derive(Clone, Debug)]
pub struct NewAction {
    /// The PLAN_GOAL code of the plan's goal it serves.
    pub goal: String,
    /// The service that performs it.
    pub service: Uuid,
    /// What is to be done.
    pub description: Option<String>,
    /// First day.
    pub starts_on: Option<NaiveDate>,
    /// Last day.
    pub ends_on: Option<NaiveDate>,
}

/// A review of a plan.
#[derive(Clone, Debug)]
pub struct NewReview {
    /// The day of the review (today when omitted).
    pub reviewed_on: Option<NaiveDate>,
    /// What the review found.
    pub notes: String,
    /// When the next review is due.
    pub next_review_on: Option<NaiveDate>,
}

/// The person's agreement to the plan.
#[derive(Clone, Debug)]
pub struct Agreement {
    /// The day the person signed.
    pub signed_on: NaiveDate,
    /// Where the signed document is (a reference in the organization's records).
    pub evidence: String,
}

/// What the audit log keeps of a plan: no free text.
fn audit_plan(row: &individual_plan::Model, goals: &[String]) -> serde_json::Value {
    json!({
        "person": row.person_id,
        "leadOrganization": row.lead_organization_id,
        "status": row.status,
        "startsOn": row.starts_on,
        "closedOn": row.closed_on,
        "agreementSignedOn": row.agreement_signed_on,
        "goals": goals,
        "rowVersion": row.row_version,
    })
}

/// What the audit log keeps of an action: no free text.
fn audit_action(row: &plan_action::Model) -> serde_json::Value {
    json!({
        "plan": row.plan_id,
        "goal": row.goal_id,
        "service": row.service_id,
        "organization": row.organization_id,
        "status": row.status,
        "outcome": row.outcome,
        "referral": row.referral_id,
        "startsOn": row.starts_on,
        "endsOn": row.ends_on,
        "rowVersion": row.row_version,
    })
}

async fn audit_change(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    object: (&'static str, Uuid),
    before: Option<serde_json::Value>,
    after: serde_json::Value,
) -> AppResult<()> {
    audit::record(
        db,
        actor,
        Change {
            operation,
            object_type: object.0,
            object_id: object.1,
            before: before.as_ref(),
            after: Some(&after),
        },
    )
    .await
}

/// Encrypts optional free text (blank: none).
fn seal(protection: &DataProtection, text: Option<String>) -> AppResult<Option<String>> {
    text.filter(|t| !t.trim().is_empty())
        .map(|t| protection.encrypt(&t))
        .transpose()
}

/// How the caller's organization sees `plan` now (None: not at all), in two statements.
pub async fn view_of(
    db: &impl ConnectionTrait,
    organization: Uuid,
    plan: &individual_plan::Model,
) -> AppResult<Option<PlanView>> {
    if plan.lead_organization_id == organization {
        return Ok(Some(PlanView::Lead));
    }
    let actions = plan_action::Entity::find()
        .filter(plan_action::Column::PlanId.eq(plan.id))
        .filter(plan_action::Column::OrganizationId.eq(organization))
        .all(db)
        .await?;
    let referrals = referral::Entity::find()
        .filter(referral::Column::Id.is_in(actions.iter().filter_map(|a| a.referral_id)))
        .all(db)
        .await?;
    Ok(access::plan_view(
        organization,
        plan,
        &actions,
        &referrals,
        Utc::now(),
    ))
}

/// The plan the caller's organization leads; a plan it only takes part in is
/// FORBIDDEN to change, any other reads as unknown (NOT_FOUND).
async fn led(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<individual_plan::Model> {
    let organization = access::working_organization(&actor.viewer)?;
    let plan = individual_plan::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("individual plan"))?;
    match view_of(db, organization, &plan).await? {
        Some(PlanView::Lead) => Ok(plan),
        Some(PlanView::Participant) => Err(AppError::Forbidden(
            "only the organization that leads the plan may change it".to_owned(),
        )),
        None => Err(AppError::NotFound("individual plan")),
    }
}

/// The plans of `person` (a record) or of the plan action a `referral` started, that
/// the caller's organization sees, newest first.
pub async fn visible(
    db: &impl ConnectionTrait,
    organization: Uuid,
    person: Option<Uuid>,
    referral: Option<Uuid>,
) -> AppResult<Vec<individual_plan::Model>> {
    let mut select = individual_plan::Entity::find()
        .filter(access::plan_visible(organization, Utc::now()))
        .order_by_desc(individual_plan::Column::CreatedAt)
        .order_by_desc(individual_plan::Column::Id);
    if let Some(person) = person {
        select = select.filter(individual_plan::Column::PersonId.eq(person));
    }
    if let Some(referral) = referral {
        select = select.filter(
            individual_plan::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(plan_action::Column::PlanId)
                    .from(plan_action::Entity)
                    .and_where(plan_action::Column::ReferralId.eq(referral))
                    .to_owned(),
            ),
        );
    }
    Ok(select.all(db).await?)
}

/// A plan by id if the caller's organization sees it (for `node(id:)`).
pub async fn node(
    db: &impl ConnectionTrait,
    organization: Uuid,
    id: Uuid,
) -> AppResult<Option<individual_plan::Model>> {
    let Some(plan) = individual_plan::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    Ok(view_of(db, organization, &plan).await?.map(|_| plan))
}

/// The plan's goals in order.
pub async fn goals_of(db: &impl ConnectionTrait, plan: Uuid) -> AppResult<Vec<plan_goal::Model>> {
    Ok(plan_goal::Entity::find()
        .filter(plan_goal::Column::PlanId.eq(plan))
        .order_by_asc(plan_goal::Column::Position)
        .all(db)
        .await?)
}

fn check_goals(v: &mut Validator, goals: &[NewGoal]) -> Vec<String> {
    if goals.is_empty() {
        v.add("goals", FieldErrorCode::Required, "name at least one goal");
    }
    if goals.len() > GOALS_MAX {
        v.add(
            "goals",
            FieldErrorCode::TooLong,
            format!("at most {GOALS_MAX} goals"),
        );
    }
    let mut seen = HashSet::new();
    let mut codes = Vec::new();
    for (i, goal) in goals.iter().enumerate() {
        let code = goal.code.trim().to_ascii_uppercase();
        if !seen.insert(code.clone()) {
            v.add(
                &format!("goals.{i}.goal"),
                FieldErrorCode::Taken,
                "each goal once per plan",
            );
        }
        v.optional_text(
            &format!("goals.{i}.description"),
            goal.description.as_deref(),
            TEXT_MAX,
        );
        codes.push(code);
    }
    codes
}

/// Creates an ACTIVE plan on the caller's organization's own record of a person, with
/// its goals. One active plan per record.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    input: NewPlan,
) -> AppResult<Checked<individual_plan::Model>> {
    let organization = access::working_organization(&actor.viewer)?;
    let mut v = Validator::default();
    let person = person::Entity::find_by_id(input.person).one(db).await?;
    let owned =
        access::access_of(db, input.person, organization).await? == Some(access::Access::Owner);
    match &person {
        Some(p) if owned && p.erased_at.is_none() => {}
        Some(_) if owned => v.add("person", FieldErrorCode::Invalid, "the record was erased"),
        _ => v.add(
            "person",
            FieldErrorCode::NotFound,
            "no such person among your organization's records",
        ),
    }
    if owned {
        let open = individual_plan::Entity::find()
            .filter(individual_plan::Column::PersonId.eq(input.person))
            .filter(individual_plan::Column::Status.eq(PlanStatus::Active))
            .one(db)
            .await?;
        if open.is_some() {
            v.add(
                "person",
                FieldErrorCode::Taken,
                "the person already has an active plan: close it first",
            );
        }
    }
    let codes = check_goals(&mut v, &input.goals);
    check_codes(db, &mut v, "goals", Taxonomy::PlanGoal, &codes).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let plan = individual_plan::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(input.person),
        lead_organization_id: Set(organization),
        status: Set(PlanStatus::Active),
        starts_on: Set(input.starts_on.unwrap_or_else(|| now.date_naive())),
        closed_on: Set(None),
        closing_note_enc: Set(None),
        agreement_signed_on: Set(None),
        agreement_evidence_enc: Set(None),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let mut rows = Vec::new();
    for (i, (goal, code)) in input.goals.into_iter().zip(&codes).enumerate() {
        rows.push(plan_goal::ActiveModel {
            id: Set(Uuid::now_v7()),
            plan_id: Set(plan.id),
            goal_code: Set(code.clone()),
            description_enc: Set(seal(protection, goal.description)?),
            target_on: Set(goal.target_on),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            created_at: Set(now),
        });
    }
    plan_goal::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    audit_change(
        db,
        actor,
        "createIndividualPlan",
        ("IndividualPlan", plan.id),
        None,
        audit_plan(&plan, &codes),
    )
    .await?;
    events::record(
        db,
        "plan.created",
        (NodeKind::IndividualPlan, plan.id),
        Audience::Organizations(vec![organization]),
    )
    .await?;
    Ok(Ok(plan))
}

/// Bumps the plan's version after a change of one of its parts (CONFLICT when the
/// caller read another version), and tells its lead.
async fn bump(
    db: &impl ConnectionTrait,
    plan: &individual_plan::Model,
    expected: i32,
    row: individual_plan::ActiveModel,
) -> AppResult<individual_plan::Model> {
    let after =
        concurrency::update::<individual_plan::Entity, _>(db, row, plan, Some(expected)).await?;
    events::record(
        db,
        "plan.changed",
        (NodeKind::IndividualPlan, plan.id),
        Audience::Organizations(vec![plan.lead_organization_id]),
    )
    .await?;
    Ok(after)
}

fn require_active(v: &mut Validator, plan: &individual_plan::Model) {
    if plan.status != PlanStatus::Active {
        v.add("plan", FieldErrorCode::Invalid, "the plan is closed");
    }
}

/// Adds an action to an ACTIVE plan: a service (ACTIVE) of some organization serving
/// one of the plan's goals; PLANNED until a referral starts it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_action(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    plan: Uuid,
    expected: i32,
    input: NewAction,
) -> AppResult<Checked<plan_action::Model>> {
    let plan = led(db, actor, plan).await?;
    let mut v = Validator::default();
    require_active(&mut v, &plan);
    let code = input.goal.trim().to_ascii_uppercase();
    let goal = plan_goal::Entity::find()
        .filter(plan_goal::Column::PlanId.eq(plan.id))
        .filter(plan_goal::Column::GoalCode.eq(code))
        .one(db)
        .await?;
    if goal.is_none() {
        v.add("goal", FieldErrorCode::NotFound, "not a goal of this plan");
    }
    let service = service::Entity::find_by_id(input.service).one(db).await?;
    match &service {
        None => v.add("service", FieldErrorCode::NotFound, "no such service"),
        Some(s) if s.status != ServiceStatus::Active => v.add(
            "service",
            FieldErrorCode::Invalid,
            "the service is not active",
        ),
        Some(_) => {}
    }
    v.optional_text("description", input.description.as_deref(), TEXT_MAX);
    v.ordered(
        "endsOn",
        input.starts_on,
        input.ends_on,
        "must not be before startsOn",
    );
    let count = plan_action::Entity::find()
        .filter(plan_action::Column::PlanId.eq(plan.id))
        .count(db)
        .await?;
    if count >= ACTIONS_MAX as u64 {
        v.add(
            "plan",
            FieldErrorCode::TooLong,
            format!("at most {ACTIONS_MAX} actions"),
        );
    }
    let (Some(goal), Some(service)) = (goal, service) else {
        return Ok(Err(v.finish()));
    };
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let action = plan_action::ActiveModel {
        id: Set(Uuid::now_v7()),
        plan_id: Set(plan.id),
        goal_id: Set(goal.id),
        service_id: Set(service.id),
        organization_id: Set(service.organization_id),
        description_enc: Set(seal(protection, input.description)?),
        starts_on: Set(input.starts_on),
        ends_on: Set(input.ends_on),
        status: Set(PlanActionStatus::Planned),
        outcome: Set(None),
        referral_id: Set(None),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    bump(db, &plan, expected, Default::default()).await?;
    audit_change(
        db,
        actor,
        "addPlanAction",
        ("PlanAction", action.id),
        None,
        audit_action(&action),
    )
    .await?;
    Ok(Ok(action))
}

/// Who hears of a change of `action`: the plan's lead and, once the action's referral
/// was sent, the organization performing it.
async fn action_audience(
    db: &impl ConnectionTrait,
    lead: Uuid,
    action: &plan_action::Model,
) -> AppResult<Vec<Uuid>> {
    let mut audience = vec![lead];
    if let Some(referral) = action.referral_id {
        let sent = referral::Entity::find_by_id(referral)
            .one(db)
            .await?
            .is_some_and(|r| r.sent_at.is_some());
        if sent {
            audience.push(action.organization_id);
        }
    }
    Ok(audience)
}

/// Sets an action's status by hand (the lead, for work no referral follows): DONE
/// (with an outcome), CANCELLED, or back to PLANNED. An action whose referral is open
/// follows the referral instead.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_action_status(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected: i32,
    status: PlanActionStatus,
    outcome: Option<Outcome>,
) -> AppResult<Checked<plan_action::Model>> {
    let before = plan_action::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("plan action"))?;
    let plan = match led(db, actor, before.plan_id).await {
        // An action of a plan the caller does not see reads as unknown as the plan.
        Err(AppError::NotFound(_)) => return Err(AppError::NotFound("plan action")),
        other => other?,
    };
    concurrency::check_expected(Some(expected), before.row_version)?;
    let mut v = Validator::default();
    require_active(&mut v, &plan);
    if !matches!(
        status,
        PlanActionStatus::Done | PlanActionStatus::Cancelled | PlanActionStatus::Planned
    ) {
        v.add(
            "status",
            FieldErrorCode::Invalid,
            "REFERRED, STARTED and STOPPED follow the action's referral",
        );
    }
    if matches!(
        before.status,
        PlanActionStatus::Referred | PlanActionStatus::Started
    ) {
        v.add(
            "status",
            FieldErrorCode::Invalid,
            "the action follows its open referral: move the referral instead",
        );
    }
    if status == PlanActionStatus::Done && outcome.is_none() {
        v.add(
            "outcome",
            FieldErrorCode::Required,
            "a DONE action has an outcome",
        );
    }
    if status != PlanActionStatus::Done && outcome.is_some() {
        v.add(
            "outcome",
            FieldErrorCode::Invalid,
            "only a DONE action has an outcome",
        );
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let row = plan_action::ActiveModel {
        status: Set(status),
        outcome: Set(outcome),
        ..Default::default()
    };
    let after =
        concurrency::update::<plan_action::Entity, _>(db, row, &before, Some(expected)).await?;
    finish_action_change(
        db,
        Some(actor),
        &plan,
        &before,
        &after,
        "setPlanActionStatus",
    )
    .await?;
    Ok(Ok(after))
}

async fn finish_action_change(
    db: &impl ConnectionTrait,
    actor: Option<&Actor>,
    plan: &individual_plan::Model,
    before: &plan_action::Model,
    after: &plan_action::Model,
    operation: &str,
) -> AppResult<()> {
    concurrency::touch::<individual_plan::Entity>(db, plan.id).await?;
    let audience = action_audience(db, plan.lead_organization_id, after).await?;
    events::record(
        db,
        "plan_action.changed",
        (NodeKind::PlanAction, after.id),
        Audience::Organizations(audience),
    )
    .await?;
    if let Some(actor) = actor {
        audit_change(
            db,
            actor,
            operation,
            ("PlanAction", after.id),
            Some(audit_action(before)),
            audit_action(after),
        )
        .await?;
    }
    Ok(())
}

/// Records a review of an ACTIVE plan.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record_review(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    plan: Uuid,
    expected: i32,
    input: NewReview,
) -> AppResult<Checked<individual_plan::Model>> {
    let plan = led(db, actor, plan).await?;
    let mut v = Validator::default();
    require_active(&mut v, &plan);
    let notes = v.text("notes", &input.notes, TEXT_MAX);
    let today = Utc::now().date_naive();
    let reviewed_on = input.reviewed_on.unwrap_or(today);
    if reviewed_on > today {
        v.add(
            "reviewedOn",
            FieldErrorCode::Invalid,
            "must not be in the future",
        );
    }
    v.ordered(
        "nextReviewOn",
        Some(reviewed_on),
        input.next_review_on,
        "must not be before reviewedOn",
    );
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let review = plan_review::ActiveModel {
        id: Set(Uuid::now_v7()),
        plan_id: Set(plan.id),
        reviewed_on: Set(reviewed_on),
        notes_enc: Set(Some(protection.encrypt(&notes)?)),
        next_review_on: Set(input.next_review_on),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    let after = bump(db, &plan, expected, Default::default()).await?;
    audit_change(
        db,
        actor,
        "recordPlanReview",
        ("IndividualPlan", plan.id),
        None,
        json!({ "review": review.id, "reviewedOn": review.reviewed_on,
                "nextReviewOn": review.next_review_on }),
    )
    .await?;
    Ok(Ok(after))
}

/// Records the person's agreement to the plan: the day they signed and the evidence
/// (encrypted). Recording it again replaces it (a new signature of a revised plan).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record_agreement(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    plan: Uuid,
    expected: i32,
    input: Agreement,
) -> AppResult<Checked<individual_plan::Model>> {
    let plan = led(db, actor, plan).await?;
    let mut v = Validator::default();
    require_active(&mut v, &plan);
    let evidence = v.text("evidence", &input.evidence, EVIDENCE_MAX);
    if input.signed_on > Utc::now().date_naive() {
        v.add(
            "signedOn",
            FieldErrorCode::Invalid,
            "must not be in the future",
        );
    }
    if input.signed_on < plan.starts_on {
        v.add(
            "signedOn",
            FieldErrorCode::Invalid,
            "must not be before the plan starts",
        );
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let row = individual_plan::ActiveModel {
        agreement_signed_on: Set(Some(input.signed_on)),
        agreement_evidence_enc: Set(Some(protection.encrypt(&evidence)?)),
        ..Default::default()
    };
    let after = bump(db, &plan, expected, row).await?;
    audit_change(
        db,
        actor,
        "recordPlanAgreement",
        ("IndividualPlan", plan.id),
        Some(audit_plan(&plan, &[])),
        audit_plan(&after, &[]),
    )
    .await?;
    Ok(Ok(after))
}

/// Closes an ACTIVE plan; its PLANNED actions are CANCELLED (actions with a referral
/// keep following it).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn close(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    plan: Uuid,
    expected: i32,
    note: Option<String>,
) -> AppResult<Checked<individual_plan::Model>> {
    let plan = led(db, actor, plan).await?;
    let mut v = Validator::default();
    require_active(&mut v, &plan);
    v.optional_text("note", note.as_deref(), TEXT_MAX);
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let row = individual_plan::ActiveModel {
        status: Set(PlanStatus::Closed),
        closed_on: Set(Some(Utc::now().date_naive())),
        closing_note_enc: Set(seal(protection, note)?),
        ..Default::default()
    };
    let after = bump(db, &plan, expected, row).await?;
    plan_action::Entity::update_many()
        .col_expr(
            plan_action::Column::Status,
            Expr::value(PlanActionStatus::Cancelled),
        )
        .col_expr(
            plan_action::Column::RowVersion,
            Expr::col(plan_action::Column::RowVersion).add(1),
        )
        .col_expr(plan_action::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(plan_action::Column::PlanId.eq(plan.id))
        .filter(plan_action::Column::Status.eq(PlanActionStatus::Planned))
        .exec(db)
        .await?;
    audit_change(
        db,
        actor,
        "closeIndividualPlan",
        ("IndividualPlan", plan.id),
        Some(audit_plan(&plan, &[])),
        audit_plan(&after, &[]),
    )
    .await?;
    Ok(Ok(after))
}

// ---------------------------------------------------------------------------------
// Referrals that start actions
// ---------------------------------------------------------------------------------

/// Checks that a new referral of `person` (a record of `sender`) to `service` may
/// start `action`: an action of an ACTIVE plan `sender` leads on that record, for that
/// service, PLANNED or STOPPED (a new try). Problems are user errors on `planAction`.
pub async fn check_referral_start(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    action: Uuid,
    person: Uuid,
    service: Uuid,
    sender: Uuid,
) -> AppResult<()> {
    const FIELD: &str = "planAction";
    let found = plan_action::Entity::find_by_id(action).one(db).await?;
    let plan = match &found {
        Some(a) => {
            individual_plan::Entity::find_by_id(a.plan_id)
                .one(db)
                .await?
        }
        None => None,
    };
    let (Some(found), Some(plan)) = (found, plan) else {
        v.add(FIELD, FieldErrorCode::NotFound, "no such plan action");
        return Ok(());
    };
    if plan.lead_organization_id != sender {
        v.add(FIELD, FieldErrorCode::NotFound, "no such plan action");
    } else if plan.person_id != person {
        v.add(
            FIELD,
            FieldErrorCode::Invalid,
            "the action is of another person's plan",
        );
    } else if plan.status != PlanStatus::Active {
        v.add(FIELD, FieldErrorCode::Invalid, "the plan is closed");
    } else if found.service_id != service {
        v.add(
            FIELD,
            FieldErrorCode::Invalid,
            "the action is for another service than `receiverService`",
        );
    } else if !matches!(
        found.status,
        PlanActionStatus::Planned | PlanActionStatus::Stopped
    ) {
        v.add(
            FIELD,
            FieldErrorCode::Invalid,
            "the action already has an open or finished referral",
        );
    }
    Ok(())
}

/// Links the referral just created to the action it starts (the new try of a stopped
/// action, or the referral a reroute made of the action's former one). The action
/// stays PLANNED until the referral is sent.
pub async fn link_referral(
    db: &impl ConnectionTrait,
    action: Option<Uuid>,
    rerouted_from: Option<Uuid>,
    referral: &referral::Model,
) -> AppResult<()> {
    let target = match (action, rerouted_from) {
        (Some(action), _) => Some(action),
        (None, Some(from)) => plan_action::Entity::find()
            .filter(plan_action::Column::ReferralId.eq(from))
            .one(db)
            .await?
            .map(|a| a.id),
        (None, None) => None,
    };
    let Some(target) = target else {
        return Ok(());
    };
    // A reroute moves the action to the service the new referral is for.
    plan_action::Entity::update_many()
        .col_expr(plan_action::Column::ReferralId, Expr::value(referral.id))
        .col_expr(
            plan_action::Column::ServiceId,
            Expr::value(referral.receiver_service_id),
        )
        .col_expr(
            plan_action::Column::OrganizationId,
            Expr::value(referral.receiver_organization_id),
        )
        .col_expr(
            plan_action::Column::Status,
            Expr::value(PlanActionStatus::Planned),
        )
        .col_expr(
            plan_action::Column::Outcome,
            Expr::value(Option::<Outcome>::None),
        )
        .col_expr(
            plan_action::Column::RowVersion,
            Expr::col(plan_action::Column::RowVersion).add(1),
        )
        .col_expr(plan_action::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(plan_action::Column::Id.eq(target))
        .exec(db)
        .await?;
    Ok(())
}

/// What an action becomes when its referral reaches `to` (None: no change).
pub fn action_status_for(to: ReferralStatus) -> Option<PlanActionStatus> {
    match to {
        ReferralStatus::Draft => None,
        ReferralStatus::Sent | ReferralStatus::Received => Some(PlanActionStatus::Referred),
        ReferralStatus::Accepted | ReferralStatus::InProgress | ReferralStatus::OnHold => {
            Some(PlanActionStatus::Started)
        }
        ReferralStatus::Completed => Some(PlanActionStatus::Done),
        ReferralStatus::Rejected
        | ReferralStatus::Failed
        | ReferralStatus::Cancelled
        | ReferralStatus::Expired => Some(PlanActionStatus::Stopped),
    }
}

/// Moves the action a referral started along with the referral (in the transaction of
/// the referral's step): sent → REFERRED, accepted → STARTED, completed → DONE with its
/// outcome, ended without help → STOPPED (a draft cancelled unsent → PLANNED again,
/// without the referral).
pub async fn follow_referral(
    db: &impl ConnectionTrait,
    referral: &referral::Model,
    from: Option<ReferralStatus>,
    to: ReferralStatus,
    outcome: Option<Outcome>,
) -> AppResult<()> {
    let Some(before) = plan_action::Entity::find()
        .filter(plan_action::Column::ReferralId.eq(referral.id))
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let unsent_cancel = from == Some(ReferralStatus::Draft) && to == ReferralStatus::Cancelled;
    let (status, referral_id) = if unsent_cancel {
        (PlanActionStatus::Planned, None)
    } else {
        match action_status_for(to) {
            Some(status) => (status, Some(referral.id)),
            None => return Ok(()),
        }
    };
    if before.status == status
        || matches!(
            before.status,
            PlanActionStatus::Done | PlanActionStatus::Cancelled
        )
    {
        return Ok(());
    }
    let outcome = if status == PlanActionStatus::Done {
        outcome
    } else {
        None
    };
    plan_action::Entity::update_many()
        .col_expr(plan_action::Column::Status, Expr::value(status))
        .col_expr(plan_action::Column::Outcome, Expr::value(outcome))
        .col_expr(plan_action::Column::ReferralId, Expr::value(referral_id))
        .col_expr(
            plan_action::Column::RowVersion,
            Expr::col(plan_action::Column::RowVersion).add(1),
        )
        .col_expr(plan_action::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(plan_action::Column::Id.eq(before.id))
        .exec(db)
        .await?;
    let after = plan_action::Entity::find_by_id(before.id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("plan action"))?;
    let plan = individual_plan::Entity::find_by_id(after.plan_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("individual plan"))?;
    finish_action_change(db, None, &plan, &before, &after, "followReferral").await
}

// ---------------------------------------------------------------------------------
// The person's rights: erasure and access
// ---------------------------------------------------------------------------------

/// Erases the free text of the plans written on a person's record (goal and action
/// descriptions, review notes, the evidence of the agreement, the closing note); what
/// stays is coded: goals, services, states, outcomes, dates.
pub async fn erase_of_person(db: &impl ConnectionTrait, person: Uuid) -> AppResult<()> {
    let plans: Vec<Uuid> = individual_plan::Entity::find()
        .filter(individual_plan::Column::PersonId.eq(person))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    if plans.is_empty() {
        return Ok(());
    }
    let none = || Expr::value(Option::<String>::None);
    individual_plan::Entity::update_many()
        .col_expr(individual_plan::Column::AgreementEvidenceEnc, none())
        .col_expr(individual_plan::Column::ClosingNoteEnc, none())
        .col_expr(individual_plan::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(individual_plan::Column::Id.is_in(plans.clone()))
        .exec(db)
        .await?;
    plan_goal::Entity::update_many()
        .col_expr(plan_goal::Column::DescriptionEnc, none())
        .filter(plan_goal::Column::PlanId.is_in(plans.clone()))
        .exec(db)
        .await?;
    plan_action::Entity::update_many()
        .col_expr(plan_action::Column::DescriptionEnc, none())
        .filter(plan_action::Column::PlanId.is_in(plans.clone()))
        .exec(db)
        .await?;
    plan_review::Entity::update_many()
        .col_expr(plan_review::Column::NotesEnc, none())
        .filter(plan_review::Column::PlanId.is_in(plans))
        .exec(db)
        .await?;
    Ok(())
}

fn decrypted(protection: &DataProtection, stored: Option<&String>) -> AppResult<Option<String>> {
    stored.map(|s| protection.decrypt(s)).transpose()
}

/// The plans written on a person's record as `organization` sees them (all of them for
/// the data subject, `None`), decrypted, for exports.
pub async fn export_of_person(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    person: Uuid,
    organization: Option<Uuid>,
) -> AppResult<Vec<serde_json::Value>> {
    let plans = individual_plan::Entity::find()
        .filter(individual_plan::Column::PersonId.eq(person))
        .order_by_asc(individual_plan::Column::CreatedAt)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = plans.iter().map(|p| p.id).collect();
    let goals = plan_goal::Entity::find()
        .filter(plan_goal::Column::PlanId.is_in(ids.clone()))
        .order_by_asc(plan_goal::Column::Position)
        .all(db)
        .await?;
    let actions = plan_action::Entity::find()
        .filter(plan_action::Column::PlanId.is_in(ids.clone()))
        .order_by_asc(plan_action::Column::CreatedAt)
        .all(db)
        .await?;
    let reviews = plan_review::Entity::find()
        .filter(plan_review::Column::PlanId.is_in(ids))
        .order_by_asc(plan_review::Column::ReviewedOn)
        .all(db)
        .await?;
    let referrals = referral::Entity::find()
        .filter(referral::Column::Id.is_in(actions.iter().filter_map(|a| a.referral_id)))
        .all(db)
        .await?;
    let now = Utc::now();
    let mut out = Vec::new();
    for plan in &plans {
        let view = match organization {
            None => Some(PlanView::Lead),
            Some(organization) => {
                let own: Vec<plan_action::Model> = actions
                    .iter()
                    .filter(|a| a.plan_id == plan.id)
                    .cloned()
                    .collect();
                access::plan_view(organization, plan, &own, &referrals, now)
            }
        };
        let Some(view) = view else { continue };
        let seen: Vec<&plan_action::Model> = actions
            .iter()
            .filter(|a| a.plan_id == plan.id)
            .filter(|a| {
                let referral = referrals.iter().find(|r| Some(r.id) == a.referral_id);
                access::sees_plan_action(
                    view,
                    organization.unwrap_or(plan.lead_organization_id),
                    a,
                    referral,
                    now,
                )
            })
            .collect();
        let lead = view == PlanView::Lead;
        let goals_out = goals
            .iter()
            .filter(|g| g.plan_id == plan.id && (lead || seen.iter().any(|a| a.goal_id == g.id)))
            .map(|g| {
                Ok(json!({
                    "goal": g.goal_code,
                    "description": decrypted(protection, g.description_enc.as_ref())?,
                    "targetOn": g.target_on,
                }))
            })
            .collect::<AppResult<Vec<_>>>()?;
        let actions_out = seen
            .iter()
            .map(|a| {
                Ok(json!({
                    "id": a.id,
                    "goal": goals.iter().find(|g| g.id == a.goal_id).map(|g| &g.goal_code),
                    "serviceId": a.service_id,
                    "organizationId": a.organization_id,
                    "description": decrypted(protection, a.description_enc.as_ref())?,
                    "startsOn": a.starts_on,
                    "endsOn": a.ends_on,
                    "status": a.status,
                    "outcome": a.outcome,
                    "referralId": a.referral_id,
                }))
            })
            .collect::<AppResult<Vec<_>>>()?;
        let mut entry = json!({
            "id": plan.id,
            "leadOrganizationId": plan.lead_organization_id,
            "status": plan.status,
            "startsOn": plan.starts_on,
            "closedOn": plan.closed_on,
            "goals": goals_out,
            "actions": actions_out,
        });
        if lead {
            entry["reviews"] = json!(
                reviews
                    .iter()
                    .filter(|r| r.plan_id == plan.id)
                    .map(|r| Ok(json!({
                        "reviewedOn": r.reviewed_on,
                        "notes": decrypted(protection, r.notes_enc.as_ref())?,
                        "nextReviewOn": r.next_review_on,
                    })))
                    .collect::<AppResult<Vec<_>>>()?
            );
            entry["agreement"] = json!({
                "signedOn": plan.agreement_signed_on,
                "evidence": decrypted(protection, plan.agreement_evidence_enc.as_ref())?,
            });
            entry["closingNote"] = json!(decrypted(protection, plan.closing_note_enc.as_ref())?);
        }
        out.push(entry);
    }
    Ok(out)
}
