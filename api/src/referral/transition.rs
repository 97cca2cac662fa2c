//! The state machine at work: one transition for the caller's side, the legal basis
//! of sending, the receiver's first read, cancelling a person's drafts, and expiry.

use super::gates;
use super::lifecycle::{self, Action, Side};
use super::service::{
    Details, EventActor, MAX_REASON, MAX_REASON_CODE, Privacy, access_until, acting_organization,
    append_event, audit_change, get_visible, sides_of,
};
use crate::audit::service::Actor;
use crate::concurrency;
use crate::error::{AppError, AppResult};
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use entity::enums::{ReferralStatus, Taxonomy};
use entity::{consent, person, protocol, referral, service};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

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

fn invalid_state(message: impl Into<String>) -> Vec<crate::validation::FieldError> {
    refused(FieldErrorCode::InvalidState, message)
}

/// One gate of sending, refused: the code a front end shows and the explanation.
fn refused(code: FieldErrorCode, message: impl Into<String>) -> Vec<crate::validation::FieldError> {
    let mut v = Validator::default();
    v.add("id", code, message);
    v.finish()
}

/// The taxonomy whose terms are the reason codes of the stored action `action` (an
/// event's), if it has one.
pub fn reason_taxonomy_of(action: &str) -> Option<Taxonomy> {
    Action::ALL
        .into_iter()
        .find(|a| a.as_str() == action)
        .and_then(reason_taxonomy)
}

/// The taxonomy whose terms are the reason codes of `action`.
fn reason_taxonomy(action: Action) -> Option<Taxonomy> {
    match action {
        Action::Reject => Some(Taxonomy::RejectionReason),
        Action::Cancel => Some(Taxonomy::CancellationReason),
        Action::Fail => Some(Taxonomy::FailureReason),
        Action::Hold => Some(Taxonomy::HoldReason),
        _ => None,
    }
}

/// What a referral is sent on.
struct Basis {
    /// The consent that covers sharing with the receiver.
    consent: consent::Model,
    /// The protocol in force that covers the referral.
    protocol: protocol::Model,
    /// The service has no open place: the referral waits for one.
    waitlisted: bool,
}

