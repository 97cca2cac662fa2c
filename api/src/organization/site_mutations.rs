//! Mutations of an organization's own sites and contact points.

use super::sites::{self, ContactFields, LocationFields};
use super::types::{Contact, Location};
use crate::error::GqlResult;
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::payload::UserError;
use crate::graphql::relay::{NodeKind, expect_id, to_global_id};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use uuid::Uuid;

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
    pub expected_version: i32,
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
    pub expected_version: i32,
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

payload! {
    CreateLocationPayload("createLocation") { location: Location, "The new site" }
    UpdateLocationPayload("updateLocation") { location: Location, "The site after the change" }
    CreateContactPayload("createContact") { contact: Contact, "The new contact point" }
    UpdateContactPayload("updateContact") { contact: Contact, "The contact point after the change" }
}

/// Declares the input naming a row to delete and the payload answering with its
/// global ID.
macro_rules! deletion {
    ($($input:ident($what:literal) => $name:ident($mutation:literal) {
        $field:ident: $kind:ident, $id_doc:literal, $errors_doc:literal
    })+) => {$(
        #[doc = concat!("The ", $what, " to delete.")]
        #[derive(InputObject)]
        pub struct $input {
            #[doc = concat!("The ", $what, ".")]
            pub id: ID,
            /// The `rowVersion` you read; a stale one is refused with CONFLICT.
            pub expected_version: i32,
        }

        #[doc = concat!("Result of `", $mutation, "`.")]
        #[derive(SimpleObject)]
        pub struct $name {
            #[doc = $id_doc]
            pub $field: Option<ID>,
            #[doc = $errors_doc]
            pub user_errors: Vec<UserError>,
        }

        impl crate::graphql::mutation::Payload for $name {
            type Object = Uuid;
            fn from_parts(id: Option<Uuid>, user_errors: Vec<UserError>) -> Self {
                let $field = id.map(|id| to_global_id(NodeKind::$kind, id));
                Self { $field, user_errors }
            }
        }
    )+};
}

deletion! {
    DeleteLocationInput("site") => DeleteLocationPayload("deleteLocation") {
        deleted_location_id: Location,
        "Global ID of the deleted site; null when there are user errors.",
        "Problems with the input (INVALID_STATE while services are delivered at the\nsite); nothing was changed when there are any."
    }
    DeleteContactInput("contact point") => DeleteContactPayload("deleteContact") {
        deleted_contact_id: Contact,
        "Global ID of the deleted contact point.",
        "Problems with the input; nothing was changed when there are any."
    }
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
        #[graphql(desc = "What to do: see the input type.")] input: CreateLocationInput,
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
        mutate(ctx, async |db, actor| {
            sites::create_location(db, actor, organization, fields).await
        })
        .await
    }

    /// Changes a site: the organization's administrator (ORG_ADMIN) or a machine client
    /// of it with the `organization:write` scope.
    async fn update_location(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateLocationInput,
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
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            sites::update_location(db, actor, id, expected, fields).await
        })
        .await
    }

    /// Deletes a site, refused with INVALID_STATE while a service is delivered there:
    /// the organization's administrator (ORG_ADMIN) or a machine client of it with the
    /// `organization:write` scope.
    async fn delete_location(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: DeleteLocationInput,
    ) -> GqlResult<DeleteLocationPayload> {
        let id = expect_id(&input.id, NodeKind::Location)?;
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            sites::delete_location(db, actor, id, expected).await
        })
        .await
    }

    /// Adds a contact point to an organization: its administrator (ORG_ADMIN) or a
    /// machine client of it with the `organization:write` scope.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateContactInput,
    ) -> GqlResult<CreateContactPayload> {
        let organization = expect_id(&input.organization, NodeKind::Organization)?;
        let fields = ContactFields {
            name: Some(input.name),
            title: input.title,
            department: input.department,
            email: input.email,
            phone: input.phone,
        };
        mutate(ctx, async |db, actor| {
            sites::create_contact(db, actor, organization, fields).await
        })
        .await
    }

    /// Changes a contact point: the organization's administrator (ORG_ADMIN) or a
    /// machine client of it with the `organization:write` scope.
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateContactInput,
    ) -> GqlResult<UpdateContactPayload> {
        let id = expect_id(&input.id, NodeKind::Contact)?;
        let fields = ContactFields {
            name: input.name,
            title: input.title,
            department: input.department,
            email: input.email,
            phone: input.phone,
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            sites::update_contact(db, actor, id, expected, fields).await
        })
        .await
    }

    /// Deletes a contact point: the organization's administrator (ORG_ADMIN) or a
    /// machine client of it with the `organization:write` scope.
    async fn delete_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: DeleteContactInput,
    ) -> GqlResult<DeleteContactPayload> {
        let id = expect_id(&input.id, NodeKind::Contact)?;
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            sites::delete_contact(db, actor, id, expected).await
        })
        .await
    }
}
