//! The roof of the house: the schema that merges every area's roots, `node`
//! dispatch over every area's types, and the limits async-graphql leaves open.

pub mod gate;
pub mod node;

use crate::api_client::mutations::ApiClientMutations;
use crate::api_client::resolvers::ApiClientQueries;
use crate::audit::resolvers::AuditQueries;
use crate::catalogue::mutations::CatalogueMutations;
use crate::catalogue::resolvers::CatalogueQueries;
use crate::context::AppState;
use crate::events::resolvers::EventQueries;
use crate::events::subscriptions::EventSubscriptions;
use crate::graphql::guard::Limits;
use crate::matching::resolvers::MatchingQueries;
use crate::organization::mutations::OrganizationMutations;
use crate::organization::registry_mutations::RegistryMutations;
use crate::organization::resolvers::OrganizationQueries;
use crate::organization::site_mutations::SiteMutations;
use crate::organization::viewer::ViewerQueries;
use crate::person::assessment_mutations::AssessmentMutations;
use crate::person::mutations::PersonMutations;
use crate::person::resolvers::PersonQueries;
use crate::plan::mutations::PlanMutations;
use crate::plan::resolvers::PlanQueries;
use crate::protocol::mutations::ProtocolMutations;
use crate::protocol::resolvers::ProtocolQueries;
use crate::referral::mutations::ReferralMutations;
use crate::referral::resolvers::ReferralQueries;
use crate::routing::mutations::RoutingMutations;
use crate::routing::resolvers::RoutingQueries;
use crate::statistics::resolvers::StatisticsQueries;
use crate::sync::resolvers::SyncQueries;
use crate::taxonomy::mutations::TaxonomyMutations;
use crate::taxonomy::resolvers::TaxonomyQueries;
use crate::territory::mutations::TerritoryMutations;
use crate::territory::resolvers::TerritoryQueries;
use crate::translation::mutations::TranslationMutations;
use crate::webhooks::mutations::WebhookMutations;
use crate::webhooks::resolvers::WebhookQueries;
use crate::working_group::mutations::WorkingGroupMutations;
use crate::working_group::resolvers::WorkingGroupQueries;
use async_graphql::{MergedObject, MergedSubscription, Schema};
use node::NodeQueries;

/// The public directory of the MeLT network: territories, organizations, the service
/// catalogue, protocols and their signatories.
#[derive(MergedObject, Default)]
pub struct Query(
    NodeQueries,
    ViewerQueries,
    TerritoryQueries,
    OrganizationQueries,
    TaxonomyQueries,
    CatalogueQueries,
    ProtocolQueries,
    AuditQueries,
    ApiClientQueries,
    PersonQueries,
    ReferralQueries,
    MatchingQueries,
    RoutingQueries,
    EventQueries,
    WebhookQueries,
    SyncQueries,
    WorkingGroupQueries,
    StatisticsQueries,
    PlanQueries,
);

/// Changes to the network: each takes one `input` and returns a payload with
/// `userErrors`. Every change is recorded in the audit log.
#[derive(MergedObject, Default)]
pub struct Mutation(
    OrganizationMutations,
    ApiClientMutations,
    ProtocolMutations,
    TerritoryMutations,
    TaxonomyMutations,
    RegistryMutations,
    SiteMutations,
    CatalogueMutations,
    TranslationMutations,
    PersonMutations,
    AssessmentMutations,
    ReferralMutations,
    RoutingMutations,
    WebhookMutations,
    WorkingGroupMutations,
    PlanMutations,
);

/// Events as they commit, over graphql-transport-ws at `/graphql/ws`.
#[derive(MergedSubscription, Default)]
pub struct Subscription(EventSubscriptions);

pub use gate::MeltSchema;

/// The schema with neither data, limits nor gate: for exporting and introspecting it.
pub type BareSchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema with its limits, behind its gate. The application state is in the
/// schema data; each operation gets its loaders from the gate and its caller from the
/// transport ([`crate::context::operation_data`]).
pub fn build_schema(state: &AppState) -> MeltSchema {
    let settings = &state.settings;
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .data(state.clone())
    .limit_depth(settings.max_query_depth)
    .limit_complexity(settings.max_query_complexity)
    .limit_recursive_depth(settings.max_recursive_depth)
    .limit_directives(settings.max_directives);
    if !settings.introspection {
        builder = builder.disable_introspection();
    }
    if !settings.field_suggestions {
        builder = builder.disable_suggestions();
    }
    MeltSchema::new(
        builder.finish(),
        Limits::from_settings(settings),
        state.db.clone(),
    )
}

/// The schema without data or limits: for exporting and introspecting it.
pub fn bare_schema() -> BareSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    bare_schema().sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}
