//! The roof of the house: the schema that merges every area's roots, `node`
//! dispatch over every area's types, and the limits async-graphql leaves open.

pub mod node;

use crate::api_client::mutations::ApiClientMutations;
use crate::api_client::resolvers::ApiClientQueries;
use crate::audit::resolvers::AuditQueries;
use crate::catalogue::mutations::CatalogueMutations;
use crate::catalogue::resolvers::CatalogueQueries;
use crate::context::AppState;
use crate::events::resolvers::EventQueries;
use crate::graphql::guard::{DocumentGuard, Limits};
use crate::matching::resolvers::MatchingQueries;
use crate::organization::mutations::OrganizationMutations;
use crate::organization::registry_mutations::RegistryMutations;
use crate::organization::resolvers::OrganizationQueries;
use crate::organization::site_mutations::SiteMutations;
use crate::organization::viewer::ViewerQueries;
use crate::person::assessment_mutations::AssessmentMutations;
use crate::person::mutations::PersonMutations;
use crate::person::resolvers::PersonQueries;
use crate::protocol::mutations::ProtocolMutations;
use crate::protocol::resolvers::ProtocolQueries;
use crate::referral::mutations::ReferralMutations;
use crate::referral::resolvers::ReferralQueries;
use crate::routing::mutations::RoutingMutations;
use crate::routing::resolvers::RoutingQueries;
use crate::taxonomy::mutations::TaxonomyMutations;
use crate::taxonomy::resolvers::TaxonomyQueries;
use crate::territory::mutations::TerritoryMutations;
use crate::territory::resolvers::TerritoryQueries;
use async_graphql::{EmptySubscription, MergedObject, Schema};
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
    PersonMutations,
    AssessmentMutations,
    ReferralMutations,
    RoutingMutations,
);

/// The executable schema.
pub type MeltSchema = Schema<Query, Mutation, EmptySubscription>;

/// Builds the schema with its limits. The application state is in the schema data;
/// per-operation data (loaders, the caller) is added to each request
/// ([`crate::context::operation_data`]).
pub fn build_schema(state: &AppState) -> MeltSchema {
    let settings = &state.settings;
    let mut builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(state.clone())
        .extension(DocumentGuard::new(Limits::from_settings(settings)))
        .extension(crate::input_guard::InputGuard)
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
    builder.finish()
}

/// The schema without data or limits: for exporting and introspecting it.
pub fn bare_schema() -> MeltSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription).finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    bare_schema().sdl()
}
