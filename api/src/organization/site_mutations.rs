//! Mutations of an organization's own sites and contact points.

use super::sites::{self, ContactFields, LocationFields};
use super::types::{Contact, Location};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::payload::{UserError, split, user_errors};
use crate::graphql::relay::{NodeKind, expect_id, to_global_id};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use sea_orm::TransactionTrait;

/// A new site of an organization.
#[derive(InputObject)]
pub struct CreateLocationInput {
    /// The organization the site belongs to.
    pub organization: ID,
    /// Name of the site (at most 300 characters).
    pub name: String,
    /// Street address (at most 300 characters).
    pub address: String,
    /// Postal code (CAP), five digits.
    pub postal_code: Option<String>,
    /// ISTAT code of the municipality the site is in (six digits, e.g. `050026`).
    pub municipality_istat_code: String,
    /// Latitude (WGS 84, −90 to 90); give it together with the longitude.
    pub latitude: Option<f64>,
    /// Longitude (WGS 84, −180 to 180); give it together with the latitude.
    pub longitude: Option<f64>,
}

/// Changes to a site. Omitted fields stay as they are; an empty postal code clears it.
#[derive(InputObject)]
pub struct UpdateLocationInput {
    /// The site.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
    /// Name of the site (at most 300 characters).
    pub name: Option<String>,
    /// Street address (at most 300 characters).
    pub address: Option<String>,
    /// Postal code (CAP), five digits.
    pub postal_code: Option<String>,
    /// ISTAT code of the municipality the site is in.
    pub municipality_istat_code: Option<String>,
    /// Latitude (WGS 84, −90 to 90); give it together with the longitude.
    pub latitude: Option<f64>,
    /// Longitude (WGS 84, −180 to 180); give it together with the latitude.
    pub longitude: Option<f64>,
}

/// The site to delete.
#[derive(InputObject)]
pub struct DeleteLocationInput {
    /// The site.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
}

