//! Consents (and other legal bases) for sharing a person's data: recording and
//! withdrawing them. Withdrawing cancels the person's draft referrals.

use super::service as people;
use crate::audit::service::{self as audit, Actor, Change};
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{DateTime, Utc};
use entity::enums::{EvidenceKind, LegalBasis};
use entity::{consent, consent_recipient, organization, person, protocol};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::json;
use uuid::Uuid;

/// A consent to record.
#[derive(Clone, Debug)]
pub struct ConsentData {
    /// The person.
    pub person: Uuid,
    /// What the data may be used for.
    pub purpose: String,
    /// Legal basis.
    pub legal_basis: LegalBasis,
    /// Organizations the data may be shared with.
    pub recipients: Vec<Uuid>,
    /// A protocol whose signatories may receive the data.
    pub protocol: Option<Uuid>,
    /// When it was granted.
    pub granted_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Kind of evidence.
    pub evidence_kind: EvidenceKind,
    /// Reference to the evidence (document number, attestation).
    pub evidence: String,
}

/// The audit view of a consent: no free text that could hold personal data.
fn audit_view(row: &consent::Model, recipients: &[Uuid]) -> serde_json::Value {
    json!({
        "id": row.id,
        "personId": row.person_id,
        "legalBasis": row.legal_basis,
        "protocolId": row.protocol_id,
        "recipientOrganizationIds": recipients,
        "grantedAt": row.granted_at,
        "expiresAt": row.expires_at,
        "withdrawnAt": row.withdrawn_at,
        "evidenceKind": row.evidence_kind,
        "recordedByOrganizationId": row.recorded_by_organization_id,
        "rowVersion": row.row_version,
    })
}

/// Records a consent on the caller's organization's own record of the person (its
/// operator, administrator or client). The evidence is encrypted like the names.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    data: ConsentData,
) -> AppResult<Checked<consent::Model>> {
    let (person, organization) = people::get_own(db, &actor.viewer, data.person).await?;
    let mut v = Validator::default();
    let purpose = v.text("purpose", &data.purpose, 500);
    let evidence = v.text("evidence", &data.evidence, 1000);
    if person.erased_at.is_some() {
        v.add(
            "person",
            FieldErrorCode::InvalidState,
            "the person's data was erased",
        );
    }
    if data.recipients.is_empty() && data.protocol.is_none() {
        v.add(
            "recipients",
            FieldErrorCode::Required,
            "name at least one recipient organization or a protocol",
        );
    }
    let mut recipients = data.recipients.clone();
    recipients.sort();
    recipients.dedup();
    let found = organization::Entity::find()
        .filter(organization::Column::Id.is_in(recipients.clone()))
        .all(db)
        .await?;
    if found.len() != recipients.len() {
        v.add(
            "recipients",
            FieldErrorCode::NotFound,
            "an organization does not exist",
        );
    }
    v.found(
        db,
        "protocol",
        data.protocol.map(protocol::Entity::find_by_id),
    )
    .await?;
    if let Some(expires) = data.expires_at
        && expires <= data.granted_at
    {
        v.add(
            "expiresAt",
            FieldErrorCode::OutOfRange,
            "must be after grantedAt",
        );
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let row = consent::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(person.id),
        purpose: Set(purpose),
        legal_basis: Set(data.legal_basis),
        protocol_id: Set(data.protocol),
        granted_at: Set(data.granted_at),
        expires_at: Set(data.expires_at),
        withdrawn_at: Set(None),
        evidence_kind: Set(data.evidence_kind),
        evidence: Set(protection.encrypt_text(&evidence)?),
        recorded_by_organization_id: Set(organization),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    for recipient in &recipients {
        consent_recipient::ActiveModel {
            consent_id: Set(row.id),
            organization_id: Set(*recipient),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    audit::record(
        db,
        actor,
        Change::<(), _> {
            operation: "recordConsent",
            object_type: "Consent",
            object_id: row.id,
            before: None,
            after: Some(&audit_view(&row, &recipients)),
        },
    )
    .await?;
    Ok(Ok(row))
}

/// Withdraws a consent of the caller's organization's own record (the person's drafts
/// are cancelled by [`crate::casework::withdraw_consent`]).
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn withdraw(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<consent::Model>> {
    let before = visible(db, &actor.viewer, id)
        .await?
        .ok_or(AppError::NotFound("consent"))?;
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    if before.withdrawn_at.is_some() {
        let mut v = Validator::default();
        v.add(
            "id",
            FieldErrorCode::InvalidState,
            "the consent is already withdrawn",
        );
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let mut row: consent::ActiveModel = before.clone().into();
    row.withdrawn_at = Set(Some(now));
    let after = concurrency::update::<consent::Entity, _>(db, row, &before, None).await?;
    let recipients = recipients_of(db, id).await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "withdrawConsent",
            object_type: "Consent",
            object_id: id,
            before: Some(&audit_view(&before, &recipients)),
            after: Some(&audit_view(&after, &recipients)),
        },
    )
    .await?;
    Ok(Ok(after))
}

/// The consents of a person, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(%person))]
pub async fn of_person(db: &impl ConnectionTrait, person: Uuid) -> AppResult<Vec<consent::Model>> {
    Ok(consent::Entity::find()
        .filter(consent::Column::PersonId.eq(person))
        .order_by_desc(consent::Column::GrantedAt)
        .order_by_desc(consent::Column::Id)
        .all(db)
        .await?)
}

/// The recipient organizations named by a consent.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn recipients_of(db: &impl ConnectionTrait, consent: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(consent_recipient::Entity::find()
        .filter(consent_recipient::Column::ConsentId.eq(consent))
        .order_by_asc(consent_recipient::Column::OrganizationId)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.organization_id)
        .collect())
}

/// The consent if it belongs to the caller's organization's own record of the person
/// (consents are never shared with a referral's receiver), None otherwise.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn visible(
    db: &impl ConnectionTrait,
    viewer: &crate::auth::Viewer,
    id: Uuid,
) -> AppResult<Option<consent::Model>> {
    let Ok(organization) = people::acting_organization(viewer) else {
        return Ok(None);
    };
    let own_records = Query::select()
        .column(person::Column::Id)
        .from(person::Entity)
        .and_where(Expr::col(person::Column::RegisteredByOrganizationId).eq(organization))
        .to_owned();
    Ok(consent::Entity::find_by_id(id)
        .filter(consent::Column::PersonId.in_subquery(own_records))
        .one(db)
        .await?)
}
