//! API client mutations: create, rotate the secret, revoke.

use super::service::{self, Issued, NewClient};
use super::types::ApiClient;
use crate::error::GqlResult;
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::payload::UserError;
use crate::graphql::relay::{NodeKind, expect_id};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

/// A new API client of an organization.
#[derive(InputObject)]
pub struct CreateApiClientInput {
    /// The organization the client will act for.
    pub organization: ID,
    /// What the partner system is, for people (at most 200 characters).
    pub name: String,
    /// Scopes the client may be granted: `organization:write`, `services:write`.
    pub scopes: Vec<String>,
}

/// Declares the inputs that name one client at the version read.
macro_rules! client_input {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(InputObject)]
        pub struct $name {
            /// The API client.
            pub id: ID,
            /// The `rowVersion` you read; a stale one is refused with CONFLICT.
            pub expected_version: i32,
        }
    )+};
}

client_input! {
    /// Which client gets a new secret.
    RotateApiClientSecretInput;
    /// Which client to revoke.
    RevokeApiClientInput;
}

/// Declares the payloads that carry a client and its secret in clear.
macro_rules! issued_payload {
    ($($name:ident($mutation:literal) { $client:literal, $secret:literal })+) => {$(
        #[doc = concat!("Result of `", $mutation, "`.")]
        #[derive(SimpleObject)]
        pub struct $name {
            #[doc = $client]
            pub api_client: Option<ApiClient>,
            #[doc = $secret]
            pub client_secret: Option<String>,
            /// Problems with the input; nothing was changed when there are any.
            pub user_errors: Vec<UserError>,
        }

        impl crate::graphql::mutation::Payload for $name {
            type Object = Issued;
            fn from_parts(issued: Option<Issued>, user_errors: Vec<UserError>) -> Self {
                let (client, secret) = issued.map(|i| (ApiClient(i.client), i.secret)).unzip();
                Self { api_client: client, client_secret: secret, user_errors }
            }
        }
    )+};
}

issued_payload! {
    CreateApiClientPayload("createApiClient") {
        "The new client (its `id` is the `client_id`); null when there are user errors.",
        "The client secret, shown only here, once: store it safely now."
    }
    RotateApiClientSecretPayload("rotateApiClientSecret") {
        "The client after the change; null when there are user errors.",
        "The new client secret, shown only here, once; the old one no longer works."
    }
}

payload! {
    RevokeApiClientPayload("revokeApiClient") { api_client: ApiClient, "The client after the change" }
}

/// API client mutations.
#[derive(Default)]
pub struct ApiClientMutations;

#[Object]
impl ApiClientMutations {
    /// Creates machine credentials for a partner system of an organization: its
    /// administrator (ORG_ADMIN) only. The secret is returned here, once.
    async fn create_api_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateApiClientInput,
    ) -> GqlResult<CreateApiClientPayload> {
        let organization = expect_id(&input.organization, NodeKind::Organization)?;
        let new = NewClient {
            name: input.name,
            scopes: input.scopes,
        };
        mutate(ctx, async |db, actor| {
            service::create(db, actor, organization, new).await
        })
        .await
    }

    /// Replaces the secret of an API client; the old secret stops working at once. The
    /// organization's administrator (ORG_ADMIN) only. The new secret is returned here,
    /// once.
    async fn rotate_api_client_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RotateApiClientSecretInput,
    ) -> GqlResult<RotateApiClientSecretPayload> {
        let id = expect_id(&input.id, NodeKind::ApiClient)?;
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::rotate_secret(db, actor, id, expected).await
        })
        .await
    }

    /// Revokes an API client: no token can be obtained with it any more (tokens already
    /// issued expire on their own). The organization's administrator (ORG_ADMIN) only.
    async fn revoke_api_client(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RevokeApiClientInput,
    ) -> GqlResult<RevokeApiClientPayload> {
        let id = expect_id(&input.id, NodeKind::ApiClient)?;
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::revoke(db, actor, id, expected).await
        })
        .await
    }
}
