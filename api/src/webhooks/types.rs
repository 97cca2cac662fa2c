//! GraphQL types of webhooks: endpoints, deliveries and their attempts. Secrets are
//! never readable (only the mutation that issues one returns it, once).

use super::service;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::mirror_enum;
use crate::graphql::relay::{NodeKind, subject_global_id, to_global_id};
use crate::graphql::scalars::Timestamp;
use crate::loaders::OrganizationById;
use crate::organization::types::Organization;
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint};
use std::collections::HashMap;

mirror_enum!(
    /// Whether a webhook endpoint receives deliveries.
    WebhookStatus => entity::enums::WebhookStatus {
        /// Deliveries are made.
        Active,
        /// No delivery is made (by an administrator, or after repeated failure); events
        /// keep being recorded, and re-enabling resumes where it stopped.
        Disabled,
    }
);

mirror_enum!(
    /// Where one delivery stands.
    DeliveryState => entity::enums::DeliveryState {
        /// Not yet accepted by the receiver: attempted again at `nextAttemptAt`.
        Pending,
        /// The receiver answered 2xx.
        Delivered,
        /// Given up after the retry period (re-deliver it with `redeliverWebhook`).
        Failed,
    }
);

/// Where an organization wants its events posted. Visible to the organization's
/// ORG_ADMIN and its clients with `webhooks:write`.
#[derive(Clone, Debug)]
pub struct WebhookEndpoint(pub webhook_endpoint::Model);

impl From<webhook_endpoint::Model> for WebhookEndpoint {
    fn from(model: webhook_endpoint::Model) -> Self {
        Self(model)
    }
}

/// Filter of `WebhookEndpoint.deliveries`.
#[derive(InputObject, Default)]
pub struct WebhookDeliveryFilter {
    /// Only deliveries in these states.
    pub states: Option<Vec<DeliveryState>>,
}

/// Where an organization wants its events posted, signed as the Standard Webhooks
/// specification says.
#[Object]
impl WebhookEndpoint {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::WebhookEndpoint, self.0.id)
    }
    /// Global ID of the organization whose events it receives.
    #[graphql(deprecation = "Use `organization { id }`. Removed in 0.3.")]
    async fn organization_id(&self) -> ID {
        to_global_id(NodeKind::Organization, self.0.organization_id)
    }
    /// The organization whose events it receives.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.organization_id))
            .await
    }
    /// Where deliveries are posted.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// For people.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The event types it receives; empty: every type its organization may see.
    async fn event_types(&self) -> Vec<&str> {
        self.0.event_types.split_whitespace().collect()
    }
    /// Whether deliveries are made.
    async fn status(&self) -> WebhookStatus {
        self.0.status.into()
    }
    /// Why it was disabled (null while active).
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// When it was disabled (null while active).
    async fn disabled_at(&self) -> Option<Timestamp> {
        self.0.disabled_at.map(Timestamp)
    }
    /// Failed attempts since the last successful one.
    async fn consecutive_failures(&self) -> i32 {
        self.0.consecutive_failures
    }
    /// When it was registered.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing it.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// The delivery log: one delivery per event, latest event first, each with its
    /// attempts.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deliveries matching every given condition; all when omitted.")]
        filter: Option<WebhookDeliveryFilter>,
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
    ) -> GqlResult<WebhookDeliveryConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let db = ctx.db()?;
        let states = crate::graphql::enums::stored(filter.unwrap_or_default().states);
        let (page, total) =
            service::deliveries(db, self.0.id, &states, &window, ctx.wants_total()).await?;
        let ids: Vec<_> = page.items.iter().map(|(d, _)| d.id).collect();
        let mut attempts: HashMap<uuid::Uuid, Vec<webhook_attempt::Model>> = HashMap::new();
        for attempt in service::attempts(db, &ids).await? {
            attempts
                .entry(attempt.delivery_id)
                .or_default()
                .push(attempt);
        }
        let page = page.map(|d| {
            let tried = attempts.remove(&d.id).unwrap_or_default();
            WebhookDelivery(d, tried)
        });
        Ok(WebhookDeliveryConnection::from_page(page, total))
    }
}

/// One event's delivery to an endpoint, with its attempts.
#[derive(Clone, Debug)]
pub struct WebhookDelivery(pub webhook_delivery::Model, pub Vec<webhook_attempt::Model>);

impl From<webhook_delivery::Model> for WebhookDelivery {
    fn from(model: webhook_delivery::Model) -> Self {
        Self(model, Vec::new())
    }
}

/// One event's delivery to an endpoint, with its attempts.
#[Object]
impl WebhookDelivery {
    /// Global ID (for `redeliverWebhook`).
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::WebhookDelivery, self.0.id)
    }
    /// Global ID of the endpoint.
    async fn endpoint_id(&self) -> ID {
        to_global_id(NodeKind::WebhookEndpoint, self.0.endpoint_id)
    }
    /// The event's id: the `webhook-id` header of every attempt.
    async fn event_id(&self) -> String {
        self.0.event_id.to_string()
    }
    /// The event's type.
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// GraphQL type of what changed.
    async fn subject_type(&self) -> &str {
        &self.0.subject_type
    }
    /// Global ID of what changed.
    async fn subject_id(&self) -> ID {
        subject_global_id(&self.0.subject_type, self.0.subject_id)
    }
    /// When the event happened.
    async fn occurred_at(&self) -> Timestamp {
        Timestamp(self.0.occurred_at)
    }
    /// Where the delivery stands.
    async fn state(&self) -> DeliveryState {
        self.0.state.into()
    }
    /// Attempts made so far.
    async fn attempt_count(&self) -> i32 {
        self.0.attempts
    }
    /// When it will be attempted next (null unless PENDING).
    async fn next_attempt_at(&self) -> Option<Timestamp> {
        (self.0.state == entity::enums::DeliveryState::Pending)
            .then_some(self.0.next_attempt_at)
            .map(Timestamp)
    }
    /// HTTP status of the last answer (null when none came).
    async fn last_status(&self) -> Option<i32> {
        self.0.last_status
    }
    /// When the receiver accepted it (null unless DELIVERED).
    async fn delivered_at(&self) -> Option<Timestamp> {
        self.0.delivered_at.map(Timestamp)
    }
    /// Its attempts, oldest first.
    async fn attempts(&self) -> Vec<WebhookAttempt> {
        self.1.iter().cloned().map(WebhookAttempt::from).collect()
    }
}

/// One attempt to post a delivery.
#[derive(SimpleObject, Clone, Debug)]
pub struct WebhookAttempt {
    /// When it was made.
    pub attempted_at: Timestamp,
    /// HTTP status answered (null when no answer came: see `error`).
    pub status_code: Option<i32>,
    /// Why it failed without an answer (timeout, connection refused, address not
    /// allowed); never the receiver's body.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub latency_ms: i32,
}

impl From<webhook_attempt::Model> for WebhookAttempt {
    fn from(model: webhook_attempt::Model) -> Self {
        Self {
            attempted_at: model.attempted_at.into(),
            status_code: model.status_code,
            error: model.error,
            latency_ms: model.latency_ms,
        }
    }
}

crate::connection!(
    WebhookEndpointConnection,
    WebhookEndpointEdge,
    WebhookEndpoint,
    "webhook endpoints"
);
crate::connection!(
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
    WebhookDelivery,
    "webhook deliveries"
);
