//! What every referral job shares: who acts for which side, visibility, the audit view
//! and the event history. The jobs themselves are [`super::create`] (creation and
//! re-routing), [`super::transition`] (the state machine and expiry) and
//! [`super::inbox`] (the caller's inbox and outbox). Only the sender and receiver
//! organizations see a referral; everyone else reads it as missing.

pub use super::lifecycle::Details;
use super::lifecycle::Side;
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::{Role, Viewer, ViewerKind, scopes};
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Duration, Utc};
use entity::enums::{Outcome, Priority, ReferralChannel, ReferralStatus};
use entity::{referral, referral_event};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait};
use serde::Serialize;
use uuid::Uuid;

/// Longest reason of a referral.
pub(crate) const MAX_REASON: usize = 4000;
/// Longest coded reason.
pub(crate) const MAX_REASON_CODE: usize = 64;
/// Longest idempotency key.
pub(crate) const MAX_IDEMPOTENCY_KEY: usize = 200;

/// What protects people's data in referral changes: the keys that encrypt free text,
/// and how long a receiver keeps reading a referral after it ended.
#[derive(Clone, Copy)]
pub struct Privacy<'a> {
    /// Encrypts reasons and event texts.
    pub protection: &'a DataProtection,
    /// The receiver's access period after the referral ended.
    pub receiver_access: Duration,
}

/// Until when the receiver reads a referral that ends at `now`, given the access period.
pub(crate) fn access_until(now: DateTime<Utc>, period: Duration) -> DateTime<Utc> {
    now.checked_add_signed(period)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The organization the caller acts for on referrals: an OPERATOR or ORG_ADMIN of it,
/// or a machine client of it with the `referrals:write` scope. Anyone else is refused
/// (anonymous callers must authenticate; regional administrators are forbidden).
pub fn acting_organization(viewer: &Viewer) -> AppResult<Uuid> {
    let allowed = match viewer.kind {
        ViewerKind::User => viewer.has_role(Role::Operator) || viewer.has_role(Role::OrgAdmin),
        ViewerKind::Client => viewer.has_scope(scopes::REFERRALS_WRITE),
        ViewerKind::Anonymous => false,
    };
    match viewer.organization {
        Some(organization) if allowed => Ok(organization),
        _ => Err(policy::deny(
            viewer,
            "only an OPERATOR or ORG_ADMIN of an organization, or its client with the `referrals:write` scope, may work on referrals",
        )),
    }
}

/// The organization whose referrals the caller reads: an OPERATOR or ORG_ADMIN of it,
/// or a machine client of it with `referrals:read` or `referrals:write`. Reading needs
/// no write power; every change still needs [`acting_organization`].
pub fn reading_organization(viewer: &Viewer) -> AppResult<Uuid> {
    let allowed = match viewer.kind {
        ViewerKind::User => viewer.has_role(Role::Operator) || viewer.has_role(Role::OrgAdmin),
        ViewerKind::Client => {
            viewer.has_scope(scopes::REFERRALS_READ) || viewer.has_scope(scopes::REFERRALS_WRITE)
        }
        ViewerKind::Anonymous => false,
    };
    match viewer.organization {
        Some(organization) if allowed => Ok(organization),
        _ => Err(policy::deny(
            viewer,
            "only an OPERATOR or ORG_ADMIN of an organization, or its client with the `referrals:read` or `referrals:write` scope, may read referrals",
        )),
    }
}

/// True when the viewer's organization may read the referral now: by the rule of
/// [`crate::privacy::access`] (its sender always; its receiver once sent, while open
/// and for the access period after).
pub fn is_visible_to(viewer: &Viewer, row: &referral::Model) -> bool {
    reading_organization(viewer)
        .is_ok_and(|org| crate::privacy::access::can_read_referral(org, row, Utc::now()))
}

/// The sides `organization` takes on the referral (both when it sends to itself).
pub(crate) fn sides_of(organization: Uuid, row: &referral::Model) -> Vec<Side> {
    let mut sides = Vec::new();
    if organization == row.sender_organization_id {
        sides.push(Side::Sender);
    }
    if organization == row.receiver_organization_id {
        sides.push(Side::Receiver);
    }
    sides
}

/// What the audit log keeps of a referral: no free text, no personal data.
#[derive(Serialize)]
pub(crate) struct AuditView {
    id: Uuid,
    status: ReferralStatus,
    sender_organization_id: Uuid,
    receiver_organization_id: Uuid,
    receiver_service_id: Uuid,
    protocol_id: Option<Uuid>,
    priority: Priority,
    due_at: Option<DateTime<Utc>>,
    channel: ReferralChannel,
    rerouted_from_id: Option<Uuid>,
    outcome: Option<Outcome>,
    row_version: i32,
}

impl From<&referral::Model> for AuditView {
    fn from(row: &referral::Model) -> Self {
        Self {
            id: row.id,
            status: row.status,
            sender_organization_id: row.sender_organization_id,
            receiver_organization_id: row.receiver_organization_id,
            receiver_service_id: row.receiver_service_id,
            protocol_id: row.protocol_id,
            priority: row.priority,
            due_at: row.due_at,
            channel: row.channel,
            rerouted_from_id: row.rerouted_from_id,
            outcome: row.outcome,
            row_version: row.row_version,
        }
    }
}

pub(crate) async fn audit_change(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    before: Option<&referral::Model>,
    after: &referral::Model,
) -> AppResult<()> {
    let before = before.map(AuditView::from);
    let after_view = AuditView::from(after);
    audit::record(
        db,
        actor,
        Change {
            operation,
            object_type: "Referral",
            object_id: after.id,
            before: before.as_ref(),
            after: Some(&after_view),
        },
    )
    .await
}

/// Who an event is attributed to.
pub(crate) struct EventActor {
    subject: String,
    kind: &'static str,
    organization: Option<Uuid>,
}

impl EventActor {
    pub(crate) fn of(viewer: &Viewer) -> Self {
        Self {
            subject: viewer.subject.clone(),
            kind: viewer.kind.as_str(),
            organization: viewer.organization,
        }
    }

    pub(crate) fn system() -> Self {
        Self {
            subject: "system".to_owned(),
            kind: "SYSTEM",
            organization: None,
        }
    }
}

/// The outbox type of a referral action.
fn event_type(action: &str) -> &'static str {
    match action {
        "CREATE" => "referral.created",
        "REROUTE" => "referral.rerouted",
        "SEND" => "referral.sent",
        "MARK_RECEIVED" => "referral.received",
        "ACCEPT" => "referral.accepted",
        "REJECT" => "referral.rejected",
        "START" => "referral.started",
        "HOLD" => "referral.held",
        "RESUME" => "referral.resumed",
        "COMPLETE" => "referral.completed",
        "FAIL" => "referral.failed",
        "CANCEL" => "referral.cancelled",
        _ => "referral.expired",
    }
}

