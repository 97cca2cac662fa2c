//! GraphQL type of API clients. The secret hash is never exposed.

use super::service::scopes_of;
use crate::graphql::relay::{NodeKind, to_global_id};
use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};
use entity::api_client;

/// Machine credentials of a partner system acting for an organization. Its `id` is the
/// `client_id` for `POST /oauth/token`. Visible to the organization's ORG_ADMIN only.
#[derive(Clone, Debug)]
pub struct ApiClient(pub api_client::Model);

impl From<api_client::Model> for ApiClient {
    fn from(model: api_client::Model) -> Self {
        Self(model)
    }
}

/// Machine credentials of a partner system acting for an organization. Its `id` is the
/// `client_id` for `POST /oauth/token`. Visible to the organization's ORG_ADMIN only.
#[Object]
impl ApiClient {
    /// Global ID; also the `client_id` of the OAuth client credentials grant.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::ApiClient, self.0.id)
    }
    /// Global ID of the organization the client acts for.
    async fn organization_id(&self) -> ID {
        to_global_id(NodeKind::Organization, self.0.organization_id)
    }
    /// What the partner system is, for people.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Scopes the client may be granted.
    async fn scopes(&self) -> Vec<String> {
        scopes_of(&self.0)
    }
    /// When the client was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the secret was last replaced (null if never).
    async fn secret_rotated_at(&self) -> Option<DateTime<Utc>> {
        self.0.secret_rotated_at
    }
    /// When the client was revoked (null while active).
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    /// When the client last obtained a token (null if never).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
}
