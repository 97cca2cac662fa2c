//! Webhook queries, and loading endpoints and deliveries as nodes.

use super::service;
use super::types::{WebhookDelivery, WebhookEndpoint, WebhookEndpointConnection, WebhookStatus};
use crate::auth::Viewer;
use crate::context::ContextExt;
use crate::error::{AppError, AppResult, GqlResult};
use crate::pagination::Window;
use async_graphql::{Context, InputObject, Object};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// Filter of `webhookEndpoints`.
#[derive(InputObject, Default)]
pub struct WebhookEndpointFilter {
    /// Only endpoints in these states (e.g. the DISABLED ones).
    pub statuses: Option<Vec<WebhookStatus>>,
}

/// Webhook queries.
#[derive(Default)]
pub struct WebhookQueries;

#[Object]
impl WebhookQueries {
    /// The webhook endpoints of the caller's organization, oldest first: its
    /// ORG_ADMIN, or its client with `webhooks:write`.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only endpoints matching every given condition; all when omitted.")]
        filter: Option<WebhookEndpointFilter>,
        #[graphql(
            desc = "Return at most this many items from the start of the list (1 to 100), with `after`."
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the items after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
        #[graphql(
            desc = "Return at most this many items from the end of the list (1 to 100), with `before`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Return the items before this cursor (an edge's `cursor`).")]
        before: Option<String>,
    ) -> GqlResult<WebhookEndpointConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let statuses = crate::graphql::enums::stored(filter.unwrap_or_default().statuses);
        let (page, total) = service::list(
            ctx.db()?,
            ctx.viewer()?,
            &statuses,
            &window,
            ctx.wants_total(),
        )
        .await?;
        Ok(WebhookEndpointConnection::from_page(page, total))
    }
}

/// The endpoint as a node, for those who manage it (None for everyone else).
pub async fn endpoint_node(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<WebhookEndpoint>> {
    match service::managed(db, viewer, id).await {
        Ok(row) => Ok(Some(row.into())),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// The delivery as a node, with its attempts, for those who manage its endpoint.
pub async fn delivery_node(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<WebhookDelivery>> {
    match service::managed_delivery(db, viewer, id).await {
        Ok(row) => {
            let attempts = service::attempts(db, &[row.id]).await?;
            Ok(Some(WebhookDelivery(row, attempts)))
        }
        Err(AppError::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}
