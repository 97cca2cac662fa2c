//! Catalogue mutations: an organization's own services and their capacity.

use super::service::{self, CapacityChanges, ServiceFields};
use super::types::Service;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::{DeliveryMode, ServiceStatus};
use crate::graphql::payload::{UserError, split};
use crate::graphql::relay::{NodeKind, expect_id};
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use sea_orm::TransactionTrait;
use uuid::Uuid;

/// A new service of the catalogue.
#[derive(InputObject)]
pub struct CreateServiceInput {
    /// The organization that provides the service.
    pub provider: ID,
    /// Name of the service (at most 300 characters).
    pub name: String,
    /// Another name the service is known by (at most 300 characters).
    pub alternate_name: Option<String>,
    /// What the service offers (at most 10000 characters).
    pub description: String,
    /// Status; ACTIVE when omitted.
    pub status: Option<ServiceStatus>,
    /// Who may use the service, in words.
    pub eligibility_description: Option<String>,
    /// Minimum age of users, in years (0–120).
    pub minimum_age: Option<i32>,
    /// Maximum age of users, in years (0–120, not below the minimum).
    pub maximum_age: Option<i32>,
    /// Fees, in words.
    pub fees_description: Option<String>,
    /// How to apply.
    pub application_process: Option<String>,
    /// Web page of the service (http or https).
    pub url: Option<String>,
    /// Email address of the service.
    pub email: Option<String>,
    /// In person, remote or hybrid; IN_PERSON when omitted.
    pub delivery_mode: Option<DeliveryMode>,
    /// Programme or funding (at most 200 characters).
    pub funding: Option<String>,
    /// Codes of SERVICE_TYPE terms; at least one.
    pub service_types: Vec<String>,
    /// Codes of TARGET_GROUP terms.
    pub target_groups: Option<Vec<String>>,
    /// ISO 639-1 codes of the languages spoken (LANGUAGE terms).
    pub languages: Option<Vec<String>>,
    /// ISTAT codes of the municipalities the service covers; at least one.
    pub service_area_istat_codes: Vec<String>,
    /// Sites of the provider where the service is delivered.
    pub locations: Option<Vec<ID>>,
}

/// Changes to a service. Omitted fields stay as they are; an empty string clears an
/// optional text, null clears an age; a given list replaces the current one.
#[derive(InputObject)]
pub struct UpdateServiceInput {
    /// The service.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
    /// Name of the service (at most 300 characters).
    pub name: Option<String>,
    /// Another name the service is known by (at most 300 characters).
    pub alternate_name: Option<String>,
    /// What the service offers (at most 10000 characters).
    pub description: Option<String>,
    /// Status.
    pub status: Option<ServiceStatus>,
    /// Who may use the service, in words.
    pub eligibility_description: Option<String>,
    /// Minimum age of users, in years (0–120); null clears it.
    pub minimum_age: MaybeUndefined<i32>,
    /// Maximum age of users, in years (0–120, not below the minimum); null clears it.
    pub maximum_age: MaybeUndefined<i32>,
    /// Fees, in words.
    pub fees_description: Option<String>,
    /// How to apply.
    pub application_process: Option<String>,
    /// Web page of the service (http or https).
    pub url: Option<String>,
    /// Email address of the service.
    pub email: Option<String>,
    /// In person, remote or hybrid.
    pub delivery_mode: Option<DeliveryMode>,
    /// Programme or funding (at most 200 characters).
    pub funding: Option<String>,
    /// Codes of SERVICE_TYPE terms; at least one.
    pub service_types: Option<Vec<String>>,
    /// Codes of TARGET_GROUP terms.
    pub target_groups: Option<Vec<String>>,
    /// ISO 639-1 codes of the languages spoken (LANGUAGE terms).
    pub languages: Option<Vec<String>>,
    /// ISTAT codes of the municipalities the service covers; at least one.
    pub service_area_istat_codes: Option<Vec<String>>,
    /// Sites of the provider where the service is delivered.
    pub locations: Option<Vec<ID>>,
}

