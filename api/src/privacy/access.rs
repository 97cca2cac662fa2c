//! Who sees a person: the one rule, in one place.
//!
//! - Each organization's record of a person is its own: the organization that
//!   registered it (its **owner**) sees and changes all of it. Records of the same
//!   codice fiscale are linked only through the keyed hash, never shown across
//!   organizations.
//! - The **receiver** of a referral sees the referral, its events and the shared fields
//!   of the sender's record ([`Access::shares`]) from the moment it is SENT, while it
//!   is open and until `receiver_access_until` after it ended. A DRAFT (and a draft
//!   cancelled unsent) exists only for its sender.
//! - An **individual plan** is its lead organization's (the owner of the record it is
//!   written on). An organization that performs one of its actions sees that action
//!   and the goal it serves, from the moment the action's referral is SENT and for as
//!   long as it reads that referral ([`sees_plan_action`]); nothing else of the plan.
//! - Everyone else sees nothing, and an id it may not see reads exactly like an unknown
//!   one (NOT_FOUND).

use crate::auth::viewer::{Role, ViewerKind, scopes};
use crate::auth::{Viewer, policy};
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use entity::{individual_plan, person, plan_action, referral};
use sea_orm::sea_query::{ExprTrait, Query, UnionType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

/// How long a referral's receiver keeps reading it and its person after it ended
/// (the setting `receiver_access_days`; schema data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverAccess(pub chrono::Duration);

impl ReceiverAccess {
    /// The period of `days` days.
    pub fn days(days: u32) -> Self {
        Self(chrono::Duration::days(i64::from(days)))
    }
}

/// How much of a person an organization sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Its own record: every field, consents, changes, export, erasure.
    Owner,
    /// The receiver of a sent referral: the fields the sender shares, read only.
    Receiver,
}

/// A personal value of a person record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The codice fiscale.
    CodiceFiscale,
    /// Given and family names.
    Names,
    /// Email, phone, address and the preferred channel.
    Contacts,
    /// Date of birth.
    BirthDate,
    /// Gender.
    Gender,
    /// Citizenship.
    Citizenship,
    /// Municipality of residence.
    Residence,
    /// Languages spoken.
    Languages,
    /// The person's consents.
    Consents,
    /// The organization's needs assessments of the person.
    Assessments,
}

impl Access {
    /// True when this access includes `field`. A referral's receiver gets what it needs
    /// to take the person in charge: names, codice fiscale, contacts, languages,
    /// residence municipality and birth date; never gender, citizenship, consents or
    /// needs assessments (a referral carries the needs it is about).
    pub fn shares(self, field: Field) -> bool {
        match self {
            Self::Owner => true,
            Self::Receiver => !matches!(
                field,
                Field::Gender | Field::Citizenship | Field::Consents | Field::Assessments
            ),
        }
    }
}

/// The organization a caller works on people for: an OPERATOR or ORG_ADMIN of it, or
/// its client with `persons:write`. Others are refused (UNAUTHENTICATED when anonymous,
/// FORBIDDEN otherwise).
pub fn working_organization(viewer: &Viewer) -> AppResult<Uuid> {
    let allowed = match viewer.kind {
        ViewerKind::User => viewer.has_role(Role::Operator) || viewer.has_role(Role::OrgAdmin),
        ViewerKind::Client => viewer.has_scope(scopes::PERSONS_WRITE),
        ViewerKind::Anonymous => false,
    };
    match viewer.organization {
        Some(organization) if allowed => Ok(organization),
        _ => Err(policy::deny(
            viewer,
            "only operators and administrators of an organization (or its clients with `persons:write`) may work on people",
        )),
    }
}

/// Condition on `referral` rows: received by `organization` and readable by it at
/// `now` (sent, and open or within its access period).
fn received_and_readable(organization: Uuid, now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(referral::Column::ReceiverOrganizationId.eq(organization))
        .add(referral::Column::SentAt.is_not_null())
        .add(
            Condition::any()
                .add(referral::Column::ReceiverAccessUntil.is_null())
                .add(referral::Column::ReceiverAccessUntil.gt(now)),
        )
}

/// Condition on `referral` rows: `organization` may read the referral at `now`.
pub fn referral_readable(organization: Uuid, now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(referral::Column::SenderOrganizationId.eq(organization))
        .add(received_and_readable(organization, now))
}

