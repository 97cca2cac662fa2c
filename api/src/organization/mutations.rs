//! Organization mutations.

use super::service::{self, ProfileChanges};
use super::types::Organization;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::payload::{UserError, split};
use crate::graphql::relay::{NodeKind, expect_id};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use sea_orm::TransactionTrait;

/// Changes to an organization's public profile. Omitted fields stay as they are; an
/// empty string clears a field.
#[derive(InputObject)]
pub struct UpdateOrganizationProfileInput {
    /// The organization.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
    /// What the organization does.
    pub description: Option<String>,
    /// Website (http or https).
    pub website: Option<String>,
    /// General email address.
    pub email: Option<String>,
    /// General phone number.
    pub phone: Option<String>,
}

/// Result of `updateOrganizationProfile`.
#[derive(SimpleObject)]
pub struct UpdateOrganizationProfilePayload {
    /// The organization after the change; null when there are user errors.
    pub organization: Option<Organization>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Organization mutations.
#[derive(Default)]
pub struct OrganizationMutations;

#[Object]
impl OrganizationMutations {
    /// Changes the public profile of an organization: its administrator (ORG_ADMIN) or
    /// a machine client of it with the `organization:write` scope.
    async fn update_organization_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganizationProfileInput,
    ) -> GqlResult<UpdateOrganizationProfilePayload> {
        let id = expect_id(&input.id, NodeKind::Organization)?;
        let changes = ProfileChanges {
            description: input.description,
            website: input.website,
            email: input.email,
            phone: input.phone,
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result =
            service::update_profile(&txn, &ctx.actor()?, id, input.expected_version, changes)
                .await?;
        txn.commit().await?;
        let (organization, user_errors) = split(result);
        Ok(UpdateOrganizationProfilePayload {
            organization,
            user_errors,
        })
    }
}
