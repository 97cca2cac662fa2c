//! Signatories: organizations invited to a protocol, signing it and withdrawing from it.

use super::service::{REASON_MAX, insert_signatory, invitation, require_status, status_name};
use crate::audit::service::{self as audit, Actor, log_with};
use crate::auth::policy;
use crate::auth::viewer::{Role, ViewerKind};
use crate::concurrency;
use crate::error::AppResult;
use crate::validation::is_sha256;
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::Utc;
use entity::enums::{ProtocolStatus, SignatoryRole, SignatoryStatus};
use entity::{organization, protocol, signatory};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Longest name or title of a signer.
const SIGNER_MAX: usize = 200;

/// A signature of a protocol by an organization's legal representative.
#[derive(Clone, Debug, Default)]
pub struct Signature {
    /// Name of the legal representative.
    pub signed_by_name: String,
    /// Title of the legal representative.
    pub signed_by_title: String,
    /// SHA-256 of the document signed.
    pub document_sha256: String,
}

/// A public event about a signatory.
async fn signatory_event(
    db: &impl ConnectionTrait,
    event: &'static str,
    row: &signatory::Model,
) -> AppResult<()> {
    // The signatories are part of the protocol as readers see it: it changed too.
    concurrency::touch::<entity::protocol::Entity>(db, row.protocol_id).await?;
    let kind = crate::graphql::relay::NodeKind::Signatory;
    crate::events::service::public(db, event, kind, row.id).await
}

/// Regional administrators, or an administrator of one of the protocol's promoters.
pub async fn require_admin_or_lead(
    db: &impl ConnectionTrait,
    actor: &Actor,
    protocol_id: Uuid,
) -> AppResult<()> {
    let viewer = &actor.viewer;
    if policy::require_regional_admin(viewer).is_ok() {
        return Ok(());
    }
    if viewer.kind == ViewerKind::User && viewer.has_role(Role::OrgAdmin) {
        let leads = signatory::Entity::find()
            .filter(signatory::Column::ProtocolId.eq(protocol_id))
            .filter(signatory::Column::Role.eq(SignatoryRole::Promoter))
            .filter(signatory::Column::Status.ne(SignatoryStatus::Withdrawn))
            .all(db)
            .await?;
        if leads
            .iter()
            .any(|lead| policy::require_org_admin(viewer, lead.organization_id).is_ok())
        {
            return Ok(());
        }
    }
    Err(policy::deny(
        viewer,
        "only the regional administration or an administrator of the protocol's lead organization may invite signatories",
    ))
}

