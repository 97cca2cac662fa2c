//! Registry mutations of the regional administration: organizations and successions.

use super::service::{
    self, NewOrganization, NewSuccession, OrganizationChanges, OrganizationDetails,
};
use super::types::{Organization, Succession};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::{OrganizationKind, Sector};
use crate::graphql::payload::{UserError, split, user_errors};
use crate::graphql::relay::{NodeKind, expect_id};
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use sea_orm::TransactionTrait;

/// A new organization of the network.
#[derive(InputObject)]
pub struct CreateOrganizationInput {
    /// Official name (1–300 characters).
    pub name: String,
    /// Kind of body.
    pub kind: OrganizationKind,
    /// Public, private or third sector.
    pub sector: Sector,
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

/// Result of `createOrganization`.
#[derive(SimpleObject)]
pub struct CreateOrganizationPayload {
    /// The new organization; null when there are user errors.
    pub organization: Option<Organization>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Changes to an organization's registry record. Omitted fields stay as they are; an
/// empty string clears an optional field.
#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    /// The organization.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
    /// Official name (1–300 characters).
    pub name: Option<String>,
    /// Kind of body.
    pub kind: Option<OrganizationKind>,
    /// Public, private or third sector.
    pub sector: Option<Sector>,
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

/// Result of `updateOrganization`.
#[derive(SimpleObject)]
pub struct UpdateOrganizationPayload {
    /// The organization after the change; null when there are user errors.
    pub organization: Option<Organization>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
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

/// Registry mutations of the regional administration.
#[derive(Default)]
pub struct RegistryMutations;

#[Object]
impl RegistryMutations {
    /// Adds an organization to the network's registry. REGIONAL_ADMIN only.
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> GqlResult<CreateOrganizationPayload> {
        let new = NewOrganization {
            name: input.name,
            kind: input.kind.into(),
            sector: input.sector.into(),
            details: OrganizationDetails {
                description: input.description,
                codice_fiscale: input.codice_fiscale,
                partita_iva: input.partita_iva,
                ipa_code: input.ipa_code,
                runts_number: input.runts_number,
                website: input.website,
                email: input.email,
                phone: input.phone,
            },
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result = service::create_organization(&txn, &ctx.actor()?, new).await?;
        txn.commit().await?;
        let (organization, user_errors) = split(result);
        Ok(CreateOrganizationPayload {
            organization,
            user_errors,
        })
    }

    /// Changes an organization's registry record: name, kind, sector, identifiers and
    /// contacts. REGIONAL_ADMIN only.
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganizationInput,
    ) -> GqlResult<UpdateOrganizationPayload> {
        let id = expect_id(&input.id, NodeKind::Organization)?;
        let changes = OrganizationChanges {
            name: input.name,
            kind: input.kind.map(Into::into),
            sector: input.sector.map(Into::into),
            details: OrganizationDetails {
                description: input.description,
                codice_fiscale: input.codice_fiscale,
                partita_iva: input.partita_iva,
                ipa_code: input.ipa_code,
                runts_number: input.runts_number,
                website: input.website,
                email: input.email,
                phone: input.phone,
            },
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result =
            service::update_organization(&txn, &ctx.actor()?, id, input.expected_version, changes)
                .await?;
        txn.commit().await?;
        let (organization, user_errors) = split(result);
        Ok(UpdateOrganizationPayload {
            organization,
            user_errors,
        })
    }

    /// Records that one organization takes over the duties of another (history is
    /// kept), optionally dissolving the predecessor. REGIONAL_ADMIN only.
    async fn record_succession(
        &self,
        ctx: &Context<'_>,
        input: RecordSuccessionInput,
    ) -> GqlResult<RecordSuccessionPayload> {
        let new = NewSuccession {
            predecessor: expect_id(&input.predecessor, NodeKind::Organization)?,
            successor: expect_id(&input.successor, NodeKind::Organization)?,
            effective_on: input.effective_on.0,
            note: input.note,
            dissolve_predecessor: input.dissolve_predecessor,
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result = service::record_succession(&txn, &ctx.actor()?, new).await?;
        txn.commit().await?;
        Ok(match result {
            Ok((succession, predecessor)) => RecordSuccessionPayload {
                succession: Some(Succession(succession)),
                organization: Some(Organization(predecessor)),
                user_errors: Vec::new(),
            },
            Err(errors) => RecordSuccessionPayload {
                succession: None,
                organization: None,
                user_errors: user_errors(errors),
            },
        })
    }
}
