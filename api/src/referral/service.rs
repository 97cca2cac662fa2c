//! Referrals: creation, the transitions of the state machine, re-routing, expiry, and
//! the caller's inbox and outbox. Only the sender and receiver organizations see a
//! referral; everyone else reads it as missing.

use super::lifecycle::{self, Action, Side};
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::{Role, Viewer, ViewerKind, scopes};
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::pagination::{Page, Window};
use crate::validation::{Checked, FieldErrorCode, Validator};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use entity::enums::{
    DeclinedBy, Outcome, Priority, ProtocolStatus, ReferralChannel, ReferralStatus, ServiceStatus,
    SignatoryStatus, Taxonomy,
};
use entity::{
    consent, person, protocol, protocol_scope, referral, referral_event, service, service_area,
    signatory, term,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Longest reason of a referral.
const MAX_REASON: usize = 4000;
/// Longest coded reason.
const MAX_REASON_CODE: usize = 64;
/// Longest idempotency key.
const MAX_IDEMPOTENCY_KEY: usize = 200;

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
fn access_until(now: DateTime<Utc>, period: Duration) -> DateTime<Utc> {
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

/// True when the viewer's organization may read the referral now: by the rule of
/// [`crate::person::access`] (its sender always; its receiver once sent, while open
/// and for the access period after).
pub fn is_visible_to(viewer: &Viewer, row: &referral::Model) -> bool {
    acting_organization(viewer)
        .is_ok_and(|org| crate::person::access::can_read_referral(org, row, Utc::now()))
}

/// The sides `organization` takes on the referral (both when it sends to itself).
fn sides_of(organization: Uuid, row: &referral::Model) -> Vec<Side> {
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
struct AuditView {
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

async fn audit_change(
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

/// Why and how a transition happens.
#[derive(Clone, Debug, Default)]
pub struct Details {
    /// Coded reason (required to reject, hold, fail and cancel).
    pub reason_code: Option<String>,
    /// Free-text explanation.
    pub reason_text: Option<String>,
    /// Who declined (required to reject).
    pub declined_by: Option<DeclinedBy>,
    /// Outcome (required to complete).
    pub outcome: Option<Outcome>,
}

/// Who an event is attributed to.
struct EventActor {
    subject: String,
    kind: &'static str,
    organization: Option<Uuid>,
}

impl EventActor {
    fn of(viewer: &Viewer) -> Self {
        Self {
            subject: viewer.subject.clone(),
            kind: match viewer.kind {
                ViewerKind::Anonymous => "ANONYMOUS",
                ViewerKind::User => "USER",
                ViewerKind::Client => "CLIENT",
            },
            organization: viewer.organization,
        }
    }

    fn system() -> Self {
        Self {
            subject: "system".to_owned(),
            kind: "SYSTEM",
            organization: None,
        }
    }
}

async fn append_event(
    db: &impl ConnectionTrait,
    who: &EventActor,
    referral: Uuid,
    action: &str,
    from: Option<ReferralStatus>,
    to: ReferralStatus,
    details: &Details,
) -> AppResult<()> {
    referral_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        referral_id: Set(referral),
        occurred_at: Set(Utc::now()),
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
    Ok(())
}

/// Loads a referral (any organization's) or fails with NOT_FOUND.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<referral::Model> {
    referral::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("referral"))
}

/// Loads a referral the caller's organization sends or receives; others read it as
/// missing (NOT_FOUND), so that they do not learn it exists.
pub async fn get_visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<referral::Model> {
    acting_organization(viewer)?;
    let row = get(db, id).await?;
    if is_visible_to(viewer, &row) {
        Ok(row)
    } else {
        Err(AppError::NotFound("referral"))
    }
}

// ---------------------------------------------------------------------------------
// Creation and re-routing
// ---------------------------------------------------------------------------------

/// A new referral.
#[derive(Clone, Debug)]
pub struct NewReferral {
    /// The person referred.
    pub person: Uuid,
    /// The service referred to; its provider receives the referral.
    pub receiver_service: Uuid,
    /// NEED term codes.
    pub needs: Vec<String>,
    /// Why the person is referred.
    pub reason: String,
    /// Priority.
    pub priority: Priority,
    /// The consent it relies on, if already known.
    pub consent: Option<Uuid>,
    /// How it came in; defaults from the caller (OPERATOR for people, PARTNER_SYSTEM
    /// for machine clients).
    pub channel: Option<ReferralChannel>,
    /// Key that makes retries safe: the same key from the same organization returns
    /// the first referral.
    pub idempotency_key: Option<String>,
}

fn request_hash(input: &NewReferral, needs: &[String], rerouted_from: Option<Uuid>) -> String {
    let normal = serde_json::json!({
        "person": input.person,
        "service": input.receiver_service,
        "needs": needs,
        "reason": input.reason.trim(),
        "priority": input.priority,
        "consent": input.consent,
        "channel": input.channel,
        "reroutedFrom": rerouted_from,
    });
    let digest = Sha256::digest(normal.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a DRAFT referral from the caller's organization.
pub async fn create(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    input: NewReferral,
) -> AppResult<Checked<referral::Model>> {
    let sender = acting_organization(&actor.viewer)?;
    insert(db, protection, actor, sender, input, None).await
}

async fn insert(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    sender: Uuid,
    input: NewReferral,
    rerouted_from: Option<Uuid>,
) -> AppResult<Checked<referral::Model>> {
    let mut v = Validator::default();
    let mut needs: Vec<String> = input
        .needs
        .iter()
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .collect();
    needs.sort();
    needs.dedup();
    let key = v.optional_text(
        "idempotencyKey",
        input.idempotency_key.as_deref(),
        MAX_IDEMPOTENCY_KEY,
    );
    let hash = request_hash(&input, &needs, rerouted_from);
    if let Some(key) = &key {
        let existing = referral::Entity::find()
            .filter(referral::Column::SenderOrganizationId.eq(sender))
            .filter(referral::Column::IdempotencyKey.eq(key.clone()))
            .one(db)
            .await?;
        if let Some(existing) = existing {
            return if existing.request_hash.as_deref() == Some(hash.as_str()) {
                Ok(Ok(existing))
            } else {
                Err(AppError::Conflict(
                    "this idempotency key was already used for a different referral".to_owned(),
                ))
            };
        }
    }
    let reason = v.text("reason", &input.reason, MAX_REASON);
    let is_client = actor.viewer.kind == ViewerKind::Client;
    let channel = match (input.channel, is_client) {
        (None, false) => ReferralChannel::Operator,
        (None, true) => ReferralChannel::PartnerSystem,
        (Some(ReferralChannel::PartnerSystem), false) | (Some(ReferralChannel::Operator), true) => {
            v.add(
                "channel",
                FieldErrorCode::Invalid,
                "people refer through OPERATOR, partner systems through PARTNER_SYSTEM",
            );
            ReferralChannel::Operator
        }
        (Some(channel), _) => channel,
    };
    // A referral is sent from the sender's own record of the person.
    if crate::person::access::access_of(db, input.person, sender).await?
        != Some(crate::person::access::Access::Owner)
    {
        v.add(
            "person",
            FieldErrorCode::NotFound,
            "no such person among your organization's records",
        );
    }
    let service = service::Entity::find_by_id(input.receiver_service)
        .one(db)
        .await?;
    if service.is_none() {
        v.add(
            "receiverService",
            FieldErrorCode::NotFound,
            "no such service",
        );
    }
    if needs.is_empty() {
        v.add("needs", FieldErrorCode::Required, "name at least one need");
    } else {
        let known = term::Entity::find()
            .filter(term::Column::Taxonomy.eq(Taxonomy::Need))
            .filter(term::Column::Code.is_in(needs.clone()))
            .count(db)
            .await?;
        if known != needs.len() as u64 {
            v.add("needs", FieldErrorCode::Invalid, "unknown NEED term code");
        }
    }
    if let Some(consent) = input.consent {
        let found = consent::Entity::find_by_id(consent)
            .filter(consent::Column::PersonId.eq(input.person))
            .count(db)
            .await?;
        if found == 0 {
            v.add(
                "consent",
                FieldErrorCode::NotFound,
                "no such consent of the person",
            );
        }
    }
    let Some(service) = service else {
        return Ok(Err(v.finish()));
    };
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let row = referral::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(input.person),
        sender_organization_id: Set(sender),
        sender_operator: Set(actor.viewer.subject.clone()),
        receiver_service_id: Set(service.id),
        receiver_organization_id: Set(service.organization_id),
        protocol_id: Set(None),
        needs: Set(needs.join(" ")),
        reason: Set(protection.encrypt_text(&reason)?),
        priority: Set(input.priority),
        due_at: Set(None),
        consent_id: Set(input.consent),
        channel: Set(channel),
        rerouted_from_id: Set(rerouted_from),
        status: Set(ReferralStatus::Draft),
        outcome: Set(None),
        sent_at: Set(None),
        receiver_access_until: Set(None),
        idempotency_key: Set(key),
        request_hash: Set(Some(hash)),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|error| match error.sql_err() {
        // A concurrent request with the same key won the race: retrying returns its
        // referral (or CONFLICT if the payloads differ).
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::Conflict(
            "a request with this idempotency key was processed concurrently; retry it".to_owned(),
        ),
        _ => AppError::from(error),
    })?;
    let action = if rerouted_from.is_some() {
        "REROUTE"
    } else {
        "CREATE"
    };
    append_event(
        db,
        &EventActor::of(&actor.viewer),
        row.id,
        action,
        None,
        ReferralStatus::Draft,
        &Details::default(),
    )
    .await?;
    let operation = if rerouted_from.is_some() {
        "rerouteReferral"
    } else {
        "createReferral"
    };
    audit_change(db, actor, operation, None, &row).await?;
    Ok(Ok(row))
}

/// Re-routes a referral that ended without help (REJECTED, EXPIRED, FAILED, CANCELLED)
/// to another service: a new DRAFT linked to it. Sender only.
pub async fn reroute(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    id: Uuid,
    receiver_service: Uuid,
    reason: Option<String>,
    idempotency_key: Option<String>,
) -> AppResult<Checked<referral::Model>> {
    let original = get_visible(db, &actor.viewer, id).await?;
    let org = acting_organization(&actor.viewer)?;
    if org != original.sender_organization_id {
        return Err(AppError::Forbidden(
            "only the sender may re-route a referral".to_owned(),
        ));
    }
    if !lifecycle::can_reroute(original.status) {
        let mut v = Validator::default();
        v.add(
            "id",
            FieldErrorCode::InvalidState,
            format!(
                "cannot re-route a referral in state {}",
                status_name(original.status)
            ),
        );
        return Ok(Err(v.finish()));
    }
    let input = NewReferral {
        person: original.person_id,
        receiver_service,
        needs: original
            .needs
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        reason: match reason.filter(|r| !r.trim().is_empty()) {
            Some(reason) => reason,
            None => protection.decrypt_text(&original.reason)?,
        },
        priority: original.priority,
        consent: original.consent_id,
        channel: None,
        idempotency_key,
    };
    insert(db, protection, actor, org, input, Some(original.id)).await
}

// ---------------------------------------------------------------------------------
// Transitions
// ---------------------------------------------------------------------------------

/// The stored name of a status, for messages.
pub fn status_name(status: ReferralStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Send => "send",
        Action::MarkReceived => "mark as received",
        Action::Accept => "accept",
        Action::Reject => "reject",
        Action::Start => "start",
        Action::Hold => "put on hold",
        Action::Resume => "resume",
        Action::Complete => "complete",
        Action::Fail => "fail",
        Action::Cancel => "cancel",
        Action::Expire => "expire",
    }
}

/// The mutation name of an action, recorded in the audit log.
fn operation(action: Action) -> &'static str {
    match action {
        Action::Send => "sendReferral",
        Action::MarkReceived => "markReferralReceived",
        Action::Accept => "acceptReferral",
        Action::Reject => "rejectReferral",
        Action::Start => "startReferral",
        Action::Hold => "holdReferral",
        Action::Resume => "resumeReferral",
        Action::Complete => "completeReferral",
        Action::Fail => "failReferral",
        Action::Cancel => "cancelReferral",
        Action::Expire => "expireReferral",
    }
}

/// `days` working days (Monday to Friday) after `from`.
pub fn add_working_days(from: DateTime<Utc>, days: i32) -> DateTime<Utc> {
    let mut at = from;
    let mut left = std::cmp::max(days, 0);
    while left > 0 {
        at += Duration::days(1);
        if !matches!(at.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    at
}

/// The protocol in force, signed by both organizations, whose scope covers the
/// municipality: the legal basis of sending a referral between them.
pub async fn shared_protocol(
    db: &impl ConnectionTrait,
    sender: Uuid,
    receiver: Uuid,
    municipality: Uuid,
    today: chrono::NaiveDate,
) -> AppResult<Option<protocol::Model>> {
    let covering = crate::territory::service::covering(db, municipality).await?;
    if covering.is_empty() {
        return Ok(None);
    }
    let signed_by = |org: Uuid| {
        Query::select()
            .column(signatory::Column::ProtocolId)
            .from(signatory::Entity)
            .and_where(signatory::Column::OrganizationId.eq(org))
            .and_where(signatory::Column::Status.eq(SignatoryStatus::Signed))
            .to_owned()
    };
    let in_scope = Query::select()
        .column(protocol_scope::Column::ProtocolId)
        .from(protocol_scope::Entity)
        .and_where(protocol_scope::Column::TerritoryId.is_in(covering))
        .to_owned();
    Ok(protocol::Entity::find()
        .filter(in_force_on(today))
        .filter(protocol::Column::Id.in_subquery(in_scope))
        .filter(protocol::Column::Id.in_subquery(signed_by(sender)))
        .filter(protocol::Column::Id.in_subquery(signed_by(receiver)))
        .order_by_asc(protocol::Column::ResponseTimeDays)
        .order_by_asc(protocol::Column::Id)
        .one(db)
        .await?)
}

fn invalid_state(message: impl Into<String>) -> Vec<crate::validation::FieldError> {
    refused(FieldErrorCode::InvalidState, message)
}

/// One gate of sending, refused: the code a front end shows and the explanation.
fn refused(code: FieldErrorCode, message: impl Into<String>) -> Vec<crate::validation::FieldError> {
    let mut v = Validator::default();
    v.add("id", code, message);
    v.finish()
}

/// The legal basis of sending a referral, or the first gate it fails, each with its own
/// code: the service is not ACTIVE; its area does not cover the person's
/// municipality (or that is unknown); no valid consent for the receiver; no protocol in
/// force that both organizations are signatories of; the receiver invited but not
/// signed; the person's municipality outside every such protocol's scope.
async fn sending_basis(
    db: &impl ConnectionTrait,
    row: &referral::Model,
    now: DateTime<Utc>,
) -> AppResult<Checked<(consent::Model, protocol::Model)>> {
    let service = service::Entity::find_by_id(row.receiver_service_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    if service.status != ServiceStatus::Active {
        return Ok(Err(refused(
            FieldErrorCode::ServiceNotActive,
            "the service is not ACTIVE",
        )));
    }
    let person = person::Entity::find_by_id(row.person_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("person"))?;
    let Some(municipality) = person.residence_municipality_id else {
        return Ok(Err(refused(
            FieldErrorCode::ResidenceUnknown,
            "the person's residence municipality is unknown: no service area or protocol can cover it",
        )));
    };
    let in_area = service_area::Entity::find()
        .filter(service_area::Column::ServiceId.eq(service.id))
        .filter(service_area::Column::MunicipalityId.eq(municipality))
        .count(db)
        .await?;
    if in_area == 0 {
        return Ok(Err(refused(
            FieldErrorCode::OutsideServiceArea,
            "the service's area does not cover the person's municipality",
        )));
    }
    let Some(consent) = crate::person::consent_rules::valid_consent_for(
        db,
        row.person_id,
        row.receiver_organization_id,
        now,
    )
    .await?
    else {
        return Ok(Err(refused(
            FieldErrorCode::NoValidConsent,
            "no valid consent (or other legal basis) covers sharing the person's data with the receiver",
        )));
    };
    let today = now.date_naive();
    if let Some(protocol) = shared_protocol(
        db,
        row.sender_organization_id,
        row.receiver_organization_id,
        municipality,
        today,
    )
    .await?
    {
        return Ok(Ok((consent, protocol)));
    }
    // Why not: the protocols in force the sender signed, and where the receiver stands.
    let in_force = protocols_in_force_signed_by(db, row.sender_organization_id, today).await?;
    let receiver = signatory::Entity::find()
        .filter(signatory::Column::OrganizationId.eq(row.receiver_organization_id))
        .filter(signatory::Column::ProtocolId.is_in(in_force))
        .all(db)
        .await?;
    let (code, message) = if receiver.is_empty() {
        (
            FieldErrorCode::NoProtocolInForce,
            "no protocol in force binds the sender and the receiver",
        )
    } else if receiver.iter().all(|s| s.status != SignatoryStatus::Signed) {
        (
            FieldErrorCode::ReceiverNotSigned,
            "the receiver is invited to a protocol in force with the sender but has not signed it",
        )
    } else {
        (
            FieldErrorCode::OutsideProtocolScope,
            "the person's municipality is outside the scope of every protocol in force both organizations signed",
        )
    };
    Ok(Err(refused(code, message)))
}

/// Ids of the protocols in force on `today` that `organization` has signed.
async fn protocols_in_force_signed_by(
    db: &impl ConnectionTrait,
    organization: Uuid,
    today: chrono::NaiveDate,
) -> AppResult<Vec<Uuid>> {
    let signed = Query::select()
        .column(signatory::Column::ProtocolId)
        .from(signatory::Entity)
        .and_where(signatory::Column::OrganizationId.eq(organization))
        .and_where(signatory::Column::Status.eq(SignatoryStatus::Signed))
        .to_owned();
    Ok(protocol::Entity::find()
        .select_only()
        .column(protocol::Column::Id)
        .filter(in_force_on(today))
        .filter(protocol::Column::Id.in_subquery(signed))
        .into_tuple()
        .all(db)
        .await?)
}

/// Condition on `protocol` rows: in force on `today`.
fn in_force_on(today: chrono::NaiveDate) -> Condition {
    Condition::all()
        .add(protocol::Column::Status.eq(ProtocolStatus::InForce))
        .add(
            Condition::any()
                .add(protocol::Column::ValidFrom.is_null())
                .add(protocol::Column::ValidFrom.lte(today)),
        )
        .add(
            Condition::any()
                .add(protocol::Column::ValidTo.is_null())
                .add(protocol::Column::ValidTo.gte(today)),
        )
}

/// Applies `action` to a referral for the caller's organization (the side it takes
/// decides what it may do). A state the action does not apply to is a user error
/// INVALID_STATE; an action only the other side may take is FORBIDDEN; an
/// organization that neither sends nor receives the referral gets NOT_FOUND.
pub async fn transition(
    db: &impl ConnectionTrait,
    privacy: Privacy<'_>,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
    action: Action,
    details: Details,
) -> AppResult<Checked<referral::Model>> {
    let before = get_visible(db, &actor.viewer, id).await?;
    let org = acting_organization(&actor.viewer)?;
    let sides = sides_of(org, &before);
    let target = sides
        .iter()
        .find_map(|side| lifecycle::next(before.status, action, *side));
    let Some(target) = target else {
        let other_side_may = [Side::Sender, Side::Receiver]
            .into_iter()
            .filter(|s| !sides.contains(s))
            .any(|s| lifecycle::next(before.status, action, s).is_some());
        if other_side_may {
            return Err(AppError::Forbidden(format!(
                "only the other organization may {} this referral",
                verb(action)
            )));
        }
        concurrency::check_expected(expected_version, before.row_version)?;
        return Ok(Err(invalid_state(format!(
            "cannot {} a referral in state {}",
            verb(action),
            status_name(before.status)
        ))));
    };
    concurrency::check_expected(expected_version, before.row_version)?;
    let mut v = Validator::default();
    let reason_code = if action.needs_reason() {
        let code = v.text(
            "reasonCode",
            details.reason_code.as_deref().unwrap_or_default(),
            MAX_REASON_CODE,
        );
        Some(code)
    } else {
        v.optional_text(
            "reasonCode",
            details.reason_code.as_deref(),
            MAX_REASON_CODE,
        )
    };
    let reason_text = v.optional_text("reasonText", details.reason_text.as_deref(), MAX_REASON);
    if action.needs_declined_by() && details.declined_by.is_none() {
        v.add(
            "declinedBy",
            FieldErrorCode::Required,
            "say who declined: PROVIDER or PERSON",
        );
    }
    if action.needs_outcome() && details.outcome.is_none() {
        v.add("outcome", FieldErrorCode::Required, "give the outcome");
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let details = Details {
        reason_code,
        reason_text,
        declined_by: details.declined_by.filter(|_| action.needs_declined_by()),
        outcome: details.outcome.filter(|_| action.needs_outcome()),
    };
    let now = Utc::now();
    let mut row: referral::ActiveModel = before.clone().into();
    if action == Action::Send {
        let (consent, protocol) = match sending_basis(db, &before, now).await? {
            Ok(basis) => basis,
            Err(errors) => return Ok(Err(errors)),
        };
        row.consent_id = Set(Some(consent.id));
        row.protocol_id = Set(Some(protocol.id));
        row.due_at = Set(Some(add_working_days(now, protocol.response_time_days)));
        row.sent_at = Set(Some(now));
    }
    if lifecycle::is_final(target) {
        row.receiver_access_until = Set(Some(access_until(now, privacy.receiver_access)));
    }
    let details = Details {
        reason_text: details
            .reason_text
            .map(|text| privacy.protection.encrypt_text(&text))
            .transpose()?,
        ..details
    };
    if details.outcome.is_some() {
        row.outcome = Set(details.outcome);
    }
    row.status = Set(target);
    row.row_version = Set(before.row_version + 1);
    row.updated_at = Set(now);
    let _ = concurrency::update::<referral::Entity, _>(db, row, &before, None).await?;
    append_event(
        db,
        &EventActor::of(&actor.viewer),
        before.id,
        action.as_str(),
        Some(before.status),
        target,
        &details,
    )
    .await?;
    let after = get(db, before.id).await?;
    audit_change(db, actor, operation(action), Some(&before), &after).await?;
    Ok(Ok(after))
}

/// Moves the referral to `to` only if it is still at `status` and `version`; true when
/// this call did it (so several replicas never both do).
async fn guarded_status(
    db: &impl ConnectionTrait,
    row: &referral::Model,
    to: ReferralStatus,
    now: DateTime<Utc>,
    receiver_access_until: Option<DateTime<Utc>>,
) -> AppResult<bool> {
    let mut update = referral::Entity::update_many();
    if let Some(until) = receiver_access_until {
        update = update.col_expr(referral::Column::ReceiverAccessUntil, Expr::val(until));
    }
    let result = update
        .col_expr(referral::Column::Status, Expr::val(to))
        .col_expr(
            referral::Column::RowVersion,
            Expr::col(referral::Column::RowVersion).add(1),
        )
        .col_expr(referral::Column::UpdatedAt, Expr::val(now))
        .filter(referral::Column::Id.eq(row.id))
        .filter(referral::Column::Status.eq(row.status))
        .filter(referral::Column::RowVersion.eq(row.row_version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks SENT referrals the viewer's organization receives as RECEIVED: their
/// receiver has read them. Returns the rows as they are now.
pub async fn mark_received_on_read<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    rows: Vec<referral::Model>,
) -> AppResult<Vec<referral::Model>> {
    let Ok(org) = acting_organization(&actor.viewer) else {
        return Ok(rows);
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if row.status != ReferralStatus::Sent || row.receiver_organization_id != org {
            out.push(row);
            continue;
        }
        let txn = db.begin().await?;
        if guarded_status(&txn, &row, ReferralStatus::Received, Utc::now(), None).await? {
            append_event(
                &txn,
                &EventActor::of(&actor.viewer),
                row.id,
                Action::MarkReceived.as_str(),
                Some(ReferralStatus::Sent),
                ReferralStatus::Received,
                &Details::default(),
            )
            .await?;
            let after = get(&txn, row.id).await?;
            audit_change(&txn, actor, "markReferralReceived", Some(&row), &after).await?;
        }
        let now = get(&txn, row.id).await?;
        txn.commit().await?;
        out.push(now);
    }
    Ok(out)
}

/// Cancels the person's DRAFT referrals (their consent was withdrawn), with an event
/// each. Returns how many were cancelled.
pub async fn cancel_drafts_of_person(
    db: &impl ConnectionTrait,
    actor: &Actor,
    person: Uuid,
    reason_code: &str,
) -> AppResult<u64> {
    let drafts = referral::Entity::find()
        .filter(referral::Column::PersonId.eq(person))
        .filter(referral::Column::Status.eq(ReferralStatus::Draft))
        .all(db)
        .await?;
    let details = Details {
        reason_code: Some(reason_code.to_owned()),
        ..Details::default()
    };
    let mut cancelled = 0;
    for row in drafts {
        let now = Utc::now();
        if !guarded_status(db, &row, ReferralStatus::Cancelled, now, Some(now)).await? {
            continue;
        }
        append_event(
            db,
            &EventActor::of(&actor.viewer),
            row.id,
            Action::Cancel.as_str(),
            Some(ReferralStatus::Draft),
            ReferralStatus::Cancelled,
            &details,
        )
        .await?;
        let after = get(db, row.id).await?;
        audit_change(db, actor, "cancelReferral", Some(&row), &after).await?;
        cancelled += 1;
    }
    Ok(cancelled)
}

/// Most referrals one round of [`expire_due`] looks at.
const EXPIRY_BATCH: u64 = 500;

/// Marks SENT and RECEIVED referrals whose due date passed EXPIRED, each with a
/// system event. Safe with several replicas: every row is a guarded update, and only
/// the replica whose update took writes the event. Returns how many it expired.
pub async fn expire_due<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    receiver_access: Duration,
) -> AppResult<u64> {
    let until = access_until(now, receiver_access);
    let details = Details {
        reason_code: Some("DUE_DATE_PASSED".to_owned()),
        ..Details::default()
    };
    let mut expired = 0;
    let mut skipped: Vec<Uuid> = Vec::new();
    loop {
        let mut select = referral::Entity::find()
            .filter(
                referral::Column::Status.is_in([ReferralStatus::Sent, ReferralStatus::Received]),
            )
            .filter(referral::Column::DueAt.lt(now));
        if !skipped.is_empty() {
            select = select.filter(referral::Column::Id.is_not_in(skipped.clone()));
        }
        let due = select
            .order_by_asc(referral::Column::DueAt)
            .limit(EXPIRY_BATCH)
            .all(db)
            .await?;
        if due.is_empty() {
            break;
        }
        for row in due {
            match expire_one(db, &row, now, until, &details).await {
                Ok(true) => expired += 1,
                Ok(false) => skipped.push(row.id),
                // Another replica is writing this row right now (SQLite reports the
                // collision instead of waiting): it is theirs.
                Err(AppError::Conflict(_)) => skipped.push(row.id),
                Err(error) => return Err(error),
            }
        }
    }
    Ok(expired)
}

/// Expires one referral in its own transaction; false when another replica (or a
/// transition) changed it first.
async fn expire_one<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    row: &referral::Model,
    now: DateTime<Utc>,
    receiver_access_until: DateTime<Utc>,
    details: &Details,
) -> AppResult<bool> {
    let txn = db.begin().await?;
    if !guarded_status(
        &txn,
        row,
        ReferralStatus::Expired,
        now,
        Some(receiver_access_until),
    )
    .await?
    {
        txn.rollback().await?;
        return Ok(false);
    }
    append_event(
        &txn,
        &EventActor::system(),
        row.id,
        Action::Expire.as_str(),
        Some(row.status),
        ReferralStatus::Expired,
        details,
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

// ---------------------------------------------------------------------------------
// Inbox and outbox
// ---------------------------------------------------------------------------------

/// Which referrals of the caller's organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received by it.
    Inbox,
    /// Sent by it.
    Outbox,
}

/// What to list.
#[derive(Clone, Debug)]
pub struct ReferralQuery {
    /// Inbox or outbox.
    pub direction: Direction,
    /// Only these statuses.
    pub statuses: Vec<ReferralStatus>,
    /// Only to this service.
    pub service: Option<Uuid>,
    /// Only of this person.
    pub person: Option<Uuid>,
    /// Only due before this time.
    pub due_before: Option<DateTime<Utc>>,
    /// Only these priorities.
    pub priorities: Vec<Priority>,
}

fn direction_condition(direction: Direction, org: Uuid) -> Condition {
    match direction {
        Direction::Inbox => crate::person::access::inbox(org, Utc::now()),
        Direction::Outbox => Condition::all().add(referral::Column::SenderOrganizationId.eq(org)),
    }
}

fn priority_rank(priority: Priority) -> i32 {
    match priority {
        Priority::Urgent => 0,
        Priority::High => 1,
        Priority::Normal => 2,
        Priority::Low => 3,
    }
}

fn rank_expr() -> Expr {
    Expr::case(referral::Column::Priority.eq(Priority::Urgent), 0)
        .case(referral::Column::Priority.eq(Priority::High), 1)
        .case(referral::Column::Priority.eq(Priority::Normal), 2)
        .finally(3)
        .into()
}

fn no_due_date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn due_expr() -> Expr {
    Func::coalesce([Expr::col(referral::Column::DueAt), Expr::val(no_due_date())]).into()
}

/// A page request over the inbox/outbox order.
#[derive(Clone, Debug)]
pub struct ListWindow {
    limit: u64,
    backward: bool,
    after: Option<ListCursor>,
    before: Option<ListCursor>,
}

impl ListWindow {
    /// Validates Relay arguments like [`Window::new`], with this list's cursors.
    pub fn new(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> AppResult<Self> {
        let sizes = Window::new(first, None, last, None)?;
        let backward = last.is_some() || (first.is_none() && before.is_some() && after.is_none());
        Ok(Self {
            limit: sizes.limit,
            backward,
            after: after.map(ListCursor::decode).transpose()?,
            before: before.map(ListCursor::decode).transpose()?,
        })
    }
}

/// Position in the inbox/outbox order: priority rank, due date (none last), id.
#[derive(Clone, Debug, PartialEq)]
struct ListCursor {
    rank: i32,
    due: DateTime<Utc>,
    id: Uuid,
}

impl ListCursor {
    fn of(row: &referral::Model) -> Self {
        Self {
            rank: priority_rank(row.priority),
            due: row.due_at.unwrap_or_else(no_due_date),
            id: row.id,
        }
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "r|{}|{}|{}",
            self.rank,
            self.id,
            self.due.to_rfc3339()
        ))
    }

    fn decode(cursor: &str) -> AppResult<Self> {
        let invalid = || AppError::BadUserInput(format!("invalid cursor `{cursor}`"));
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = raw.splitn(4, '|');
        let (Some("r"), Some(rank), Some(id), Some(due)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        Ok(Self {
            rank: rank.parse().map_err(|_| invalid())?,
            id: Uuid::parse_str(id).map_err(|_| invalid())?,
            due: DateTime::parse_from_rfc3339(due)
                .map_err(|_| invalid())?
                .with_timezone(&Utc),
        })
    }

    /// Rows strictly after (`forward`) or before this position.
    fn beyond(&self, forward: bool) -> Condition {
        let (rank, due, id) = (Expr::val(self.rank), Expr::val(self.due), self.id);
        let cmp = |a: Expr, b: Expr| if forward { a.gt(b) } else { a.lt(b) };
        let id_cmp = if forward {
            referral::Column::Id.gt(id)
        } else {
            referral::Column::Id.lt(id)
        };
        Condition::any().add(cmp(rank_expr(), rank.clone())).add(
            Condition::all().add(rank_expr().eq(rank.clone())).add(
                Condition::any()
                    .add(cmp(due_expr(), due.clone()))
                    .add(Condition::all().add(due_expr().eq(due)).add(id_cmp)),
            ),
        )
    }
}

/// Lists the caller's inbox or outbox, most urgent first, then soonest due (referrals
/// without a due date last). Reading SENT referrals in the inbox marks them RECEIVED.
pub async fn list<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    query: &ReferralQuery,
    window: &ListWindow,
    with_total: bool,
) -> AppResult<(Page<referral::Model>, u64)> {
    let org = acting_organization(&actor.viewer)?;
    let mut select = referral::Entity::find().filter(direction_condition(query.direction, org));
    if !query.statuses.is_empty() {
        select = select.filter(referral::Column::Status.is_in(query.statuses.clone()));
    }
    if !query.priorities.is_empty() {
        select = select.filter(referral::Column::Priority.is_in(query.priorities.clone()));
    }
    if let Some(service) = query.service {
        select = select.filter(referral::Column::ReceiverServiceId.eq(service));
    }
    if let Some(person) = query.person {
        select = select.filter(referral::Column::PersonId.eq(person));
    }
    if let Some(due_before) = query.due_before {
        select = select.filter(referral::Column::DueAt.lt(due_before));
    }
    let total = if with_total {
        select.clone().count(db).await?
    } else {
        0
    };
    let mut paged = select;
    if let Some(after) = &window.after {
        paged = paged.filter(after.beyond(true));
    }
    if let Some(before) = &window.before {
        paged = paged.filter(before.beyond(false));
    }
    let order = if window.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut rows = paged
        .order_by(rank_expr(), order.clone())
        .order_by(due_expr(), order.clone())
        .order_by(referral::Column::Id, order)
        .limit(window.limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > window.limit;
    rows.truncate(usize::try_from(window.limit).unwrap_or(usize::MAX));
    if window.backward {
        rows.reverse();
    }
    let rows = if query.direction == Direction::Inbox {
        mark_received_on_read(db, actor, rows).await?
    } else {
        rows
    };
    let items = rows
        .into_iter()
        .map(|row| {
            let cursor = ListCursor::of(&row).encode();
            (row, cursor)
        })
        .collect();
    let (has_next_page, has_previous_page) = if window.backward {
        (window.before.is_some(), more)
    } else {
        (more, window.after.is_some())
    };
    Ok((
        Page {
            items,
            has_next_page,
            has_previous_page,
        },
        total,
    ))
}

/// How many referrals of the caller's inbox or outbox are in each status (every
/// status, zeros included, in lifecycle order).
pub async fn counts(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    direction: Direction,
) -> AppResult<Vec<(ReferralStatus, u64)>> {
    let org = acting_organization(viewer)?;
    let rows: Vec<(ReferralStatus, i64)> = referral::Entity::find()
        .select_only()
        .column(referral::Column::Status)
        .column_as(Expr::col(referral::Column::Id).count(), "count")
        .filter(direction_condition(direction, org))
        .group_by(referral::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(lifecycle::STATUSES
        .into_iter()
        .map(|status| {
            let count = rows
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            (status, count)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 9, 0, 0)
            .single()
            .expect("a date")
    }

    #[test]
    fn working_days_skip_weekends() {
        // Wednesday 2 December 2026 + 3 working days = Monday 7 December.
        assert_eq!(add_working_days(at(2026, 12, 2), 3), at(2026, 12, 7));
        // From a Saturday, the first working day is Monday.
        assert_eq!(add_working_days(at(2026, 12, 5), 1), at(2026, 12, 7));
        // 10 working days are two calendar weeks from a weekday.
        assert_eq!(add_working_days(at(2026, 12, 2), 10), at(2026, 12, 16));
        // Nothing to add, or a negative count, leaves the date alone.
        assert_eq!(add_working_days(at(2026, 12, 2), 0), at(2026, 12, 2));
        assert_eq!(add_working_days(at(2026, 12, 2), -4), at(2026, 12, 2));
    }

    async fn org(db: &impl ConnectionTrait, name: &str) -> Uuid {
        entity::organization::Entity::find()
            .filter(entity::organization::Column::Name.contains(name))
            .one(db)
            .await
            .expect("query")
            .unwrap_or_else(|| panic!("no organization like {name}"))
            .id
    }

    async fn municipality(db: &impl ConnectionTrait, istat: &str) -> Uuid {
        let code = crate::territory::domain::IstatCode::parse(istat).expect("ISTAT code");
        crate::territory::service::municipality_by_code(db, &code)
            .await
            .expect("query")
            .expect("municipality")
            .id
    }

    #[tokio::test]
    async fn the_shared_protocol_needs_both_signatures_a_covered_municipality_and_a_date_in_force()
    {
        let db = crate::db::memory_with_demo().await;
        let (pisa_centre, caritas, arci_prato) = (
            org(&db, "impiego di Pisa").await,
            org(&db, "Caritas diocesana di Pisa").await,
            org(&db, "ARCI Comitato territoriale di Prato").await,
        );
        let pisa = municipality(&db, "050026").await;
        let today = Utc::now().date_naive();
        let found = shared_protocol(&db, pisa_centre, caritas, pisa, today)
            .await
            .expect("query");
        assert!(found.is_some(), "both signed a protocol in force over Pisa");
        // Invited is not signed.
        let invited = shared_protocol(&db, pisa_centre, arci_prato, pisa, today)
            .await
            .expect("query");
        assert!(invited.is_none());
        // Before any protocol was in force.
        let long_ago = NaiveDate::from_ymd_opt(1990, 1, 1).expect("a date");
        let before = shared_protocol(&db, pisa_centre, caritas, pisa, long_ago)
            .await
            .expect("query");
        assert!(before.is_none());
    }
}
