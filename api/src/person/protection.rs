//! Protecting people's data over time: erasure, the right of access (exports) and the
//! rotation of the keys that encrypt it.

use super::domain::{self};
use super::privacy::{decode_contacts, log_access};
use super::service::{acting_organization, get_own, get_visible};
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::viewer::{Viewer, ViewerKind};
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::AppResult;
use crate::privacy::access::{self, Access};
use chrono::Utc;
use entity::enums::ContactChannel;
use entity::{
    consent, consent_recipient, needs_assessment, person, person_access, routing_decision,
};
use entity::{individual_plan, plan_action, plan_goal, plan_review, referral, referral_event};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;
/// Erases the caller's organization's own record of a person irreversibly (its
/// OPERATOR or ORG_ADMIN, or its client with `persons:write`). Idempotent.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn erase(
    db: &impl ConnectionTrait,
    actor: &Actor,
    person: Uuid,
    expected_version: i32,
) -> AppResult<person::Model> {
    let (row, _) = get_own(db, &actor.viewer, person).await?;
    if row.erased_at.is_none() {
        // An erased record has nothing left to change: a retry is not a conflict.
        concurrency::check_expected(Some(expected_version), row.row_version)?;
    }
    erase_row(db, actor, row, "erasePerson").await?;
    concurrency::get::<person::Entity>(db, person).await
}

