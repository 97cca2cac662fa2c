//! A data subject's requests answered across the whole network (GDPR arts. 15, 17, 20):
//! every organization's record of one codice fiscale, found through the keyed hash.
//! Only the regional data protection officer may do this, with a stated reason; each
//! request is audited (ids and counts, never values) and exports are access-logged.

use super::domain;
use super::privacy::log_access;
use super::protection;
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::{Role, ViewerKind};
use crate::crypto::DataProtection;
use crate::error::AppResult;
use crate::privacy::access::Access;
use crate::validation::{Checked, FieldErrorCode, Validator};
use entity::person;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

/// Longest stated reason.
const MAX_REASON: usize = 500;

/// A data subject's request.
#[derive(Clone, Debug)]
pub struct Request {
    /// The person's codice fiscale.
    pub codice_fiscale: String,
    /// Why (the request's reference, e.g. its protocol number); no personal data.
    pub reason: String,
}

fn require_officer(actor: &Actor) -> AppResult<()> {
    let officer =
        actor.viewer.kind == ViewerKind::User && actor.viewer.has_role(Role::DataProtectionOfficer);
    if officer {
        Ok(())
    } else {
        Err(policy::deny(
            &actor.viewer,
            "only the regional data protection officer may answer a data subject's request",
        ))
    }
}

/// Checks the request; the records of its codice fiscale across the network.
async fn records(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    request: &Request,
) -> AppResult<Checked<(Vec<person::Model>, String)>> {
    let mut v = Validator::default();
    let reason = v.text("reason", &request.reason, MAX_REASON);
    let code = domain::personal_codice_fiscale(&request.codice_fiscale);
    if code.is_none() {
        v.add(
            "codiceFiscale",
            FieldErrorCode::Invalid,
            "must be a personal codice fiscale: 16 characters with a right check character",
        );
    }
    let (Some(code), true) = (code, v.is_ok()) else {
        return Ok(Err(v.finish()));
    };
    let rows = person::Entity::find()
        .filter(person::Column::CodiceFiscaleHash.eq(protection.fingerprint(&code)?))
        .order_by_asc(person::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(Ok((rows, reason)))
}

/// Everything every organization holds about the person: each record with its
/// consents, referrals, events and access log. Audited and access-logged.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn export(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    request: Request,
) -> AppResult<Checked<serde_json::Value>> {
    require_officer(actor)?;
    let (rows, reason) = match records(db, protection, &request).await? {
        Ok(found) => found,
        Err(errors) => return Ok(Err(errors)),
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        log_access(
            db,
            actor,
            row.id,
            &domain::PERSONAL_FIELDS.join(","),
            "dataSubjectExport",
        )
        .await?;
        out.push(protection::holdings(db, protection, row, Access::Owner, None).await?);
    }
    record(db, actor, "exportDataSubject", &rows, &reason).await?;
    Ok(Ok(json!({ "records": out })))
}

/// Erases every organization's record of the person (see
/// [`protection::erase_row`]). Returns the number of records erased now.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn erase(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    request: Request,
) -> AppResult<Checked<u64>> {
    require_officer(actor)?;
    let (rows, reason) = match records(db, protection, &request).await? {
        Ok(found) => found,
        Err(errors) => return Ok(Err(errors)),
    };
    record(db, actor, "eraseDataSubject", &rows, &reason).await?;
    let mut erased = 0;
    for row in rows {
        if protection::erase_row(db, actor, row, "eraseDataSubject").await? {
            erased += 1;
        }
    }
    Ok(Ok(erased))
}

/// The audit entry of a request: the reason and the ids of the records, no values.
async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    rows: &[person::Model],
    reason: &str,
) -> AppResult<()> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    audit::record(
        db,
        actor,
        Change::<(), _> {
            operation,
            object_type: "DataSubjectRequest",
            object_id: Uuid::now_v7(),
            before: None,
            after: Some(&json!({ "reason": reason, "personIds": ids })),
        },
    )
    .await
}
