//! Whether a verified token still stands: the organization it names exists, and the API
//! client it was issued to exists, belongs to that organization and is not revoked.
//!
//! A signature proves who issued a token, not that what it names is still there. This
//! is checked against the database once per HTTP request (a batch included) and once per
//! websocket operation: one primary-key lookup, never one per field.

use super::viewer::{Viewer, ViewerKind};
use crate::error::AppResult;
use crate::graphql::relay::{NodeKind, expect_id};
use entity::{api_client, organization};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

/// Prefix of the subject of tokens issued by `POST /oauth/token`.
pub const CLIENT_SUBJECT_PREFIX: &str = "client:";

/// The verdict on a verified token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Everything it names exists.
    Good,
    /// Its organization or API client does not exist (or the client moved).
    Unknown,
    /// Its API client was revoked.
    Revoked,
}

/// The API client a client token was issued to, when its subject is `client:<ID>` with
/// the global ID of an API client (tokens of `POST /oauth/token`).
pub fn api_client_of(viewer: &Viewer) -> Option<Uuid> {
    if viewer.kind != ViewerKind::Client {
        return None;
    }
    let id = viewer.subject.strip_prefix(CLIENT_SUBJECT_PREFIX)?;
    expect_id(&async_graphql::ID(id.to_owned()), NodeKind::ApiClient).ok()
}

/// Checks a verified caller against the database (one query at most).
///
/// A token of one of our API clients (subject `client:<ID>`) must name an existing,
/// unrevoked client of the token's organization. Any other token naming an organization
/// must name an existing one. Anonymous callers and tokens without an organization need
/// no query.
pub async fn check(db: &impl ConnectionTrait, viewer: &Viewer) -> AppResult<Standing> {
    if let Some(client) = api_client_of(viewer) {
        let row: Option<(Uuid, Option<chrono::DateTime<chrono::Utc>>)> =
            api_client::Entity::find_by_id(client)
                .select_only()
                .column(api_client::Column::OrganizationId)
                .column(api_client::Column::RevokedAt)
                .into_tuple()
                .one(db)
                .await?;
        return Ok(match row {
            None => Standing::Unknown,
            Some((organization, _)) if Some(organization) != viewer.organization => {
                Standing::Unknown
            }
            Some((_, Some(_))) => Standing::Revoked,
            Some((_, None)) => Standing::Good,
        });
    }
    let Some(organization) = viewer.organization else {
        return Ok(Standing::Good);
    };
    let found: Option<Uuid> = organization::Entity::find()
        .select_only()
        .column(organization::Column::Id)
        .filter(organization::Column::Id.eq(organization))
        .into_tuple()
        .one(db)
        .await?;
    Ok(if found.is_some() {
        Standing::Good
    } else {
        Standing::Unknown
    })
}
