//! API client mutations: create, rotate the secret, revoke.

use super::service::{self, Issued, NewClient};
use super::types::ApiClient;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::payload::{UserError, split, user_errors};
use crate::graphql::relay::{NodeKind, expect_id};
use crate::validation::Checked;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use sea_orm::TransactionTrait;

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

/// Result of `createApiClient`.
#[derive(SimpleObject)]
pub struct CreateApiClientPayload {
    /// The new client (its `id` is the `client_id`); null when there are user errors.
    pub api_client: Option<ApiClient>,
    /// The client secret, shown only here, once: store it safely now.
    pub client_secret: Option<String>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Which client gets a new secret.
#[derive(InputObject)]
pub struct RotateApiClientSecretInput {
    /// The API client.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
}

/// Result of `rotateApiClientSecret`.
#[derive(SimpleObject)]
pub struct RotateApiClientSecretPayload {
    /// The client after the change; null when there are user errors.
    pub api_client: Option<ApiClient>,
    /// The new client secret, shown only here, once; the old one no longer works.
    pub client_secret: Option<String>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Which client to revoke.
#[derive(InputObject)]
pub struct RevokeApiClientInput {
    /// The API client.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
}

/// Result of `revokeApiClient`.
#[derive(SimpleObject)]
pub struct RevokeApiClientPayload {
    /// The client after the change; null when there are user errors.
    pub api_client: Option<ApiClient>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

fn issued(result: Checked<Issued>) -> (Option<ApiClient>, Option<String>, Vec<UserError>) {
    match result {
        Ok(Issued { client, secret }) => (Some(ApiClient(client)), Some(secret), Vec::new()),
        Err(errors) => (None, None, user_errors(errors)),
    }
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
        input: CreateApiClientInput,
    ) -> GqlResult<CreateApiClientPayload> {
        let organization = expect_id(&input.organization, NodeKind::Organization)?;
        let new = NewClient {
            name: input.name,
            scopes: input.scopes,
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result = service::create(&txn, &ctx.actor()?, organization, new).await?;
        txn.commit().await?;
        let (api_client, client_secret, user_errors) = issued(result);
        Ok(CreateApiClientPayload {
            api_client,
            client_secret,
            user_errors,
        })
    }

    /// Replaces the secret of an API client; the old secret stops working at once. The
    /// organization's administrator (ORG_ADMIN) only. The new secret is returned here,
    /// once.
    async fn rotate_api_client_secret(
        &self,
        ctx: &Context<'_>,
        input: RotateApiClientSecretInput,
    ) -> GqlResult<RotateApiClientSecretPayload> {
        let id = expect_id(&input.id, NodeKind::ApiClient)?;
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result =
            service::rotate_secret(&txn, &ctx.actor()?, id, input.expected_version).await?;
        txn.commit().await?;
        let (api_client, client_secret, user_errors) = issued(result);
        Ok(RotateApiClientSecretPayload {
            api_client,
            client_secret,
            user_errors,
        })
    }

    /// Revokes an API client: no token can be obtained with it any more (tokens already
    /// issued expire on their own). The organization's administrator (ORG_ADMIN) only.
    async fn revoke_api_client(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiClientInput,
    ) -> GqlResult<RevokeApiClientPayload> {
        let id = expect_id(&input.id, NodeKind::ApiClient)?;
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result = service::revoke(&txn, &ctx.actor()?, id, input.expected_version).await?;
        txn.commit().await?;
        let (api_client, user_errors) = split(result);
        Ok(RevokeApiClientPayload {
            api_client,
            user_errors,
        })
    }
}