/// Takes one of the service's open places for an accepted referral: false when it
/// has none left. True without taking anything when the service does not count its
/// places (`None`). One guarded statement, so two accepts of the last place cannot
/// both take it.
async fn take_place(
    db: &impl ConnectionTrait,
    service_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Option<bool>> {
    let taken = service::Entity::update_many()
        .col_expr(
            service::Column::OpenPlaces,
            Expr::col(service::Column::OpenPlaces).sub(1),
        )
        .col_expr(service::Column::CapacityUpdatedAt, Expr::value(now))
        .col_expr(service::Column::UpdatedAt, Expr::value(now))
        .filter(service::Column::Id.eq(service_id))
        .filter(service::Column::OpenPlaces.gt(0))
        .exec(db)
        .await?;
    if taken.rows_affected == 1 {
        return Ok(Some(true));
    }
    // Nothing taken: full, or the service does not count its places.
    let counted = service::Entity::find_by_id(service_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("service"))?
        .open_places
        .is_some();
    Ok(counted.then_some(false))
}

/// Gives back the place an ended referral held (when the service still counts them).
async fn give_back_place(
    db: &impl ConnectionTrait,
    service_id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    service::Entity::update_many()
        .col_expr(
            service::Column::OpenPlaces,
            Expr::col(service::Column::OpenPlaces).add(1),
        )
        .col_expr(service::Column::CapacityUpdatedAt, Expr::value(now))
        .col_expr(service::Column::UpdatedAt, Expr::value(now))
        .filter(service::Column::Id.eq(service_id))
        .filter(service::Column::OpenPlaces.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The legal basis of sending `row` (its consent and protocol), or every gate that
/// refuses it, each with its own code ([`gates::check`]).
async fn sending_basis(
    db: &impl ConnectionTrait,
    row: &referral::Model,
    accept_waitlist: bool,
    now: DateTime<Utc>,
) -> AppResult<Checked<Basis>> {
    let service = service::Entity::find_by_id(row.receiver_service_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    let person = person::Entity::find_by_id(row.person_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("person"))?;
    let sending = gates::Sending {
        sender: row.sender_organization_id,
        service: &service,
        person: &person,
        accept_waitlist,
    };
    let gates = gates::check(db, &sending, now).await?;
    match (gates.consent, gates.protocol) {
        (Some(consent), Some(protocol)) if gates.refusals.is_empty() => Ok(Ok(Basis {
            consent,
            protocol,
            waitlisted: gates.waitlisted,
        })),
        _ => {
            let mut v = Validator::default();
            for refusal in gates.refusals {
                v.add("id", refusal.code, refusal.message);
            }
            Ok(Err(v.finish()))
        }
    }
}

/// Applies `action` to a referral for the caller's organization (the side it takes
/// decides what it may do). A state the action does not apply to is a user error
/// INVALID_STATE; an action only the other side may take is FORBIDDEN; an
/// organization that neither sends nor receives the referral gets NOT_FOUND.
#[tracing::instrument(level = "debug", skip(db, privacy, actor, details))]
pub async fn transition(
    db: &impl ConnectionTrait,
    privacy: Privacy<'_>,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
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
        concurrency::check_expected(Some(expected_version), before.row_version)?;
        return Ok(Err(invalid_state(format!(
            "cannot {} a referral in state {}",
            verb(action),
            status_name(before.status)
        ))));
    };
    concurrency::check_expected(Some(expected_version), before.row_version)?;
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
    let reason_code = reason_code.map(|code| code.to_ascii_uppercase());
    if let (Some(code), Some(taxonomy)) = (&reason_code, reason_taxonomy(action))
        && !code.is_empty()
    {
        let code = std::slice::from_ref(code);
        crate::taxonomy::service::check_codes(db, &mut v, "reasonCode", taxonomy, code).await?;
    }
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
    let accept_waitlist = details.accept_waitlist && action == Action::Send;
    let details = Details {
        reason_code,
        reason_text,
        declined_by: details.declined_by.filter(|_| action.needs_declined_by()),
        outcome: details.outcome.filter(|_| action.needs_outcome()),
        accept_waitlist,
    };
    let now = Utc::now();
    let mut row: referral::ActiveModel = before.clone().into();
    if action == Action::Send {
        let Basis {
            consent,
            protocol,
            waitlisted,
        } = match sending_basis(db, &before, accept_waitlist, now).await? {
            Ok(basis) => basis,
            Err(errors) => return Ok(Err(errors)),
        };
        row.consent_id = Set(Some(consent.id));
        row.protocol_id = Set(Some(protocol.id));
        row.waitlisted = Set(waitlisted);
        row.due_at = Set(Some(add_working_days(now, protocol.response_time_days)));
        row.sent_at = Set(Some(now));
    }
    if action == Action::Accept {
        match take_place(db, before.receiver_service_id, now).await? {
            None => {}
            Some(true) => {
                row.holds_place = Set(true);
                row.waitlisted = Set(false);
            }
            Some(false) => {
                return Ok(Err(refused(
                    FieldErrorCode::NoOpenPlaces,
                    "the service has no open place: accept the referral when one frees (it stays waiting)",
                )));
            }
        }
    }
    if lifecycle::is_final(target) && before.holds_place {
        give_back_place(db, before.receiver_service_id, now).await?;
        row.holds_place = Set(false);
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
    let after = concurrency::update::<referral::Entity, _>(db, row, &before, None).await?;
    append_event(
        db,
        &EventActor::of(&actor.viewer),
        &after,
        action.as_str(),
        Some(before.status),
        target,
        &details,
    )
    .await?;
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
#[tracing::instrument(level = "debug", skip_all)]
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
        let txn = crate::db::begin_write(db).await?;
        if guarded_status(&txn, &row, ReferralStatus::Received, Utc::now(), None).await? {
            append_event(
                &txn,
                &EventActor::of(&actor.viewer),
                &row,
                Action::MarkReceived.as_str(),
                Some(ReferralStatus::Sent),
                ReferralStatus::Received,
                &Details::default(),
            )
            .await?;
            let after = concurrency::get::<referral::Entity>(&txn, row.id).await?;
            audit_change(&txn, actor, "markReferralReceived", Some(&row), &after).await?;
        }
        let now = concurrency::get::<referral::Entity>(&txn, row.id).await?;
        txn.commit().await?;
        out.push(now);
    }
    Ok(out)
}

/// Cancels the person's DRAFT referrals (their consent was withdrawn), with an event
/// each. Returns how many were cancelled.
#[tracing::instrument(level = "debug", skip_all, fields(%person))]
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
            &row,
            Action::Cancel.as_str(),
            Some(ReferralStatus::Draft),
            ReferralStatus::Cancelled,
            &details,
        )
        .await?;
        let after = concurrency::get::<referral::Entity>(db, row.id).await?;
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
#[tracing::instrument(level = "debug", skip_all)]
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
    let txn = crate::db::begin_write(db).await?;
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
        row,
        Action::Expire.as_str(),
        Some(row.status),
        ReferralStatus::Expired,
        details,
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
}
