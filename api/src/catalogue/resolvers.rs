//! Catalogue queries.

use super::domain::Near;
use super::query::{self as catalogue, ServiceOrder, ServiceQuery};
use super::types::{ServiceConnection, connection_reads_whole_rows};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::stored;
use crate::graphql::enums::{DeliveryMode, OrderDirection, OrganizationKind, ServiceStatus};
use crate::graphql::relay::NodeKind;
use crate::graphql::relay::expect_opt_id;
use crate::graphql::scalars::Timestamp;
use crate::pagination::Window;
use crate::territory::domain::IstatCode;
use async_graphql::{Context, Enum, ID, InputObject, Object};

/// A circle on the map.
#[derive(InputObject)]
pub struct NearInput {
    /// Latitude of the centre (WGS 84 degrees).
    pub latitude: f64,
    /// Longitude of the centre (WGS 84 degrees).
    pub longitude: f64,
    /// Radius in km (at most 500).
    pub radius_km: f64,
}

/// Filter of `services`. All given conditions must hold; a list matches any of its
/// elements.
#[derive(InputObject, Default)]
pub struct ServiceFilter {
    /// Codes of service types (e.g. `JOB_ORIENTATION`).
    pub service_types: Option<Vec<String>>,
    /// Codes of target groups (e.g. `FOREIGN_NATIONALS`).
    pub target_groups: Option<Vec<String>>,
    /// ISO 639-1 codes of languages spoken (e.g. `ar`).
    pub languages: Option<Vec<String>>,
    /// The service area covers this municipality.
    pub municipality: Option<ID>,
    /// The service area covers the municipality with this ISTAT code.
    pub municipality_istat_code: Option<String>,
    /// The service area covers at least one municipality of this zone, hub area,
    /// province or region.
    pub territory: Option<ID>,
    /// Delivery modes.
    pub delivery_modes: Option<Vec<DeliveryMode>>,
    /// Provider organization.
    pub provider: Option<ID>,
    /// Only services whose provider organization is of one of these kinds (e.g.
    /// `[EMPLOYMENT_CENTRE, MUNICIPAL_SOCIAL_SERVICE]`).
    pub provider_kinds: Option<Vec<OrganizationKind>>,
    /// Statuses.
    pub statuses: Option<Vec<ServiceStatus>>,
    /// With open places (true) or full (false).
    pub has_open_places: Option<bool>,
    /// Text in name, alternate name or description; case and accents are ignored
    /// ("citta" finds "Città").
    pub search: Option<String>,
    /// Services with a site within this circle; edges then carry `distanceKm`, and
    /// `orderBy: {field: DISTANCE}` lists the nearest first. With `municipality` (or
    /// `municipalityIstatCode`, `territory`) it keeps the services near the point
    /// that also serve there: "near me, and for people living in my municipality".
    pub near: Option<NearInput>,
    /// Only services changed at or after this time (inclusive): what a mirror reads
    /// since its last read, with `orderBy: {field: UPDATED_AT}`. Services that left the
    /// active catalogue are in `tombstones` too.
    pub updated_since: Option<Timestamp>,
}

/// Fields services can be ordered by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServiceOrderField {
    /// Name (case and accents ignored).
    #[default]
    Name,
    /// Creation time.
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
    /// Distance of the service's nearest site from the centre of the `near` filter
    /// (needed: without it the order is refused with BAD_USER_INPUT), then id. Pages
    /// by cursor like every order.
    Distance,
}

/// Ordering of `services`.
#[derive(InputObject, Default)]
pub struct ServiceOrderBy {
    /// The field.
    #[graphql(default)]
    pub field: ServiceOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// The catalogue query a filter asks for (IDs and codes checked).
pub async fn to_query(
    db: &impl sea_orm::ConnectionTrait,
    filter: ServiceFilter,
) -> crate::error::AppResult<ServiceQuery> {
    let mut municipality = expect_opt_id(filter.municipality.as_ref(), NodeKind::Territory)?;
    if let Some(code) = filter.municipality_istat_code {
        let code = IstatCode::parse(&code)?;
        let found = crate::territory::service::municipality_by_code(db, &code).await?;
        let found = found.ok_or_else(|| {
            crate::error::AppError::BadUserInput(format!(
                "no municipality has ISTAT code {}",
                code.as_str()
            ))
        })?;
        municipality = Some(found.id);
    }
    Ok(ServiceQuery {
        service_types: filter.service_types.unwrap_or_default(),
        target_groups: filter.target_groups.unwrap_or_default(),
        languages: filter.languages.unwrap_or_default(),
        municipality,
        territory: expect_opt_id(filter.territory.as_ref(), NodeKind::Territory)?,
        delivery_modes: stored(filter.delivery_modes),
        provider: expect_opt_id(filter.provider.as_ref(), NodeKind::Organization)?,
        provider_kinds: stored(filter.provider_kinds),
        statuses: stored(filter.statuses),
        has_open_places: filter.has_open_places,
        search: crate::validation::search(filter.search)?,
        near: filter
            .near
            .map(|n| Near::parse(n.latitude, n.longitude, n.radius_km))
            .transpose()?,
        updated_since: filter.updated_since.map(Into::into),
    })
}

/// Catalogue queries.
#[derive(Default)]
pub struct CatalogueQueries;

#[Object]
impl CatalogueQueries {
    /// Services of the catalogue.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn services(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only services matching every given condition; all when omitted.")]
        filter: Option<ServiceFilter>,
        #[graphql(desc = "The order of the services (by default NAME).")] order_by: Option<
            ServiceOrderBy,
        >,
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
    ) -> GqlResult<ServiceConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let db = ctx.db()?;
        let query = to_query(db, filter.unwrap_or_default()).await?;
        let order_by = order_by.unwrap_or_default();
        let order = match order_by.field {
            ServiceOrderField::Name => ServiceOrder::Name,
            ServiceOrderField::CreatedAt => ServiceOrder::CreatedAt,
            ServiceOrderField::UpdatedAt => ServiceOrder::UpdatedAt,
            ServiceOrderField::Distance => ServiceOrder::Distance,
        };
        let listing = catalogue::Listing {
            order,
            descending: order_by.direction == OrderDirection::Desc,
            with_total: ctx.wants_total(),
            whole_rows: connection_reads_whole_rows(&ctx.look_ahead()),
        };
        let result = catalogue::list(db, &query, listing, &window).await?;
        Ok(ServiceConnection::from_page(result))
    }
}