/// Result of `createLocation`.
#[derive(SimpleObject)]
pub struct CreateLocationPayload {
    /// The new site; null when there are user errors.
    pub location: Option<Location>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Result of `updateLocation`.
#[derive(SimpleObject)]
pub struct UpdateLocationPayload {
    /// The site after the change; null when there are user errors.
    pub location: Option<Location>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Result of `deleteLocation`.
#[derive(SimpleObject)]
pub struct DeleteLocationPayload {
    /// Global ID of the deleted site; null when there are user errors.
    pub deleted_location_id: Option<ID>,
    /// Problems with the input (INVALID_STATE while services are delivered at the
    /// site); nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// A new contact point of an organization.
#[derive(InputObject)]
pub struct CreateContactInput {
    /// The organization.
    pub organization: ID,
    /// Name of the office or person (at most 200 characters).
    pub name: String,
    /// Job title (at most 200 characters).
    pub title: Option<String>,
    /// Department (at most 200 characters).
    pub department: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number (at most 32 characters).
    pub phone: Option<String>,
}

/// Changes to a contact point. Omitted fields stay as they are; an empty string clears
/// an optional field.
#[derive(InputObject)]
pub struct UpdateContactInput {
    /// The contact point.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
    /// Name of the office or person (at most 200 characters).
    pub name: Option<String>,
    /// Job title (at most 200 characters).
    pub title: Option<String>,
    /// Department (at most 200 characters).
    pub department: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number (at most 32 characters).
    pub phone: Option<String>,
}

/// The contact point to delete.
#[derive(InputObject)]
pub struct DeleteContactInput {
    /// The contact point.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
}

/// Result of `createContact`.
#[derive(SimpleObject)]
pub struct CreateContactPayload {
    /// The new contact point; null when there are user errors.
    pub contact: Option<Contact>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Result of `updateContact`.
#[derive(SimpleObject)]
pub struct UpdateContactPayload {
    /// The contact point after the change; null when there are user errors.
    pub contact: Option<Contact>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Result of `deleteContact`.
#[derive(SimpleObject)]
pub struct DeleteContactPayload {
    /// Global ID of the deleted contact point.
    pub deleted_contact_id: Option<ID>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Mutations of an organization's sites and contact points.
#[derive(Default)]
pub struct SiteMutations;

#[Object]
impl SiteMutations {
    /// Adds a site to an organization: its administrator (ORG_ADMIN) or a machine client
    /// of it with the `organization:write` scope.
    async fn create_location(
        &self,
        ctx: &Context<'_>,
        input: CreateLocationInput,
    ) -> GqlResult<CreateLocationPayload> {
        let organization = expect_id(&input.organization, NodeKind::Organization)?;
        let fields = LocationFields {
            name: Some(input.name),
            address: Some(input.address),
            postal_code: input.postal_code,
            municipality_istat_code: Some(input.municipality_istat_code),
            latitude: input.latitude,
            longitude: input.longitude,
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result = sites::create_location(&txn, &ctx.actor()?, organization, fields).await?;
        txn.commit().await?;
        let (location, user_errors) = split(result);
        Ok(CreateLocationPayload {
            location,
            user_errors,
        })
    }

    /// Changes a site: the organization's administrator (ORG_ADMIN) or a machine client
    /// of it with the `organization:write` scope.
    async fn update_location(
        &self,
        ctx: &Context<'_>,
        input: UpdateLocationInput,
    ) -> GqlResult<UpdateLocationPayload> {
        let id = expect_id(&input.id, NodeKind::Location)?;
        let fields = LocationFields {
            name: input.name,
            address: input.address,
            postal_code: input.postal_code,
            municipality_istat_code: input.municipality_istat_code,
            latitude: input.latitude,
            longitude: input.longitude,
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result =
            sites::update_location(&txn, &ctx.actor()?, id, input.expected_version, fields).await?;
        txn.commit().await?;
        let (location, user_errors) = split(result);
        Ok(UpdateLocationPayload {
            location,
            user_errors,
        })
    }

    /// Deletes a site, refused with INVALID_STATE while a service is delivered there:
    /// the organization's administrator (ORG_ADMIN) or a machine client of it with the
    /// `organization:write` scope.
    async fn delete_location(
        &self,
        ctx: &Context<'_>,
        input: DeleteLocationInput,
    ) -> GqlResult<DeleteLocationPayload> {
        let id = expect_id(&input.id, NodeKind::Location)?;
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result =
            sites::delete_location(&txn, &ctx.actor()?, id, input.expected_version).await?;
        txn.commit().await?;
        Ok(match result {
            Ok(id) => DeleteLocationPayload {
                deleted_location_id: Some(to_global_id(NodeKind::Location, id)),
                user_errors: Vec::new(),
            },
            Err(errors) => DeleteLocationPayload {
                deleted_location_id: None,
                user_errors: user_errors(errors),
            },
        })
    }

    /// Adds a contact point to an organization: its administrator (ORG_ADMIN) or a
    /// machine client of it with the `organization:write` scope.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        input: CreateContactInput,
    ) -> GqlResult<CreateContactPayload> {
        let organization = expect_id(&input.organization, NodeKind::Organization)?;
        let fields = ContactFields {
            name: Some(input.name),
            title: input.title,
            department: input.department,
            email: input.email,
            phone: input.phone,
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result = sites::create_contact(&txn, &ctx.actor()?, organization, fields).await?;
        txn.commit().await?;
        let (contact, user_errors) = split(result);
        Ok(CreateContactPayload {
            contact,
            user_errors,
        })
    }

    /// Changes a contact point: the organization's administrator (ORG_ADMIN) or a
    /// machine client of it with the `organization:write` scope.
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        input: UpdateContactInput,
    ) -> GqlResult<UpdateContactPayload> {
        let id = expect_id(&input.id, NodeKind::Contact)?;
        let fields = ContactFields {
            name: input.name,
            title: input.title,
            department: input.department,
            email: input.email,
            phone: input.phone,
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result =
            sites::update_contact(&txn, &ctx.actor()?, id, input.expected_version, fields).await?;
        txn.commit().await?;
        let (contact, user_errors) = split(result);
        Ok(UpdateContactPayload {
            contact,
            user_errors,
        })
    }

    /// Deletes a contact point: the organization's administrator (ORG_ADMIN) or a
    /// machine client of it with the `organization:write` scope.
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        input: DeleteContactInput,
    ) -> GqlResult<DeleteContactPayload> {
        let id = expect_id(&input.id, NodeKind::Contact)?;
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let id = sites::delete_contact(&txn, &ctx.actor()?, id, input.expected_version).await?;
        txn.commit().await?;
        Ok(DeleteContactPayload {
            deleted_contact_id: Some(to_global_id(NodeKind::Contact, id)),
            user_errors: Vec::new(),
        })
    }
}
