//! Registry mutations of the regional administration: organizations and successions.

use super::registry::{
    self, NewOrganization, NewSuccession, OrganizationChanges, OrganizationDetails,
};
use super::types::{Organization, Succession};
use crate::error::GqlResult;
use crate::graphql::enums::{OrganizationKind, Sector};
use crate::graphql::mutation::{Payload, mutate, payload};
use crate::graphql::payload::UserError;
use crate::graphql::relay::{NodeKind, expect_id};
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entity::{organization, organization_succession};

/// The optional details of an organization (flattened into the inputs that take them).
#[derive(InputObject)]
pub struct OrganizationDetailsInput {
    /// What the organization does.
    pub description: Option<String>,
    /// Codice fiscale: 11 digits or 16 characters; the check digit is verified.
    pub codice_fiscale: Option<String>,
    /// Partita IVA: 11 digits; the check digit is verified.
    pub partita_iva: Option<String>,
    /// Code in the index of public administrations (IPA): up to 32 letters, digits or `_`.
    pub ipa_code: Option<String>,
    /// Number in the national register of the third sector (RUNTS): up to 32 characters.
    pub runts_number: Option<String>,
    /// Website (http or https).
    pub website: Option<String>,
    /// General email address.
    pub email: Option<String>,
    /// General phone number.
    pub phone: Option<String>,
}

impl From<OrganizationDetailsInput> for OrganizationDetails {
    fn from(input: OrganizationDetailsInput) -> Self {
        Self {
            description: input.description,
            codice_fiscale: input.codice_fiscale,
            partita_iva: input.partita_iva,
            ipa_code: input.ipa_code,
            runts_number: input.runts_number,
            website: input.website,
            email: input.email,
            phone: input.phone,
        }
    }
}

/// A new organization of the network.
#[derive(InputObject)]
pub struct CreateOrganizationInput {
    /// Official name (1–300 characters).
    pub name: String,
    /// Kind of body.
    pub kind: OrganizationKind,
    /// Public, private or third sector.
    pub sector: Sector,
    /// The optional details.
    #[graphql(flatten)]
    pub details: OrganizationDetailsInput,
}

/// Changes to an organization's registry record. Omitted fields stay as they are; an
/// empty string clears an optional field.
#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    /// The organization.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// Official name (1–300 characters).
    pub name: Option<String>,
    /// Kind of body.
    pub kind: Option<OrganizationKind>,
    /// Public, private or third sector.
    pub sector: Option<Sector>,
    /// The optional details.
    #[graphql(flatten)]
    pub details: OrganizationDetailsInput,
}

/// One organization taking over the duties of another.
#[derive(InputObject)]
pub struct RecordSuccessionInput {
    /// The organization whose duties pass on.
    pub predecessor: ID,
    /// The organization taking them over (not the predecessor itself).
    pub successor: ID,
    /// Day the succession takes effect.
    pub effective_on: Date,
    /// Notes on what passes on.
    pub note: Option<String>,
    /// Also mark the predecessor as dissolved on `effectiveOn`.
    #[graphql(default)]
    pub dissolve_predecessor: bool,
}

payload! {
    CreateOrganizationPayload("createOrganization") {
        organization: Organization, "The new organization"
    }
    UpdateOrganizationPayload("updateOrganization") {
        organization: Organization, "The organization after the change"
    }
}

/// Result of `recordSuccession`.
#[derive(SimpleObject)]
pub struct RecordSuccessionPayload {
    /// The recorded succession; null when there are user errors.
    pub succession: Option<Succession>,
    /// The predecessor after the change (dissolved when asked); null when there are
    /// user errors.
    pub organization: Option<Organization>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

impl Payload for RecordSuccessionPayload {
    type Object = (organization_succession::Model, organization::Model);
    fn from_parts(object: Option<Self::Object>, user_errors: Vec<UserError>) -> Self {
        let (succession, organization) = object
            .map(|(succession, predecessor)| (Succession(succession), Organization(predecessor)))
            .unzip();
        Self {
            succession,
            organization,
            user_errors,
        }
    }
}

/// Registry mutations of the regional administration.
#[derive(Default)]
pub struct RegistryMutations;

#[Object]
impl RegistryMutations {
    /// Adds an organization to the network's registry. REGIONAL_ADMIN only.
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateOrganizationInput,
    ) -> GqlResult<CreateOrganizationPayload> {
        let new = NewOrganization {
            name: input.name,
            kind: input.kind.into(),
            sector: input.sector.into(),
            details: input.details.into(),
        };
        mutate(ctx, async |db, actor| {
            registry::create_organization(db, actor, new).await
        })
        .await
    }

    /// Changes an organization's registry record: name, kind, sector, identifiers and
    /// contacts. REGIONAL_ADMIN only.
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateOrganizationInput,
    ) -> GqlResult<UpdateOrganizationPayload> {
        let id = expect_id(&input.id, NodeKind::Organization)?;
        let changes = OrganizationChanges {
            name: input.name,
            kind: input.kind.map(Into::into),
            sector: input.sector.map(Into::into),
            details: input.details.into(),
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            registry::update_organization(db, actor, id, expected, changes).await
        })
        .await
    }

    /// Records that one organization takes over the duties of another (history is
    /// kept), optionally dissolving the predecessor. REGIONAL_ADMIN only.
    async fn record_succession(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RecordSuccessionInput,
    ) -> GqlResult<RecordSuccessionPayload> {
        let new = NewSuccession {
            predecessor: expect_id(&input.predecessor, NodeKind::Organization)?,
            successor: expect_id(&input.successor, NodeKind::Organization)?,
            effective_on: input.effective_on.0,
            note: input.note,
            dissolve_predecessor: input.dissolve_predecessor,
        };
        mutate(ctx, async |db, actor| {
            registry::record_succession(db, actor, new).await
        })
        .await
    }
}