/// Removes every personal value of a record: the person's identifiers, names, contacts,
/// birth date, gender, citizenship, languages and residence, and all free text of its
/// referrals, their events and its consents (with the request digests and idempotency
/// keys that could stand for them). What stays is coded and anonymous: states, dates,
/// services, need codes, reason codes, outcomes.
pub(crate) async fn erase_row(
    db: &impl ConnectionTrait,
    actor: &Actor,
    before: person::Model,
    operation: &str,
) -> AppResult<bool> {
    if before.erased_at.is_some() {
        return Ok(false);
    }
    let mut row: person::ActiveModel = before.clone().into();
    row.codice_fiscale_enc = Set(None);
    row.codice_fiscale_hash = Set(None);
    row.given_name_enc = Set(None);
    row.family_name_enc = Set(None);
    row.contacts_enc = Set(None);
    row.birth_date = Set(None);
    row.gender = Set(None);
    row.citizenship = Set(None);
    row.residence_municipality_id = Set(None);
    row.languages = Set(String::new());
    row.contact_channel = Set(ContactChannel::DoNotContact);
    row.erased_at = Set(Some(Utc::now()));
    concurrency::update::<person::Entity, _>(db, row, &before, None).await?;
    let referrals = Query::select()
        .column(referral::Column::Id)
        .from(referral::Entity)
        .and_where(Expr::col(referral::Column::PersonId).eq(before.id))
        .to_owned();
    referral_event::Entity::update_many()
        .col_expr(
            referral_event::Column::ReasonText,
            Expr::value(Option::<String>::None),
        )
        .filter(referral_event::Column::ReferralId.in_subquery(referrals))
        .exec(db)
        .await?;
    // Each party's mirror of these referrals learns that their text is gone: they
    // change (`updatedAt`) and leave an ERASED tombstone for each party.
    let erased = referral::Entity::find()
        .filter(referral::Column::PersonId.eq(before.id))
        .all(db)
        .await?;
    crate::sync::service::referrals_erased(db, &erased).await?;
    referral::Entity::update_many()
        .col_expr(referral::Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(referral::Column::Reason, Expr::value(String::new()))
        .col_expr(
            referral::Column::RequestHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            referral::Column::IdempotencyKey,
            Expr::value(Option::<String>::None),
        )
        .filter(referral::Column::PersonId.eq(before.id))
        .exec(db)
        .await?;
    consent::Entity::update_many()
        .col_expr(consent::Column::Evidence, Expr::value(String::new()))
        .col_expr(consent::Column::Purpose, Expr::value(String::new()))
        .filter(consent::Column::PersonId.eq(before.id))
        .exec(db)
        .await?;
    crate::plan::service::erase_of_person(db, before.id).await?;
    // Assessments keep their coded needs and severities (anonymous facts for
    // statistics); notes and the groups the person belongs to go.
    needs_assessment::Entity::update_many()
        .col_expr(
            needs_assessment::Column::NotesEnc,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            needs_assessment::Column::TargetGroups,
            Expr::value(String::new()),
        )
        .filter(needs_assessment::Column::PersonId.eq(before.id))
        .exec(db)
        .await?;
    audit::record(
        db,
        actor,
        Change::<(), _> {
            operation,
            object_type: "Person",
            object_id: before.id,
            before: None,
            after: Some(&json!({ "erased": true })),
        },
    )
    .await?;
    Ok(true)
}

/// The actor of background jobs.
pub fn system_actor() -> Actor {
    Actor {
        viewer: Viewer {
            kind: ViewerKind::Client,
            subject: "system".to_owned(),
            organization: None,
            roles: Vec::new(),
            scopes: Vec::new(),
            name: None,
        },
        request_id: None,
    }
}

/// Re-encrypts every encrypted value not encrypted with the current key, and encrypts
/// free text written in plaintext before it was protected, 500 rows at a time. Returns
/// the number of rows changed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn rotate_data(db: &impl ConnectionTrait, protection: &DataProtection) -> AppResult<u64> {
    let mut changed = 0;
    let mut last: Option<Uuid> = None;
    loop {
        let mut select = person::Entity::find()
            .order_by_asc(person::Column::Id)
            .limit(500);
        if let Some(last) = last {
            select = select.filter(person::Column::Id.gt(last));
        }
        let rows = select.all(db).await?;
        let Some(tail) = rows.last() else {
            break;
        };
        last = Some(tail.id);
        for row in rows {
            let mut dirty = false;
            let mut again = |value: &Option<String>| -> AppResult<Option<String>> {
                match value {
                    Some(stored) if !protection.is_current(stored) => {
                        dirty = true;
                        protection.encrypt(&protection.decrypt(stored)?).map(Some)
                    }
                    other => Ok(other.clone()),
                }
            };
            let cf = again(&row.codice_fiscale_enc)?;
            let given = again(&row.given_name_enc)?;
            let family = again(&row.family_name_enc)?;
            let contacts = again(&row.contacts_enc)?;
            if dirty {
                person::Entity::update_many()
                    .col_expr(person::Column::CodiceFiscaleEnc, Expr::value(cf))
                    .col_expr(person::Column::GivenNameEnc, Expr::value(given))
                    .col_expr(person::Column::FamilyNameEnc, Expr::value(family))
                    .col_expr(person::Column::ContactsEnc, Expr::value(contacts))
                    .filter(person::Column::Id.eq(row.id))
                    .exec(db)
                    .await?;
                changed += 1;
            }
        }
    }
    changed += rotate_text::<referral::Entity>(
        db,
        protection,
        referral::Column::Id,
        referral::Column::Reason,
    )
    .await?;
    changed += rotate_text::<referral_event::Entity>(
        db,
        protection,
        referral_event::Column::Id,
        referral_event::Column::ReasonText,
    )
    .await?;
    changed += rotate_text::<consent::Entity>(
        db,
        protection,
        consent::Column::Id,
        consent::Column::Evidence,
    )
    .await?;
    changed += rotate_text::<needs_assessment::Entity>(
        db,
        protection,
        needs_assessment::Column::Id,
        needs_assessment::Column::NotesEnc,
    )
    .await?;
    changed += rotate_text::<individual_plan::Entity>(
        db,
        protection,
        individual_plan::Column::Id,
        individual_plan::Column::AgreementEvidenceEnc,
    )
    .await?;
    changed += rotate_text::<individual_plan::Entity>(
        db,
        protection,
        individual_plan::Column::Id,
        individual_plan::Column::ClosingNoteEnc,
    )
    .await?;
    changed += rotate_text::<plan_goal::Entity>(
        db,
        protection,
        plan_goal::Column::Id,
        plan_goal::Column::DescriptionEnc,
    )
    .await?;
    changed += rotate_text::<plan_action::Entity>(
        db,
        protection,
        plan_action::Column::Id,
        plan_action::Column::DescriptionEnc,
    )
    .await?;
    changed += rotate_text::<plan_review::Entity>(
        db,
        protection,
        plan_review::Column::Id,
        plan_review::Column::NotesEnc,
    )
    .await?;
    Ok(changed)
}