/// Condition on `referral` rows of `organization`'s inbox: what it may read as the
/// receiver at `now`.
pub fn inbox(organization: Uuid, now: DateTime<Utc>) -> Condition {
    received_and_readable(organization, now)
}

/// True when `organization` may read the referral `row` at `now` (the same rule as
/// [`referral_readable`], on a loaded row).
pub fn can_read_referral(organization: Uuid, row: &referral::Model, now: DateTime<Utc>) -> bool {
    row.sender_organization_id == organization
        || (row.receiver_organization_id == organization
            && row.sent_at.is_some()
            && row.receiver_access_until.is_none_or(|until| until > now))
}

/// Condition on `person` rows: `organization` sees the person at `now`.
///
/// Written as one set of ids (its own records, united with the people of the
/// referrals it may read) rather than an OR of the two, so that each side is read by
/// its own index instead of a scan of every person.
pub fn person_visible(organization: Uuid, now: DateTime<Utc>) -> Condition {
    let received = Query::select()
        .column(referral::Column::PersonId)
        .from(referral::Entity)
        .cond_where(received_and_readable(organization, now))
        .to_owned();
    let visible = Query::select()
        .column(person::Column::Id)
        .from(person::Entity)
        .and_where(person::Column::RegisteredByOrganizationId.eq(organization))
        .union(UnionType::Distinct, received)
        .to_owned();
    Condition::all().add(person::Column::Id.in_subquery(visible))
}

/// How `organization` sees each of `persons` at `now` (absent: not at all), in two
/// statements whatever the number of persons.
pub async fn access_to(
    db: &impl ConnectionTrait,
    persons: &[Uuid],
    organization: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, Access)>, DbErr> {
    if persons.is_empty() {
        return Ok(Vec::new());
    }
    let owned: Vec<Uuid> = person::Entity::find()
        .select_only()
        .column(person::Column::Id)
        .filter(person::Column::Id.is_in(persons.iter().copied()))
        .filter(person::Column::RegisteredByOrganizationId.eq(organization))
        .into_tuple()
        .all(db)
        .await?;
    let received: Vec<Uuid> = referral::Entity::find()
        .select_only()
        .column(referral::Column::PersonId)
        .distinct()
        .filter(referral::Column::PersonId.is_in(persons.iter().copied()))
        .filter(received_and_readable(organization, now))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: Vec<(Uuid, Access)> = owned.iter().map(|id| (*id, Access::Owner)).collect();
    out.extend(
        received
            .into_iter()
            .filter(|id| !owned.contains(id))
            .map(|id| (id, Access::Receiver)),
    );
    Ok(out)
}

/// How `organization` sees one person now.
pub async fn access_of(
    db: &impl ConnectionTrait,
    person: Uuid,
    organization: Uuid,
) -> AppResult<Option<Access>> {
    Ok(access_to(db, &[person], organization, Utc::now())
        .await?
        .into_iter()
        .map(|(_, access)| access)
        .next())
}

/// How an organization sees an individual plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlanView {
    /// The lead organization: all of it.
    Lead,
    /// An organization performing some of its actions: those actions and their goals.
    Participant,
}

/// Condition on `individual_plan` rows: `organization` sees the plan at `now` (it
/// leads it, or it receives and may read the referral of one of its actions).
pub fn plan_visible(organization: Uuid, now: DateTime<Utc>) -> Condition {
    let performed = Query::select()
        .column((plan_action::Entity, plan_action::Column::PlanId))
        .from(plan_action::Entity)
        .inner_join(
            referral::Entity,
            sea_orm::sea_query::Expr::col((referral::Entity, referral::Column::Id))
                .equals((plan_action::Entity, plan_action::Column::ReferralId)),
        )
        .and_where(plan_action::Column::OrganizationId.eq(organization))
        .cond_where(received_and_readable(organization, now))
        .to_owned();
    Condition::any()
        .add(individual_plan::Column::LeadOrganizationId.eq(organization))
        .add(individual_plan::Column::Id.in_subquery(performed))
}

/// True when `organization` sees `action` of a plan it sees as `view`, whose referral
/// (if any) is `referral`, at `now`.
pub fn sees_plan_action(
    view: PlanView,
    organization: Uuid,
    action: &plan_action::Model,
    referral: Option<&referral::Model>,
    now: DateTime<Utc>,
) -> bool {
    match view {
        PlanView::Lead => true,
        PlanView::Participant => {
            action.organization_id == organization
                && referral.is_some_and(|r| {
                    Some(r.id) == action.referral_id
                        && r.receiver_organization_id == organization
                        && can_read_referral(organization, r, now)
                })
        }
    }
}

