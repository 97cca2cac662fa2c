//! GraphQL type of API clients. The secret hash is never exposed.

use super::service::scopes_of;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::Scope;
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Timestamp;
use crate::loaders::OrganizationById;
use crate::organization::types::Organization;
use async_graphql::{Context, ID, Object};
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
    #[graphql(deprecation = "Use `organization { id }`. Removed in 0.3.")]
    async fn organization_id(&self) -> ID {
        to_global_id(NodeKind::Organization, self.0.organization_id)
    }
    /// The organization the client acts for.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.organization_id))
            .await
    }
    /// What the partner system is, for people.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Scopes the client may be granted.
    async fn scopes(&self) -> Vec<Scope> {
        Scope::known(&scopes_of(&self.0))
    }
    /// When the client was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the secret was last replaced (null if never).
    async fn secret_rotated_at(&self) -> Option<Timestamp> {
        self.0.secret_rotated_at.map(Timestamp)
    }
    /// When the client was revoked (null while active).
    async fn revoked_at(&self) -> Option<Timestamp> {
        self.0.revoked_at.map(Timestamp)
    }
    /// When the client last obtained a token (null if never).
    async fn last_used_at(&self) -> Option<Timestamp> {
        self.0.last_used_at.map(Timestamp)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
}