/// Invites an organization to a protocol DRAFT or OPEN_FOR_SIGNATURE; an organization
/// that withdrew is invited again. Regional administrators, or an administrator of the
/// protocol's lead (promoter) organization.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn invite(
    db: &impl ConnectionTrait,
    actor: &Actor,
    protocol_id: Uuid,
    organization_id: Uuid,
    role: SignatoryRole,
) -> AppResult<Checked<signatory::Model>> {
    let protocol = concurrency::get::<protocol::Entity>(db, protocol_id).await?;
    require_admin_or_lead(db, actor, protocol_id).await?;
    let mut v = Validator::default();
    require_status(
        &mut v,
        "protocol",
        ("the protocol", protocol.status),
        &[ProtocolStatus::Draft, ProtocolStatus::OpenForSignature],
        "organizations may be invited only while it is DRAFT or OPEN_FOR_SIGNATURE",
    );
    v.found(
        db,
        "organization",
        organization::Entity::find_by_id(organization_id),
    )
    .await?;
    let existing = signatory::Entity::find()
        .filter(signatory::Column::ProtocolId.eq(protocol_id))
        .filter(signatory::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?;
    if let Some(existing) = &existing
        && existing.status != SignatoryStatus::Withdrawn
    {
        v.add(
            "organization",
            FieldErrorCode::Taken,
            format!(
                "the organization is already {} in this protocol",
                status_name(existing.status)
            ),
        );
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let after = match &existing {
        Some(before) => {
            let row = invitation(role, Utc::now());
            concurrency::update::<signatory::Entity, _>(db, row, before, None).await?
        }
        None => insert_signatory(db, protocol_id, organization_id, role).await?,
    };
    audit::log::<signatory::Entity>(
        db,
        actor,
        "inviteSignatory",
        existing.as_ref(),
        Some(&after),
    )
    .await?;
    signatory_event(db, "signatory.invited", &after).await?;
    Ok(Ok(after))
}

/// Signs an invitation, on behalf of the invited organization: its administrators
/// only. The protocol must be OPEN_FOR_SIGNATURE or IN_FORCE and, when it has a
/// document, the signed document must be that one.
#[tracing::instrument(level = "debug", skip(db, actor, signature))]
pub async fn sign(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    signature: Signature,
) -> AppResult<Checked<signatory::Model>> {
    let before = concurrency::get::<signatory::Entity>(db, id).await?;
    policy::require_org_admin(&actor.viewer, before.organization_id)?;
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    let protocol = concurrency::get::<protocol::Entity>(db, before.protocol_id).await?;
    let mut v = Validator::default();
    require_status(
        &mut v,
        "signatory",
        ("the adherence", before.status),
        &[SignatoryStatus::Invited],
        "only an invitation (INVITED) can be signed",
    );
    require_status(
        &mut v,
        "signatory",
        ("the protocol", protocol.status),
        &[ProtocolStatus::OpenForSignature, ProtocolStatus::InForce],
        "it can be signed only while OPEN_FOR_SIGNATURE or IN_FORCE",
    );
    let name = v.name("signedByName", &signature.signed_by_name, SIGNER_MAX);
    let title = v.name("signedByTitle", &signature.signed_by_title, SIGNER_MAX);
    let document = signature.document_sha256.trim().to_ascii_lowercase();
    if document.is_empty() {
        v.add(
            "documentSha256",
            FieldErrorCode::Required,
            "must not be blank",
        );
    } else if !is_sha256(&document) {
        v.add(
            "documentSha256",
            FieldErrorCode::Invalid,
            "is not a SHA-256 (64 hexadecimal digits)",
        );
    } else if let Some(published) = &protocol.document_sha256
        && !published.eq_ignore_ascii_case(&document)
    {
        v.add(
            "documentSha256",
            FieldErrorCode::Invalid,
            "signed a different document: the SHA-256 is not the protocol document's",
        );
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: signatory::ActiveModel = before.clone().into();
    row.status = Set(SignatoryStatus::Signed);
    row.signed_at = Set(Some(Utc::now()));
    row.signed_by_name = Set(Some(name));
    row.signed_by_title = Set(Some(title));
    let after =
        concurrency::update::<signatory::Entity, _>(db, row, &before, Some(expected_version))
            .await?;
    let document = ("documentSha256", serde_json::json!(document));
    log_with::<signatory::Entity>(db, actor, "signProtocol", Some(&before), &after, document)
        .await?;
    signatory_event(db, "signatory.signed", &after).await?;
    Ok(Ok(after))
}

/// Withdraws an organization's adherence (INVITED or SIGNED), for a reason: an
/// administrator of that organization or a regional administrator.
#[tracing::instrument(level = "debug", skip(db, actor, reason))]
pub async fn withdraw(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    reason: &str,
) -> AppResult<Checked<signatory::Model>> {
    let before = concurrency::get::<signatory::Entity>(db, id).await?;
    if policy::require_regional_admin(&actor.viewer).is_err() {
        policy::require_org_admin(&actor.viewer, before.organization_id)?;
    }
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    let mut v = Validator::default();
    require_status(
        &mut v,
        "signatory",
        ("the adherence", before.status),
        &[SignatoryStatus::Invited, SignatoryStatus::Signed],
        "only an INVITED or SIGNED one can be withdrawn",
    );
    let reason = v.text("reason", reason, REASON_MAX);
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: signatory::ActiveModel = before.clone().into();
    row.status = Set(SignatoryStatus::Withdrawn);
    row.withdrawn_at = Set(Some(Utc::now()));
    let after =
        concurrency::update::<signatory::Entity, _>(db, row, &before, Some(expected_version))
            .await?;
    let reason = ("reason", serde_json::json!(reason));
    log_with::<signatory::Entity>(
        db,
        actor,
        "withdrawSignatory",
        Some(&before),
        &after,
        reason,
    )
    .await?;
    signatory_event(db, "signatory.withdrawn", &after).await?;
    Ok(Ok(after))
}
