//! Organization mutations: an organization's own public profile.

use super::registry::{self, ProfileChanges};
use super::types::Organization;
use crate::error::GqlResult;
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::relay::{NodeKind, expect_id};
use async_graphql::{Context, ID, InputObject, Object};

/// Changes to an organization's public profile. Omitted fields stay as they are; an
/// empty string clears a field.
#[derive(InputObject)]
pub struct UpdateOrganizationProfileInput {
    /// The organization.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// What the organization does.
    pub description: Option<String>,
    /// Website (http or https).
    pub website: Option<String>,
    /// General email address.
    pub email: Option<String>,
    /// General phone number.
    pub phone: Option<String>,
}

payload! {
    UpdateOrganizationProfilePayload("updateOrganizationProfile") {
        organization: Organization, "The organization after the change"
    }
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
        #[graphql(desc = "What to do: see the input type.")] input: UpdateOrganizationProfileInput,
    ) -> GqlResult<UpdateOrganizationProfilePayload> {
        let id = expect_id(&input.id, NodeKind::Organization)?;
        let changes = ProfileChanges {
            description: input.description,
            website: input.website,
            email: input.email,
            phone: input.phone,
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            registry::update_profile(db, actor, id, expected, changes).await
        })
        .await
    }
}
