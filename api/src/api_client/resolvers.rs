//! The `apiClients` query.

use super::service;
use super::types::ApiClient;
use crate::auth::Viewer;
use crate::error::GqlResult;
use crate::graphql::relay::{NodeKind, expect_id};
use async_graphql::{Context, ID, Object};
use sea_orm::DatabaseConnection;

/// API client queries.
#[derive(Default)]
pub struct ApiClientQueries;

#[Object]
impl ApiClientQueries {
    /// The API clients of an organization, oldest first (revoked ones included). Its
    /// ORG_ADMIN only. Secrets are never shown here.
    async fn api_clients(&self, ctx: &Context<'_>, organization: ID) -> GqlResult<Vec<ApiClient>> {
        let organization = expect_id(&organization, NodeKind::Organization)?;
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let viewer = ctx.data_unchecked::<Viewer>();
        let clients = service::list(db, viewer, organization).await?;
        Ok(clients.into_iter().map(ApiClient).collect())
    }
}