/// A new status for a service.
#[derive(InputObject)]
pub struct ChangeServiceStatusInput {
    /// The service.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
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
    pub expected_version: Option<i32>,
    /// Places open now.
    pub open_places: MaybeUndefined<i32>,
    /// People waiting.
    pub waitlist_length: MaybeUndefined<i32>,
    /// Typical wait before being taken in charge, in days.
    pub typical_wait_days: MaybeUndefined<i32>,
}

/// Result of `createService`.
#[derive(SimpleObject)]
pub struct CreateServicePayload {
    /// The new service; null when there are user errors.
    pub service: Option<Service>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Result of `updateService`.
#[derive(SimpleObject)]
pub struct UpdateServicePayload {
    /// The service after the change; null when there are user errors.
    pub service: Option<Service>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Result of `changeServiceStatus`.
#[derive(SimpleObject)]
pub struct ChangeServiceStatusPayload {
    /// The service after the change.
    pub service: Option<Service>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Result of `updateServiceCapacity`.
#[derive(SimpleObject)]
pub struct UpdateServiceCapacityPayload {
    /// The service after the change; null when there are user errors.
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
        input: CreateServiceInput,
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
            target_groups: Some(input.target_groups.unwrap_or_default()),
            languages: Some(input.languages.unwrap_or_default()),
            service_area_istat_codes: Some(input.service_area_istat_codes),
            locations: location_ids(input.locations)?,
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result = service::create_service(&txn, &ctx.actor()?, provider, fields).await?;
        txn.commit().await?;
        let (service, user_errors) = split(result);
        Ok(CreateServicePayload {
            service,
            user_errors,
        })
    }

    /// Changes a service: the provider's administrator (ORG_ADMIN) or a machine client
    /// of it with the `services:write` scope.
    async fn update_service(
        &self,
        ctx: &Context<'_>,
        input: UpdateServiceInput,
    ) -> GqlResult<UpdateServicePayload> {
        let id = expect_id(&input.id, NodeKind::Service)?;
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
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result =
            service::update_service(&txn, &ctx.actor()?, id, input.expected_version, fields)
                .await?;
        txn.commit().await?;
        let (service, user_errors) = split(result);
        Ok(UpdateServicePayload {
            service,
            user_errors,
        })
    }

    /// Changes the status of a service (e.g. TEMPORARILY_CLOSED): the provider's
    /// administrator (ORG_ADMIN) or a machine client of it with the `services:write`
    /// scope.
    async fn change_service_status(
        &self,
        ctx: &Context<'_>,
        input: ChangeServiceStatusInput,
    ) -> GqlResult<ChangeServiceStatusPayload> {
        let id = expect_id(&input.id, NodeKind::Service)?;
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let row = service::change_service_status(
            &txn,
            &ctx.actor()?,
            id,
            input.expected_version,
            input.status.into(),
        )
        .await?;
        txn.commit().await?;
        Ok(ChangeServiceStatusPayload {
            service: Some(Service(row)),
            user_errors: Vec::new(),
        })
    }

    /// Updates the open places, waitlist and typical wait of a service: the provider's
    /// administrator (ORG_ADMIN) or a machine client of it with the `services:write`
    /// scope.
    async fn update_service_capacity(
        &self,
        ctx: &Context<'_>,
        input: UpdateServiceCapacityInput,
    ) -> GqlResult<UpdateServiceCapacityPayload> {
        let id = expect_id(&input.id, NodeKind::Service)?;
        let changes = CapacityChanges {
            open_places: input.open_places.into(),
            waitlist_length: input.waitlist_length.into(),
            typical_wait_days: input.typical_wait_days.into(),
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let result =
            service::update_capacity(&txn, &ctx.actor()?, id, input.expected_version, changes)
                .await?;
        txn.commit().await?;
        let (service, user_errors) = split(result);
        Ok(UpdateServiceCapacityPayload {
            service,
            user_errors,
        })
    }
}
