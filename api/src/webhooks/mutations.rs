//! Webhook mutations: register, change, rotate the secret, remove, re-deliver.

use super::service::{self, EndpointChanges, EndpointData, Issued};
use super::types::{WebhookDelivery, WebhookEndpoint};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::mutation::{Payload, mutate, payload};
use crate::graphql::payload::UserError;
use crate::graphql::relay::{NodeKind, expect_id, expect_key, to_global_id};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use uuid::Uuid;

/// A new webhook endpoint of the caller's organization.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// Where deliveries are posted: an https URL (at most 2,048 characters) whose host
    /// is not a loopback or private address.
    pub url: String,
    /// The event types wanted (see `events(filter: {types})`); omitted or empty: all.
    pub event_types: Option<Vec<String>>,
    /// For people (at most 500 characters).
    pub description: Option<String>,
}

/// Changes to an endpoint; omitted fields stay.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    /// The endpoint.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// New URL.
    pub url: Option<String>,
    /// New event types (empty: all).
    pub event_types: Option<Vec<String>>,
    /// New description (empty: none).
    pub description: Option<String>,
    /// false stops deliveries; true resumes them (also after a disabling for
    /// failures), from where they stopped.
    pub enabled: Option<bool>,
}

/// Which endpoint gets a new secret.
#[derive(InputObject)]
pub struct RotateWebhookSecretInput {
    /// The endpoint.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// Hours the current secret keeps signing beside the new one (0 to 168; default
    /// `MELT_WEBHOOK_SECRET_OVERLAP_HOURS`): deliveries carry both signatures meanwhile.
    pub overlap_hours: Option<i32>,
}

/// Which endpoint to remove.
#[derive(InputObject)]
pub struct DeleteWebhookEndpointInput {
    /// The endpoint.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
}

/// Which delivery to make again.
#[derive(InputObject)]
pub struct RedeliverWebhookInput {
    /// The delivery (from `WebhookEndpoint.deliveries`), DELIVERED or FAILED. Give `id` (or, until 0.3, the deprecated `delivery`).
    pub id: Option<ID>,
    /// The delivery (from `WebhookEndpoint.deliveries`), DELIVERED or FAILED.
    #[graphql(deprecation = "Use `id`. Removed in 0.3.")]
    pub delivery: Option<ID>,
}

/// Declares the payloads that carry an endpoint and its secret in clear.
macro_rules! issued_payload {
    ($($name:ident($mutation:literal) { $endpoint:literal, $secret:literal })+) => {$(
        #[doc = concat!("Result of `", $mutation, "`.")]
        #[derive(SimpleObject)]
        pub struct $name {
            #[doc = $endpoint]
            pub webhook_endpoint: Option<WebhookEndpoint>,
            #[doc = $secret]
            pub secret: Option<String>,
            /// Problems with the input; nothing was changed when there are any.
            pub user_errors: Vec<UserError>,
        }

        impl Payload for $name {
            type Object = Issued;
            fn from_parts(issued: Option<Issued>, user_errors: Vec<UserError>) -> Self {
                let (endpoint, secret) = issued
                    .map(|i| (WebhookEndpoint(i.endpoint), i.secret))
                    .unzip();
                Self { webhook_endpoint: endpoint, secret, user_errors }
            }
        }
    )+};
}

issued_payload! {
    CreateWebhookEndpointPayload("createWebhookEndpoint") {
        "The new endpoint; null when there are user errors.",
        "The signing secret (`whsec_...`), shown only here, once: store it safely now."
    }
    RotateWebhookSecretPayload("rotateWebhookSecret") {
        "The endpoint after the change; null when there are user errors.",
        "The new signing secret, shown only here, once."
    }
}

payload! {
    UpdateWebhookEndpointPayload("updateWebhookEndpoint") { webhook_endpoint: WebhookEndpoint, "The endpoint after the change" }
    DeleteWebhookEndpointPayload("deleteWebhookEndpoint") { deleted: DeletedWebhookEndpoint, "The endpoint removed" }
    RedeliverWebhookPayload("redeliverWebhook") { webhook_delivery: WebhookDelivery, "The delivery, due again" }
}

/// An endpoint that was removed.
#[derive(SimpleObject)]
pub struct DeletedWebhookEndpoint {
    /// Its global ID.
    pub id: ID,
}

impl From<Uuid> for DeletedWebhookEndpoint {
    fn from(id: Uuid) -> Self {
        Self {
            id: to_global_id(NodeKind::WebhookEndpoint, id),
        }
    }
}

/// Webhook mutations: the organization's ORG_ADMIN, or its client with
/// `webhooks:write`. Audited.
#[derive(Default)]
pub struct WebhookMutations;

#[Object]
impl WebhookMutations {
    /// Registers an endpoint for the caller's organization; it receives the events
    /// committed from now on that the organization may see. The signing secret is
    /// returned here, once.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateWebhookEndpointInput,
    ) -> GqlResult<CreateWebhookEndpointPayload> {
        let state = ctx.state()?;
        let protection = state.protection.clone();
        let allow_private = state.settings.webhook_allow_private;
        let data = EndpointData {
            url: input.url,
            event_types: input.event_types.unwrap_or_default(),
            description: input.description,
        };
        mutate(ctx, async |db, actor| {
            service::create(db, actor, &protection, allow_private, data).await
        })
        .await
    }

    /// Changes an endpoint: URL, event types, description, or turns it off and on.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateWebhookEndpointInput,
    ) -> GqlResult<UpdateWebhookEndpointPayload> {
        let id = expect_id(&input.id, NodeKind::WebhookEndpoint)?;
        let allow_private = ctx.state()?.settings.webhook_allow_private;
        let expected = input.expected_version;
        let changes = EndpointChanges {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
            enabled: input.enabled,
        };
        mutate(ctx, async |db, actor| {
            service::update(db, actor, allow_private, id, expected, changes).await
        })
        .await
    }

    /// Issues a new signing secret; the current one keeps signing for the overlap.
    /// The new secret is returned here, once.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RotateWebhookSecretInput,
    ) -> GqlResult<RotateWebhookSecretPayload> {
        let id = expect_id(&input.id, NodeKind::WebhookEndpoint)?;
        let state = ctx.state()?;
        let protection = state.protection.clone();
        let overlap = match input.overlap_hours {
            None => state.settings.webhook_secret_overlap_hours,
            // Negative values are refused by the service's range check.
            Some(hours) => u32::try_from(hours).unwrap_or(u32::MAX),
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::rotate_secret(db, actor, &protection, id, expected, overlap).await
        })
        .await
    }

    /// Removes an endpoint, its secrets and its delivery log.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: DeleteWebhookEndpointInput,
    ) -> GqlResult<DeleteWebhookEndpointPayload> {
        let id = expect_id(&input.id, NodeKind::WebhookEndpoint)?;
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::delete(db, actor, id, expected).await
        })
        .await
    }

    /// Makes a DELIVERED or FAILED delivery again (same `webhook-id`, so a receiver
    /// that already has it can tell): it is due at once, with a new retry period.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RedeliverWebhookInput,
    ) -> GqlResult<RedeliverWebhookPayload> {
        let id = expect_key(
            input.id.as_ref(),
            input.delivery.as_ref(),
            "delivery",
            NodeKind::WebhookDelivery,
        )?;
        mutate(ctx, async |db, actor| {
            service::redeliver(db, actor, id).await
        })
        .await
    }
}
