//! Organization queries.

use super::service::{self, LocationQuery, OrganizationQuery};
use super::types::{LocationConnection, OrganizationConnection};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::stored;
use crate::graphql::enums::{OrderDirection, OrganizationKind, Sector};
use crate::graphql::relay::NodeKind;
use crate::graphql::relay::expect_opt_id;
use crate::graphql::scalars::Timestamp;
use crate::pagination::Window;
use async_graphql::{Context, Enum, ID, InputObject, Object};

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
    /// Only organizations with a site in a municipality of this territory: a hub area,
    /// a zone, a province, the region (or a municipality). A territory that does not
    /// exist has no municipality, so no organization.
    pub territory: Option<ID>,
    /// Only organizations that signed this protocol.
    pub signed_protocol: Option<ID>,
    /// Only organizations changed at or after this time (inclusive): what a mirror
    /// reads since its last read, with `orderBy: {field: UPDATED_AT}`.
    pub updated_since: Option<Timestamp>,
}

/// Fields organizations can be ordered by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OrganizationOrderField {
    /// Name (case and accents ignored).
    #[default]
    Name,
    /// Time of the last change (`updatedAt`), then id.
    UpdatedAt,
}

/// Ordering of `organizations`.
#[derive(InputObject, Default)]
pub struct OrganizationOrderBy {
    /// The field.
    #[graphql(default)]
    pub field: OrganizationOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Filter of `locations`. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct LocationFilter {
    /// Only the sites of this organization.
    pub organization: Option<ID>,
    /// Only sites changed at or after this time (inclusive): what a mirror reads since
    /// its last read, with `orderBy: {field: UPDATED_AT}`. Deleted sites are in
    /// `tombstones`.
    pub updated_since: Option<Timestamp>,
}

/// Fields sites can be ordered by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LocationOrderField {
    /// Name.
    #[default]
    Name,
    /// Time of the last change (`updatedAt`), then id.
    UpdatedAt,
}

/// Ordering of `locations`.
#[derive(InputObject, Default)]
pub struct LocationOrderBy {
    /// The field.
    #[graphql(default)]
    pub field: LocationOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Organization queries.
#[derive(Default)]
pub struct OrganizationQueries;

#[Object]
impl OrganizationQueries {
    /// Organizations of the network, ordered by name (or by last change: `orderBy`).
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only organizations matching every given condition; all when omitted.")]
        filter: Option<OrganizationFilter>,
        #[graphql(desc = "The order (default: by name).")] order_by: Option<OrganizationOrderBy>,
        #[graphql(
            desc = "Return at most this many items from the start of the list (1 to 100), with `after`."
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the items after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
        #[graphql(
            desc = "Return at most this many items from the end of the list (1 to 100), with `before`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Return the items before this cursor (an edge's `cursor`).")]
        before: Option<String>,
    ) -> GqlResult<OrganizationConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let order_by = order_by.unwrap_or_default();
        let query = OrganizationQuery {
            kinds: stored(filter.kinds),
            sectors: stored(filter.sectors),
            search: crate::validation::search(filter.search)?,
            municipality: expect_opt_id(filter.municipality.as_ref(), NodeKind::Territory)?,
            territory: expect_opt_id(filter.territory.as_ref(), NodeKind::Territory)?,
            signed_protocol: expect_opt_id(filter.signed_protocol.as_ref(), NodeKind::Protocol)?,
            updated_since: filter.updated_since.map(Into::into),
            by_last_change: order_by.field == OrganizationOrderField::UpdatedAt,
            descending: order_by.direction == OrderDirection::Desc,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(OrganizationConnection::from_page(page, total))
    }

    /// Sites of the organizations of the network (public), ordered by name (or by last
    /// change: `orderBy`).
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only sites matching every given condition; all when omitted.")]
        filter: Option<LocationFilter>,
        #[graphql(desc = "The order (default: by name).")] order_by: Option<LocationOrderBy>,
        #[graphql(
            desc = "Return at most this many items from the start of the list (1 to 100), with `after`."
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the items after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
        #[graphql(
            desc = "Return at most this many items from the end of the list (1 to 100), with `before`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Return the items before this cursor (an edge's `cursor`).")]
        before: Option<String>,
    ) -> GqlResult<LocationConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let order_by = order_by.unwrap_or_default();
        let query = LocationQuery {
            organization: expect_opt_id(filter.organization.as_ref(), NodeKind::Organization)?,
            updated_since: filter.updated_since.map(Into::into),
            by_last_change: order_by.field == LocationOrderField::UpdatedAt,
            descending: order_by.direction == OrderDirection::Desc,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list_locations(db, &query, &window, with_total).await?;
        Ok(LocationConnection::from_page(page, total))
    }
}
