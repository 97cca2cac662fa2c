//! API clients: creation, rotation and revocation of credentials, and checking them for
//! the token endpoint. Secrets are shown once and stored only as argon2id hashes.

use crate::audit::service::{self as audit, Actor};
use crate::auth::policy;
use crate::auth::viewer::{Viewer, scopes};
use crate::concurrency;
use crate::error::{AppError, AppResult};
use crate::validation::{Checked, FieldErrorCode, Validator};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::{api_client, organization};
use rand::RngCore;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use std::sync::OnceLock;
use uuid::Uuid;

/// Prefix of every client secret, so that leaked secrets are easy to recognise.
pub const SECRET_PREFIX: &str = "melt_cs_";

/// Longest client name.
pub const MAX_NAME_CHARS: usize = 200;

/// A new random secret: 32 random bytes, base64url, with [`SECRET_PREFIX`].
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn hash_now(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the secret: {e}"))
}

/// The argon2id PHC string of a secret (computed off the async runtime).
pub async fn hash_secret(secret: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash_now(&secret))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::Internal)
}

/// A hash no secret matches, checked when the client is unknown so that unknown
/// clients take as long to refuse as wrong secrets.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_now(&generate_secret()).unwrap_or_default())
}

fn verify_now(hash: &str, secret: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
    })
}

/// The scopes of a client, from their stored space-separated form.
pub fn scopes_of(client: &api_client::Model) -> Vec<String> {
    client
        .scopes
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The API clients of an organization, oldest first: its administrator only.
#[tracing::instrument(level = "debug", skip(db, viewer))]
pub async fn list(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    organization: Uuid,
) -> AppResult<Vec<api_client::Model>> {
    policy::require_org_admin(viewer, organization)?;
    Ok(api_client::Entity::find()
        .filter(api_client::Column::OrganizationId.eq(organization))
        .order_by_asc(api_client::Column::CreatedAt)
        .order_by_asc(api_client::Column::Id)
        .all(db)
        .await?)
}

/// What a new client is.
#[derive(Clone, Debug, Default)]
pub struct NewClient {
    /// What the partner system is, for people.
    pub name: String,
    /// Scopes it may be granted (each one of [`scopes::ALL`]).
    pub scopes: Vec<String>,
}

/// A client and its secret in clear: returned once, at creation and rotation.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The client.
    pub client: api_client::Model,
    /// The secret; never stored, never shown again.
    pub secret: String,
}

