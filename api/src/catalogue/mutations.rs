//! Catalogue mutations: an organization's own services and their capacity.

use super::fields::ServiceFields;
use super::service::{self, CapacityChanges};
use super::types::Service;
use crate::error::GqlResult;
use crate::graphql::enums::{DeliveryMode, ServiceStatus};
use crate::graphql::mutation::{in_transaction, mutate, payload};
use crate::graphql::payload::UserError;
use crate::graphql::relay::{NodeKind, expect_id};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use uuid::Uuid;

/// Declares the inputs creating and changing a service from one list of fields, in
/// schema order: `field: CreateType | UpdateType, "description" ["on create" | "on
/// update"];` where the update type (when it differs) and the endings of the
/// description (when they differ) are optional.
macro_rules! service_inputs {
    (@update_type $create:ty) => { $create };
    (@update_type $create:ty, $update:ty) => { $update };
    ($($field:ident: $create:ty $(| $update:ty)?, $doc:literal $([$on_create:literal | $on_update:literal])?;)+) => {
        /// A new service of the catalogue.
        #[derive(InputObject)]
        pub struct CreateServiceInput {
            /// The organization that provides the service.
            pub provider: ID,
            $(#[doc = concat!($doc $(, $on_create)?)] pub $field: $create,)+
        }

        /// Changes to a service. Omitted fields stay as they are; an empty string clears an
        /// optional text, null clears an age; a given list replaces the current one.
        #[derive(InputObject)]
        pub struct UpdateServiceInput {
            /// The service.
            pub id: ID,
            /// The `rowVersion` you read; a stale one is refused with CONFLICT.
            pub expected_version: i32,
            $(
                #[doc = concat!($doc $(, $on_update)?)]
                pub $field: service_inputs!(@update_type $create $(, $update)?),
            )+
        }
    };
}

service_inputs! {
    name: String | Option<String>, "Name of the service (at most 300 characters).";
    alternate_name: Option<String>, "Another name the service is known by (at most 300 characters).";
    description: String | Option<String>, "What the service offers (at most 10000 characters).";
    status: Option<ServiceStatus>, "Status" ["; ACTIVE when omitted." | "."];
    eligibility_description: Option<String>, "Who may use the service, in words.";
    minimum_age: Option<i32> | MaybeUndefined<i32>, "Minimum age of users, in years (0–120)"
        ["." | "; null clears it."];
    maximum_age: Option<i32> | MaybeUndefined<i32>,
        "Maximum age of users, in years (0–120, not below the minimum)" ["." | "; null clears it."];
    fees_description: Option<String>, "Fees, in words.";
    application_process: Option<String>, "How to apply.";
    url: Option<String>, "Web page of the service (http or https).";
    email: Option<String>, "Email address of the service.";
    delivery_mode: Option<DeliveryMode>, "In person, remote or hybrid" ["; IN_PERSON when omitted." | "."];
    funding: Option<String>, "Programme or funding (at most 200 characters).";
    service_types: Vec<String> | Option<Vec<String>>, "Codes of SERVICE_TYPE terms; at least one.";
    target_groups: Option<Vec<String>>, "Codes of TARGET_GROUP terms.";
    languages: Option<Vec<String>>, "ISO 639-1 codes of the languages spoken (LANGUAGE terms).";
    service_area_istat_codes: Vec<String> | Option<Vec<String>>,
        "ISTAT codes of the municipalities the service covers; at least one.";
    locations: Option<Vec<ID>>, "Sites of the provider where the service is delivered.";
}

/// A new status for a service.
#[derive(InputObject)]
pub struct ChangeServiceStatusInput {
    /// The service.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// The new status.
    pub status: ServiceStatus,
}

/// New capacity figures of a service (each 0–100000). Omitted figures stay as they
/// are; null clears one. The update time is set to now.
#[derive(InputObject)]
pub struct UpdateServiceCapacityInput {
    /// The service.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// Places open now.
    pub open_places: MaybeUndefined<i32>,
    /// People waiting.
    pub waitlist_length: MaybeUndefined<i32>,
    /// Typical wait before being taken in charge, in days.
    pub typical_wait_days: MaybeUndefined<i32>,
}

payload! {
    CreateServicePayload("createService") { service: Service, "The new service" }
    UpdateServicePayload("updateService") { service: Service, "The service after the change" }
    UpdateServiceCapacityPayload("updateServiceCapacity") {
        service: Service, "The service after the change"
    }
}

/// Result of `changeServiceStatus`.
#[derive(SimpleObject)]
pub struct ChangeServiceStatusPayload {
    /// The service after the change.
    pub service: Option<Service>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

fn location_ids(ids: Option<Vec<ID>>) -> GqlResult<Option<Vec<Uuid>>> {
    Ok(ids
        .map(|ids| {
            ids.iter()
                .map(|id| expect_id(id, NodeKind::Location))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?)
}

/// Catalogue mutations.
#[derive(Default)]
pub struct CatalogueMutations;

#[Object]
impl CatalogueMutations {
    /// Adds a service to the catalogue: the provider's administrator (ORG_ADMIN) or a
    /// machine client of it with the `services:write` scope.
    async fn create_service(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateServiceInput,
    ) -> GqlResult<CreateServicePayload> {
        let provider = expect_id(&input.provider, NodeKind::Organization)?;
        let fields = ServiceFields {
            name: Some(input.name),
            alternate_name: input.alternate_name,
            description: Some(input.description),
            status: input.status.map(Into::into),
            eligibility_description: input.eligibility_description,
            minimum_age: Some(input.minimum_age),
            maximum_age: Some(input.maximum_age),
            fees_description: input.fees_description,
            application_process: input.application_process,
            url: input.url,
            email: input.email,
            delivery_mode: input.delivery_mode.map(Into::into),
            funding: input.funding,
            service_types: Some(input.service_types),
            target_groups: input.target_groups,
            languages: input.languages,
            service_area_istat_codes: Some(input.service_area_istat_codes),
            locations: location_ids(input.locations)?,
        };
        mutate(ctx, async |db, actor| {
            service::create_service(db, actor, provider, fields).await
        })
        .await
    }

    /// Changes a service: the provider's administrator (ORG_ADMIN) or a machine client
    /// of it with the `services:write` scope.
    async fn update_service(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateServiceInput,
    ) -> GqlResult<UpdateServicePayload> {
        let id = expect_id(&input.id, NodeKind::Service)?;
        let expected = input.expected_version;
        let fields = ServiceFields {
            name: input.name,
            alternate_name: input.alternate_name,
            description: input.description,
            status: input.status.map(Into::into),
            eligibility_description: input.eligibility_description,
            minimum_age: input.minimum_age.into(),
            maximum_age: input.maximum_age.into(),
            fees_description: input.fees_description,
            application_process: input.application_process,
            url: input.url,
            email: input.email,
            delivery_mode: input.delivery_mode.map(Into::into),
            funding: input.funding,
            service_types: input.service_types,
            target_groups: input.target_groups,
            languages: input.languages,
            service_area_istat_codes: input.service_area_istat_codes,
            locations: location_ids(input.locations)?,
        };
        mutate(ctx, async |db, actor| {
            service::update_service(db, actor, id, expected, fields).await
        })
        .await
    }

    /// Changes the status of a service (e.g. TEMPORARILY_CLOSED): the provider's
    /// administrator (ORG_ADMIN) or a machine client of it with the `services:write`
    /// scope.
    async fn change_service_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: ChangeServiceStatusInput,
    ) -> GqlResult<ChangeServiceStatusPayload> {
        let id = expect_id(&input.id, NodeKind::Service)?;
        let (expected, status) = (input.expected_version, input.status.into());
        let row = in_transaction(ctx, async |db, actor| {
            service::change_service_status(db, actor, id, expected, status).await
        })
        .await?;
        Ok(ChangeServiceStatusPayload {
            service: Some(Service::from(row)),
            user_errors: Vec::new(),
        })
    }

    /// Updates the open places, waitlist and typical wait of a service: the provider's
    /// administrator (ORG_ADMIN) or a machine client of it with the `services:write`
    /// scope.
    async fn update_service_capacity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateServiceCapacityInput,
    ) -> GqlResult<UpdateServiceCapacityPayload> {
        let id = expect_id(&input.id, NodeKind::Service)?;
        let expected = input.expected_version;
        let changes = CapacityChanges {
            open_places: input.open_places.into(),
            waitlist_length: input.waitlist_length.into(),
            typical_wait_days: input.typical_wait_days.into(),
        };
        mutate(ctx, async |db, actor| {
            service::update_capacity(db, actor, id, expected, changes).await
        })
        .await
    }
}