/// Appends a step to a referral's history and writes its event to the outbox, for the
/// sender and, once the referral was sent, its receiver (a draft, and a draft cancelled
/// unsent, are the sender's alone); keeps its statistics fact row ([`super::facts`]).
pub(crate) async fn append_event(
    db: &impl ConnectionTrait,
    who: &EventActor,
    referral: &referral::Model,
    action: &str,
    from: Option<ReferralStatus>,
    to: ReferralStatus,
    details: &Details,
) -> AppResult<()> {
    let unsent = to == ReferralStatus::Draft
        || (from == Some(ReferralStatus::Draft) && to == ReferralStatus::Cancelled);
    let mut audience = vec![referral.sender_organization_id];
    if !unsent {
        audience.push(referral.receiver_organization_id);
    }
    crate::events::service::record(
        db,
        event_type(action),
        (crate::graphql::relay::NodeKind::Referral, referral.id),
        crate::events::service::Audience::Organizations(audience),
    )
    .await?;
    let now = Utc::now();
    referral_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        referral_id: Set(referral.id),
        occurred_at: Set(now),
        actor_subject: Set(who.subject.clone()),
        actor_kind: Set(who.kind.to_owned()),
        actor_organization_id: Set(who.organization),
        action: Set(action.to_owned()),
        from_status: Set(from),
        to_status: Set(to),
        reason_code: Set(details.reason_code.clone()),
        reason_text: Set(details.reason_text.clone()),
        declined_by: Set(details.declined_by),
        outcome: Set(details.outcome),
    }
    .insert(db)
    .await?;
    crate::plan::service::follow_referral(db, referral, from, to, details.outcome).await?;
    super::facts::record(db, referral, from, to, details, now).await
}

/// Loads a referral the caller's organization sends or receives; others read it as
/// missing (NOT_FOUND), so that they do not learn it exists. A change checks
/// [`acting_organization`] besides (a reader without write power: FORBIDDEN).
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn get_visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<referral::Model> {
    reading_organization(viewer)?;
    let row = concurrency::get::<referral::Entity>(db, id).await?;
    if is_visible_to(viewer, &row) {
        Ok(row)
    } else {
        Err(AppError::NotFound("referral"))
    }
}