/// The free text of `text` in every row of `E`, encrypted with the current key: values
/// of older keys are re-encrypted, plaintext from before encryption is encrypted.
async fn rotate_text<E: EntityTrait>(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    id: E::Column,
    text: E::Column,
) -> AppResult<u64> {
    let mut changed = 0;
    let mut last: Option<Uuid> = None;
    loop {
        let mut select = E::find()
            .select_only()
            .column(id)
            .column(text)
            .order_by_asc(id)
            .limit(500);
        if let Some(last) = last {
            select = select.filter(id.gt(last));
        }
        let rows: Vec<(Uuid, Option<String>)> = select.into_tuple().all(db).await?;
        let Some((tail, _)) = rows.last() else {
            break;
        };
        last = Some(*tail);
        for (row, value) in rows {
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            let plain = match protection.decrypt(&value) {
                Ok(_) if protection.is_current(&value) => continue,
                Ok(plain) => plain,
                // Plaintext from before free text was encrypted.
                Err(_) => value,
            };
            E::update_many()
                .col_expr(text, Expr::value(protection.encrypt(&plain)?))
                .filter(id.eq(row))
                .exec(db)
                .await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The record's personal values the caller may read, decrypted, for exports.
fn export_person(
    protection: &DataProtection,
    row: &person::Model,
    access: Access,
) -> AppResult<serde_json::Value> {
    let shared = |field: access::Field| access.shares(field);
    let decrypt = |value: &Option<String>, field: access::Field| {
        value
            .as_ref()
            .filter(|_| shared(field))
            .map(|v| protection.decrypt(v))
            .transpose()
    };
    let contacts = row
        .contacts_enc
        .as_ref()
        .filter(|_| shared(access::Field::Contacts))
        .map(|c| decode_contacts(protection, c))
        .transpose()?;
    Ok(json!({
        "id": row.id,
        "codiceFiscale": decrypt(&row.codice_fiscale_enc, access::Field::CodiceFiscale)?,
        "givenName": decrypt(&row.given_name_enc, access::Field::Names)?,
        "familyName": decrypt(&row.family_name_enc, access::Field::Names)?,
        "contacts": contacts,
        "birthDate": row.birth_date.filter(|_| shared(access::Field::BirthDate)),
        "gender": row.gender.filter(|_| shared(access::Field::Gender)),
        "citizenship": row.citizenship.as_ref().filter(|_| shared(access::Field::Citizenship)),
        "residenceMunicipalityId": row.residence_municipality_id.filter(|_| shared(access::Field::Residence)),
        "languages": if shared(access::Field::Languages) {
            row.languages.split_whitespace().collect::<Vec<_>>()
        } else {
            Vec::new()
        },
        "contactChannel": row.contact_channel,
        "registeredByOrganizationId": row.registered_by_organization_id,
        "erasedAt": row.erased_at,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }))
}

/// A needs assessment as exported: its notes decrypted.
fn export_assessment(
    protection: &DataProtection,
    assessment: &crate::person::assessment::Assessment,
) -> AppResult<serde_json::Value> {
    let row = &assessment.row;
    Ok(json!({
        "id": row.id,
        "organizationId": row.organization_id,
        "assessor": row.assessor,
        "assessedOn": row.assessed_on,
        "needs": assessment
            .needs
            .iter()
            .map(|n| json!({ "need": n.need_code, "severity": n.severity }))
            .collect::<Vec<_>>(),
        "targetGroups": row.target_groups.split_whitespace().collect::<Vec<_>>(),
        "notes": row
            .notes_enc
            .as_deref()
            .map(|notes| protection.decrypt_text(notes))
            .transpose()?,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }))
}

/// A routing decision as exported: what the rule decided for the person.
fn export_decision(row: &routing_decision::Model) -> serde_json::Value {
    json!({
        "id": row.id,
        "assessmentId": row.assessment_id,
        "ruleId": row.rule_id,
        "need": row.need_code,
        "mode": row.mode,
        "outcome": row.outcome,
        "reason": row.reason,
        "considered": serde_json::from_str::<serde_json::Value>(&row.considered).unwrap_or_default(),
        "referralIds": row.referral_ids.split_whitespace().collect::<Vec<_>>(),
        "decidedAt": row.decided_at,
    })
}

/// A consent as exported: its evidence decrypted.
fn export_consent(
    protection: &DataProtection,
    row: &consent::Model,
    recipients: &[consent_recipient::Model],
) -> AppResult<serde_json::Value> {
    let to: Vec<Uuid> = recipients
        .iter()
        .filter(|r| r.consent_id == row.id)
        .map(|r| r.organization_id)
        .collect();
    Ok(json!({
        "id": row.id,
        "purpose": row.purpose,
        "legalBasis": row.legal_basis,
        "protocolId": row.protocol_id,
        "grantedAt": row.granted_at,
        "expiresAt": row.expires_at,
        "withdrawnAt": row.withdrawn_at,
        "evidenceKind": row.evidence_kind,
        "evidence": protection.decrypt_text(&row.evidence)?,
        "recordedByOrganizationId": row.recorded_by_organization_id,
        "recipientOrganizationIds": to,
    }))
}

/// A referral as exported, with its events: free text decrypted.
fn export_referral(
    protection: &DataProtection,
    row: &referral::Model,
    events: &[referral_event::Model],
) -> AppResult<serde_json::Value> {
    let events = events
        .iter()
        .filter(|e| e.referral_id == row.id)
        .map(|e| {
            Ok(json!({
                "id": e.id,
                "occurredAt": e.occurred_at,
                "actorSubject": e.actor_subject,
                "actorKind": e.actor_kind,
                "actorOrganizationId": e.actor_organization_id,
                "action": e.action,
                "fromStatus": e.from_status,
                "toStatus": e.to_status,
                "reasonCode": e.reason_code,
                "reasonText": e.reason_text.as_deref().map(|t| protection.decrypt_text(t)).transpose()?,
                "declinedBy": e.declined_by,
                "outcome": e.outcome,
            }))
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(json!({
        "id": row.id,
        "status": row.status,
        "senderOrganizationId": row.sender_organization_id,
        "senderOperator": row.sender_operator,
        "receiverServiceId": row.receiver_service_id,
        "receiverOrganizationId": row.receiver_organization_id,
        "protocolId": row.protocol_id,
        "needs": row.needs.split_whitespace().collect::<Vec<_>>(),
        "reason": protection.decrypt_text(&row.reason)?,
        "priority": row.priority,
        "dueAt": row.due_at,
        "consentId": row.consent_id,
        "channel": row.channel,
        "reroutedFromId": row.rerouted_from_id,
        "outcome": row.outcome,
        "sentAt": row.sent_at,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "events": events,
    }))
}

/// What `organization` holds about one record, seen with `access`: the record (its
/// shared fields for a receiver), its consents (owner only), the referrals it sent or
/// received of the record with their events, and the access-log entries of its own
/// reads. `organization: None` (a data subject's request) takes everything.
pub(crate) async fn holdings(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    row: &person::Model,
    access: Access,
    organization: Option<Uuid>,
) -> AppResult<serde_json::Value> {
    let consents = if access.shares(access::Field::Consents) {
        let rows = consent::Entity::find()
            .filter(consent::Column::PersonId.eq(row.id))
            .order_by_asc(consent::Column::GrantedAt)
            .all(db)
            .await?;
        let recipients = consent_recipient::Entity::find()
            .filter(consent_recipient::Column::ConsentId.is_in(rows.iter().map(|c| c.id)))
            .all(db)
            .await?;
        rows.iter()
            .map(|c| export_consent(protection, c, &recipients))
            .collect::<AppResult<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let (assessments, decisions) = if access.shares(access::Field::Assessments) {
        let found = crate::person::assessment::of_persons(db, &[row.id])
            .await?
            .remove(&row.id)
            .unwrap_or_default();
        let decisions = routing_decision::Entity::find()
            .filter(routing_decision::Column::PersonId.eq(row.id))
            .order_by_asc(routing_decision::Column::DecidedAt)
            .all(db)
            .await?;
        (
            found
                .iter()
                .map(|a| export_assessment(protection, a))
                .collect::<AppResult<Vec<_>>>()?,
            decisions.iter().map(export_decision).collect::<Vec<_>>(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let mut referrals = referral::Entity::find().filter(referral::Column::PersonId.eq(row.id));
    let mut accesses =
        person_access::Entity::find().filter(person_access::Column::PersonId.eq(row.id));
    if let Some(organization) = organization {
        referrals = referrals.filter(access::referral_readable(organization, Utc::now()));
        accesses = accesses.filter(person_access::Column::ActorOrganizationId.eq(organization));
    }
    let referrals = referrals
        .order_by_asc(referral::Column::CreatedAt)
        .all(db)
        .await?;
    let events = referral_event::Entity::find()
        .filter(referral_event::Column::ReferralId.is_in(referrals.iter().map(|r| r.id)))
        .order_by_asc(referral_event::Column::OccurredAt)
        .all(db)
        .await?;
    let referrals = referrals
        .iter()
        .map(|r| export_referral(protection, r, &events))
        .collect::<AppResult<Vec<_>>>()?;
    let accesses = accesses
        .order_by_asc(person_access::Column::OccurredAt)
        .all(db)
        .await?;
    let plans =
        crate::plan::service::export_of_person(db, protection, row.id, organization).await?;
    Ok(json!({
        "person": export_person(protection, row, access)?,
        "individualPlans": plans,
        "consents": consents,
        "needsAssessments": assessments,
        "routingDecisions": decisions,
        "referrals": referrals,
        "accessLog": accesses,
    }))
}

/// What the caller's organization holds about a person it sees (the right of access
/// and portability, answered by one organization): see [`holdings`]. Logged in the
/// access log.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn export(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    id: Uuid,
) -> AppResult<serde_json::Value> {
    let (row, access) = get_visible(db, &actor.viewer, id).await?;
    let organization = acting_organization(&actor.viewer)?;
    log_access(db, actor, id, &domain::PERSONAL_FIELDS.join(","), "export").await?;
    holdings(db, protection, &row, access, Some(organization)).await
}