/// How `organization` sees `plan`, whose actions are `actions` with their referrals
/// `referrals`, at `now` (None: not at all).
pub fn plan_view(
    organization: Uuid,
    plan: &individual_plan::Model,
    actions: &[plan_action::Model],
    referrals: &[referral::Model],
    now: DateTime<Utc>,
) -> Option<PlanView> {
    if plan.lead_organization_id == organization {
        return Some(PlanView::Lead);
    }
    actions
        .iter()
        .any(|action| {
            let referral = referrals.iter().find(|r| Some(r.id) == action.referral_id);
            sees_plan_action(PlanView::Participant, organization, action, referral, now)
        })
        .then_some(PlanView::Participant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::enums::{PlanActionStatus, PlanStatus, Priority, ReferralChannel, ReferralStatus};

    fn plan(lead: Uuid) -> individual_plan::Model {
        let now = Utc::now();
        individual_plan::Model {
            id: Uuid::now_v7(),
            person_id: Uuid::now_v7(),
            lead_organization_id: lead,
            status: PlanStatus::Active,
            starts_on: now.date_naive(),
            closed_on: None,
            closing_note_enc: None,
            agreement_signed_on: None,
            agreement_evidence_enc: None,
            row_version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    fn action(plan: Uuid, performer: Uuid, referral: Option<Uuid>) -> plan_action::Model {
        let now = Utc::now();
        plan_action::Model {
            id: Uuid::now_v7(),
            plan_id: plan,
            goal_id: Uuid::now_v7(),
            service_id: Uuid::now_v7(),
            organization_id: performer,
            description_enc: None,
            starts_on: None,
            ends_on: None,
            status: PlanActionStatus::Planned,
            outcome: None,
            referral_id: referral,
            row_version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    fn referral(
        sender: Uuid,
        receiver: Uuid,
        sent: bool,
        until: Option<DateTime<Utc>>,
    ) -> referral::Model {
        let now = Utc::now();
        referral::Model {
            id: Uuid::now_v7(),
            person_id: Uuid::now_v7(),
            sender_organization_id: sender,
            sender_operator: "op".to_owned(),
            receiver_service_id: Uuid::now_v7(),
            receiver_organization_id: receiver,
            protocol_id: None,
            needs: "LANGUAGE".to_owned(),
            reason: String::new(),
            priority: Priority::Normal,
            due_at: None,
            consent_id: None,
            channel: ReferralChannel::Operator,
            rerouted_from_id: None,
            routing_rule_id: None,
            status: if sent {
                ReferralStatus::Sent
            } else {
                ReferralStatus::Draft
            },
            outcome: None,
            sent_at: sent.then_some(now),
            receiver_access_until: until,
            waitlisted: false,
            holds_place: false,
            idempotency_key: None,
            request_hash: None,
            row_version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_plan_is_its_leads_and_a_performers_only_once_its_referral_is_sent_and_readable() {
        let (lead, school, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let now = Utc::now();
        let p = plan(lead);
        let draft = referral(lead, school, false, None);
        let sent = referral(lead, school, true, None);
        let ended = referral(lead, school, true, Some(now - chrono::Duration::days(1)));

        let unstarted = action(p.id, school, None);
        assert_eq!(
            plan_view(lead, &p, std::slice::from_ref(&unstarted), &[], now),
            Some(PlanView::Lead)
        );
        assert_eq!(plan_view(school, &p, &[unstarted], &[], now), None);

        let drafted = action(p.id, school, Some(draft.id));
        assert_eq!(plan_view(school, &p, &[drafted], &[draft], now), None);

        let referred = action(p.id, school, Some(sent.id));
        let others = action(p.id, other, None);
        let actions = [referred.clone(), others.clone()];
        assert_eq!(
            plan_view(school, &p, &actions, std::slice::from_ref(&sent), now),
            Some(PlanView::Participant)
        );
        assert!(sees_plan_action(
            PlanView::Participant,
            school,
            &referred,
            Some(&sent),
            now
        ));
        assert!(!sees_plan_action(
            PlanView::Participant,
            school,
            &others,
            None,
            now
        ));
        assert_eq!(plan_view(other, &p, &actions, &[sent], now), None);

        let expired = action(p.id, school, Some(ended.id));
        assert_eq!(plan_view(school, &p, &[expired], &[ended], now), None);
    }
}