/// Creates an API client of `organization` and returns its secret, once.
#[tracing::instrument(level = "debug", skip(db, actor, new))]
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    organization: Uuid,
    new: NewClient,
) -> AppResult<Checked<Issued>> {
    concurrency::get::<organization::Entity>(db, organization).await?;
    policy::require_org_admin(&actor.viewer, organization)?;
    let mut v = Validator::default();
    let name = v.name("name", &new.name, MAX_NAME_CHARS);
    let mut granted: Vec<String> = Vec::new();
    for (i, scope) in new.scopes.iter().enumerate() {
        let scope = scope.trim();
        if !scopes::ALL.contains(&scope) {
            v.add(
                &format!("scopes.{i}"),
                FieldErrorCode::Invalid,
                format!("unknown scope; use one of: {}", scopes::ALL.join(", ")),
            );
        } else if !granted.iter().any(|s| s == scope) {
            granted.push(scope.to_owned());
        }
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let secret = generate_secret();
    let now = chrono::Utc::now();
    let client = api_client::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(organization),
        name: Set(name),
        scopes: Set(granted.join(" ")),
        secret_hash: Set(hash_secret(secret.clone()).await?),
        secret_rotated_at: Set(None),
        revoked_at: Set(None),
        last_used_at: Set(None),
        created_by: Set(actor.viewer.subject.clone()),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    audit::log::<api_client::Entity>(db, actor, "createApiClient", None, Some(&client)).await?;
    Ok(Ok(Issued { client, secret }))
}

/// The client to change, read at `expected_version` by its organization's
/// administrator; INVALID_STATE when it is revoked.
async fn active_client(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<api_client::Model>> {
    let client = concurrency::get::<api_client::Entity>(db, id).await?;
    policy::require_org_admin(&actor.viewer, client.organization_id)?;
    concurrency::check_expected(Some(expected_version), client.row_version)?;
    let mut v = Validator::default();
    if client.revoked_at.is_some() {
        v.add(
            "id",
            FieldErrorCode::InvalidState,
            "the API client is revoked",
        );
    }
    Ok(v.into_result(client))
}

/// Writes a change of `before` (its version was checked by [`active_client`]) and records
/// it in the audit log.
async fn save(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    before: &api_client::Model,
    row: api_client::ActiveModel,
) -> AppResult<api_client::Model> {
    let after = concurrency::update::<api_client::Entity, _>(db, row, before, None).await?;
    audit::log::<api_client::Entity>(db, actor, operation, Some(before), Some(&after)).await?;
    Ok(after)
}

/// Replaces the secret of a client; the old one stops working at once.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn rotate_secret(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<Issued>> {
    let before = match active_client(db, actor, id, expected_version).await? {
        Ok(client) => client,
        Err(errors) => return Ok(Err(errors)),
    };
    let secret = generate_secret();
    let mut row: api_client::ActiveModel = before.clone().into();
    row.secret_hash = Set(hash_secret(secret.clone()).await?);
    row.secret_rotated_at = Set(Some(chrono::Utc::now()));
    let client = save(db, actor, "rotateApiClientSecret", &before, row).await?;
    Ok(Ok(Issued { client, secret }))
}

/// Revokes a client: no token can be obtained with it any more.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn revoke(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<api_client::Model>> {
    let before = match active_client(db, actor, id, expected_version).await? {
        Ok(client) => client,
        Err(errors) => return Ok(Err(errors)),
    };
    let mut row: api_client::ActiveModel = before.clone().into();
    row.revoked_at = Set(Some(chrono::Utc::now()));
    Ok(Ok(save(db, actor, "revokeApiClient", &before, row).await?))
}

/// The client these credentials belong to, if they are right and the client is not
/// revoked; `None` whatever the reason (unknown client, wrong secret, revoked), so
/// callers give one answer for all. Records the use in `last_used_at` (not a change of
/// the client: its `row_version` stays).
#[tracing::instrument(level = "debug", skip(db, secret))]
pub async fn authenticate(
    db: &impl ConnectionTrait,
    id: Uuid,
    secret: &str,
) -> AppResult<Option<api_client::Model>> {
    let client = api_client::Entity::find_by_id(id).one(db).await?;
    let hash = client
        .as_ref()
        .map_or_else(|| decoy_hash().to_owned(), |c| c.secret_hash.clone());
    let candidate = secret.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_now(&hash, &candidate))
        .await
        .map_err(AppError::internal)?;
    let Some(client) = client.filter(|c| matches && c.revoked_at.is_none()) else {
        return Ok(None);
    };
    let now = chrono::Utc::now();
    api_client::Entity::update_many()
        .set(api_client::ActiveModel {
            last_used_at: Set(Some(now)),
            ..Default::default()
        })
        .filter(api_client::Column::Id.eq(client.id))
        .exec(db)
        .await?;
    Ok(Some(api_client::Model {
        last_used_at: Some(now),
        ..client
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_prefixed_random_and_verifies_only_against_its_hash() {
        let secret = generate_secret();
        assert!(secret.starts_with(SECRET_PREFIX));
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(&secret[SECRET_PREFIX.len()..])
                .map(|b| b.len())
                .ok(),
            Some(32)
        );
        assert_ne!(secret, generate_secret());
        let hash = hash_now(&secret).unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_now(&hash, &secret));
        assert!(!verify_now(&hash, &generate_secret()));
        assert!(!verify_now(decoy_hash(), &secret));
        assert!(!verify_now("not a hash", &secret));
    }
}
