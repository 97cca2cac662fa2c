//! The schema: merged query roots and the limits async-graphql leaves open.

use crate::api_client::mutations::ApiClientMutations;
use crate::api_client::resolvers::ApiClientQueries;
use crate::audit::resolvers::AuditQueries;
use crate::auth::resolvers::ViewerQueries;
use crate::catalogue::mutations::CatalogueMutations;
use crate::catalogue::resolvers::CatalogueQueries;
use crate::graphql::guard::{DocumentGuard, Limits};
use crate::graphql::node::NodeQueries;
use crate::organization::mutations::OrganizationMutations;
use crate::organization::registry_mutations::RegistryMutations;
use crate::organization::resolvers::OrganizationQueries;
use crate::organization::site_mutations::SiteMutations;
use crate::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::person::mutations::PersonMutations;
use crate::person::resolvers::PersonQueries;
use crate::protocol::mutations::ProtocolMutations;
use crate::protocol::resolvers::ProtocolQueries;
use crate::referral::mutations::ReferralMutations;
use crate::referral::resolvers::ReferralQueries;
use crate::settings::Settings;
use crate::taxonomy::mutations::TaxonomyMutations;
use crate::taxonomy::resolvers::TaxonomyQueries;
use crate::territory::mutations::TerritoryMutations;
use crate::territory::resolvers::TerritoryQueries;
use async_graphql::{EmptySubscription, MergedObject, Schema};
use sea_orm::DatabaseConnection;

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
    ReferralMutations,
);

/// The executable schema.
pub type MeltSchema = Schema<Query, Mutation, EmptySubscription>;

/// Complexity of a connection field: its selection costs once per requested item.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let requested = page_items(first.map(i64::from), last.map(i64::from));
    let items = usize::try_from(requested).unwrap_or(usize::MAX);
    items.saturating_mul(child_complexity).saturating_add(1)
}

/// Items a connection is costed for: `first`, else `last`, else the default page size;
/// at most the largest page.
pub fn page_items(first: Option<i64>, last: Option<i64>) -> u64 {
    first.or(last).map_or(DEFAULT_PAGE_SIZE, |n| {
        u64::try_from(n).unwrap_or(0).min(MAX_PAGE_SIZE)
    })
}

/// Builds the schema with its limits. The database is in the schema data; per-request
/// data (loaders) is added to each request.
pub fn build_schema(
    db: DatabaseConnection,
    settings: &Settings,
    protection: std::sync::Arc<crate::crypto::DataProtection>,
) -> MeltSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(db)
        .data(protection)
        .data(crate::person::access::ReceiverAccess::days(
            settings.receiver_access_days,
        ))
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
