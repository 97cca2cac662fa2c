//! Organization queries.

use super::service::{self, OrganizationQuery};
use super::types::OrganizationConnection;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::stored;
use crate::graphql::enums::{OrganizationKind, Sector};
use crate::graphql::relay::NodeKind;
use crate::graphql::relay::expect_opt_id;
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object};

/// Filter of `organizations`. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct OrganizationFilter {
    /// Only these kinds.
    pub kinds: Option<Vec<OrganizationKind>>,
    /// Only these sectors.
    pub sectors: Option<Vec<Sector>>,
    /// Name contains this text; case and accents are ignored.
    pub search: Option<String>,
    /// Only organizations with a site in this municipality.
    pub municipality: Option<ID>,
    /// Only organizations that signed this protocol.
    pub signed_protocol: Option<ID>,
}

/// Organization queries.
#[derive(Default)]
pub struct OrganizationQueries;

#[Object]
impl OrganizationQueries {
    /// Organizations of the network, ordered by name.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrganizationFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<OrganizationConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = OrganizationQuery {
            kinds: stored(filter.kinds),
            sectors: stored(filter.sectors),
            search: crate::validation::search(filter.search)?,
            municipality: expect_opt_id(filter.municipality.as_ref(), NodeKind::Territory)?,
            signed_protocol: expect_opt_id(filter.signed_protocol.as_ref(), NodeKind::Protocol)?,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(OrganizationConnection::from_page(page, total))
    }
}
