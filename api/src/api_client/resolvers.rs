//! The `apiClients` query.

use super::service;
use super::types::ApiClient;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::relay::{NodeKind, expect_id};
use async_graphql::{Context, ID, Object};

/// API client queries.
#[derive(Default)]
pub struct ApiClientQueries;

#[Object]
impl ApiClientQueries {
    /// The API clients of an organization, oldest first (revoked ones included). Its
    /// ORG_ADMIN only. Secrets are never shown here.
    async fn api_clients(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ID of the organization whose clients to list.")] organization: ID,
    ) -> GqlResult<Vec<ApiClient>> {
        let organization = expect_id(&organization, NodeKind::Organization)?;
        let db = ctx.db()?;
        let viewer = ctx.viewer()?;
        let clients = service::list(db, viewer, organization).await?;
        Ok(clients.into_iter().map(ApiClient).collect())
    }
}
