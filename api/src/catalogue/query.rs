//! Reading the catalogue: the service filter (terms, area, provider and its kind,
//! status, capacity, free text, distance), the orderings (distance included), and the
//! distances shown on a page.

use super::domain::Near;
use crate::error::AppError;
use crate::error::AppResult;
use crate::pagination::{self, Cursor, KeyKind, Page, Sort, SortKey, Window};
use crate::territory;
use entity::enums::{DeliveryMode, OrganizationKind, ServiceStatus, Taxonomy};
use entity::{
    location, organization, service, service_area, service_at_location, service_term, term,
};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, JoinType, LikeExpr, Query, SelectStatement, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QueryResult, QuerySelect, QueryTrait, Select,
};
use std::collections::HashMap;
use uuid::Uuid;

/// What to list. Every given condition must hold; list conditions match any element.
#[derive(Clone, Debug, Default)]
pub struct ServiceQuery {
    /// Codes of SERVICE_TYPE terms.
    pub service_types: Vec<String>,
    /// Codes of TARGET_GROUP terms.
    pub target_groups: Vec<String>,
    /// Codes of LANGUAGE terms (ISO 639-1).
    pub languages: Vec<String>,
    /// Service area covers this municipality.
    pub municipality: Option<Uuid>,
    /// Service area covers at least one municipality of this territory.
    pub territory: Option<Uuid>,
    /// Delivery modes.
    pub delivery_modes: Vec<DeliveryMode>,
    /// Provider organization.
    pub provider: Option<Uuid>,
    /// Kinds of the provider organization.
    pub provider_kinds: Vec<OrganizationKind>,
    /// Statuses.
    pub statuses: Vec<ServiceStatus>,
    /// With (true) or without (false) open places.
    pub has_open_places: Option<bool>,
    /// Free text in name, alternate name and description (case and accents ignored).
    pub search: Option<String>,
    /// Within a circle.
    pub near: Option<Near>,
    /// Changed at or after this time.
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

impl ServiceQuery {
    /// The statuses asked for when they are the query's only condition (none: every
    /// service): the catalogue's count is then one the database keeps
    /// ([`crate::tally::services`]).
    fn statuses_only(&self) -> Option<&[ServiceStatus]> {
        let Self {
            service_types,
            target_groups,
            languages,
            municipality,
            territory,
            delivery_modes,
            provider,
            provider_kinds,
            statuses,
            has_open_places,
            search,
            near,
            updated_since,
        } = self;
        let unconditional = service_types.is_empty()
            && target_groups.is_empty()
            && languages.is_empty()
            && municipality.is_none()
            && territory.is_none()
            && delivery_modes.is_empty()
            && provider.is_none()
            && provider_kinds.is_empty()
            && has_open_places.is_none()
            && search.is_none()
            && near.is_none()
            && updated_since.is_none();
        unconditional.then_some(statuses.as_slice())
    }
}

/// Orderings of services.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServiceOrder {
    /// By name.
    #[default]
    Name,
    /// By creation time.
    CreatedAt,
    /// By last change.
    UpdatedAt,
    /// By the distance of the nearest site from the centre of the query's `near`
    /// circle (which it needs).
    Distance,
}

/// The order by a column of the service; `None` for [`ServiceOrder::Distance`], a key
/// the database computes ([`by_distance`]).
fn sort<R: AsRef<service::Model>>(
    order: ServiceOrder,
    descending: bool,
) -> Option<Sort<service::Entity, R>> {
    let (column, cursor): (_, fn(&R) -> Cursor) = match order {
        ServiceOrder::Distance => return None,
        ServiceOrder::Name => (service::Column::SearchName, |row| {
            let row = row.as_ref();
            Cursor::new(SortKey::Text(row.search_name.clone()), row.id)
        }),
        ServiceOrder::CreatedAt => (service::Column::CreatedAt, |row| {
            let row = row.as_ref();
            Cursor::new(SortKey::Time(row.created_at), row.id)
        }),
        ServiceOrder::UpdatedAt => (service::Column::UpdatedAt, |row| {
            let row = row.as_ref();
            Cursor::new(SortKey::Time(row.updated_at), row.id)
        }),
    };
    Some(Sort::by(column, service::Column::Id, descending, cursor))
}

/// Services linked to a term of `taxonomy` with one of `codes`.
fn with_terms(taxonomy: Taxonomy, codes: &[String]) -> SelectStatement {
    Query::select()
        .column((service_term::Entity, service_term::Column::ServiceId))
        .from(service_term::Entity)
        .inner_join(
            term::Entity,
            Expr::col((term::Entity, term::Column::Id))
                .equals((service_term::Entity, service_term::Column::TermId)),
        )
        .and_where(Expr::col((term::Entity, term::Column::Taxonomy)).eq(taxonomy))
        .and_where(Expr::col((term::Entity, term::Column::Code)).is_in(codes.to_vec()))
        .to_owned()
}

/// Services whose area has a municipality `municipality` matches (a condition on
/// `service_area.municipality_id`).
fn covering(municipality: SimpleExpr) -> SelectStatement {
    Query::select()
        .column(service_area::Column::ServiceId)
        .from(service_area::Entity)
        .and_where(municipality)
        .to_owned()
}

/// The square of the distance in km from the centre of `near` to a site (a row of
/// `location`), by the equirectangular projection of [`Near::distance_km`]: the
/// database computes it, SQLite having no trigonometry (the cosine of the centre's
/// latitude is a constant of the statement). Squared, as no square root is needed to
/// compare or order.
fn squared_km(near: &Near) -> Expr {
    let lat = Expr::col((location::Entity, location::Column::Latitude));
    let lon = Expr::col((location::Entity, location::Column::Longitude));
    let dy = lat.sub(near.latitude).mul(Near::km_per_degree_latitude());
    let dx = lon.sub(near.longitude).mul(near.km_per_degree_longitude());
    dy.clone().mul(dy).add(dx.clone().mul(dx))
}

/// The links of services to their sites inside the circle: the sites' coordinates
/// within the circle's bounding box first (a range of the `(latitude, longitude)`
/// index; the box holds the circle exactly, as the projection is flat), then within
/// the radius.
fn sites_near(near: &Near) -> SelectStatement {
    let lat = Expr::col((location::Entity, location::Column::Latitude));
    let lon = Expr::col((location::Entity, location::Column::Longitude));
    let (half_height, half_width) = near.half_box_degrees();
    service_at_location::Entity::find()
        .select_only()
        .inner_join(location::Entity)
        .into_query()
        .and_where(
            lat.clone()
                .between(near.latitude - half_height, near.latitude + half_height),
        )
        .and_where(lon.between(near.longitude - half_width, near.longitude + half_width))
        .and_where(squared_km(near).lte(near.radius_km * near.radius_km))
        .to_owned()
}

/// Services with a location inside the circle.
fn located_near(near: &Near) -> SelectStatement {
    sites_near(near)
        .column((
            service_at_location::Entity,
            service_at_location::Column::ServiceId,
        ))
        .to_owned()
}

/// Alias of the table of each service's nearest site in the circle ([`nearest`]).
const NEAREST: &str = "nearest";
/// Its column: the square of that site's distance in km.
const NEAREST_SQUARED_KM: &str = "nearest_squared_km";

/// Each service with a site inside the circle, with the square of its nearest such
/// site's distance: `(service_id, nearest_squared_km)`.
fn nearest(near: &Near) -> SelectStatement {
    sites_near(near)
        .column((
            service_at_location::Entity,
            service_at_location::Column::ServiceId,
        ))
        .expr_as(Func::min(squared_km(near)), Alias::new(NEAREST_SQUARED_KM))
        .group_by_col((
            service_at_location::Entity,
            service_at_location::Column::ServiceId,
        ))
        .to_owned()
}

/// A service read in the order of distance, with the square of its nearest site's
/// distance as the database computed it (the cursor carries that very value, so the
/// next page starts exactly after it).
#[derive(Clone, Debug)]
pub struct ServiceAtDistance<R = service::Model> {
    /// The service (its row, or its [`service::Head`]).
    pub service: R,
    /// Square of the distance in km of its nearest site inside the circle.
    pub squared_km: f64,
}

impl<R: FromQueryResult> FromQueryResult for ServiceAtDistance<R> {
    fn from_query_result(row: &QueryResult, prefix: &str) -> Result<Self, DbErr> {
        Ok(Self {
            service: R::from_query_result(row, prefix)?,
            squared_km: row.try_get(prefix, NEAREST_SQUARED_KM)?,
        })
    }
}

/// The order by distance from the centre (then id).
fn by_distance<R: AsRef<service::Model>>(
    descending: bool,
) -> Sort<service::Entity, ServiceAtDistance<R>> {
    Sort {
        keys: vec![Expr::col((
            Alias::new(NEAREST),
            Alias::new(NEAREST_SQUARED_KM),
        ))],
        kinds: vec![KeyKind::Real],
        id: service::Column::Id,
        descending,
        cursor: |row| Cursor::new(SortKey::Real(row.squared_km), row.service.as_ref().id),
    }
}

/// Builds the filter condition; the `near` circle too unless `near_joined` (the
/// order by distance joins [`nearest`] instead, which keeps the same services).
fn condition(query: &ServiceQuery, near_joined: bool) -> Condition {
    let mut cond = Condition::all();
    for (taxonomy, codes) in [
        (Taxonomy::ServiceType, &query.service_types),
        (Taxonomy::TargetGroup, &query.target_groups),
        (Taxonomy::Language, &query.languages),
    ] {
        if !codes.is_empty() {
            cond = cond.add(service::Column::Id.in_subquery(with_terms(taxonomy, codes)));
        }
    }
    if let Some(municipality) = query.municipality {
        cond = cond.add(service::Column::Id.in_subquery(covering(
            service_area::Column::MunicipalityId.eq(municipality),
        )));
    }
    if let Some(territory) = query.territory {
        cond = cond.add(
            service::Column::Id.in_subquery(covering(
                service_area::Column::MunicipalityId
                    .in_subquery(territory::service::municipality_ids_of(territory)),
            )),
        );
    }
    if !query.delivery_modes.is_empty() {
        cond = cond.add(service::Column::DeliveryMode.is_in(query.delivery_modes.clone()));
    }
    if let Some(provider) = query.provider {
        cond = cond.add(service::Column::OrganizationId.eq(provider));
    }
    if !query.provider_kinds.is_empty() {
        cond = cond.add(
            service::Column::OrganizationId.in_subquery(
                Query::select()
                    .column(organization::Column::Id)
                    .from(organization::Entity)
                    .and_where(organization::Column::Kind.is_in(query.provider_kinds.clone()))
                    .to_owned(),
            ),
        );
    }
    if !query.statuses.is_empty() {
        cond = cond.add(service::Column::Status.is_in(query.statuses.clone()));
    }
    match query.has_open_places {
        Some(true) => cond = cond.add(service::Column::OpenPlaces.gt(0)),
        Some(false) => {
            cond = cond.add(
                Condition::any()
                    .add(service::Column::OpenPlaces.is_null())
                    .add(service::Column::OpenPlaces.lte(0)),
            );
        }
        None => {}
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(&melt_text::fold(search));
        cond = cond
            .add(Expr::col(service::Column::SearchText).like(LikeExpr::new(pattern).escape('\\')));
    }
    if let Some(near) = query.near.as_ref().filter(|_| !near_joined) {
        cond = cond.add(service::Column::Id.in_subquery(located_near(near)));
    }
    if let Some(since) = query.updated_since {
        cond = cond.add(service::Column::UpdatedAt.gte(since));
    }
    cond
}

/// A page of services, with each one's distance when the query has a `near` circle.
pub struct ServicePage {
    /// The rows.
    pub page: Page<service::Model>,
    /// Total rows matching.
    pub total: u64,
    /// Distance in km of each service's nearest location from the centre.
    pub distances: HashMap<Uuid, f64>,
    /// Whether the rows were read whole (else only their [`service::HEAD`] columns).
    pub whole_rows: bool,
}

/// Which services a list shows, in what order and how much of each.
#[derive(Clone, Copy, Debug)]
pub struct Listing {
    /// The order.
    pub order: ServiceOrder,
    /// Whether the order is reversed.
    pub descending: bool,
    /// Whether the total is wanted.
    pub with_total: bool,
    /// Whether the rows are read whole (else only their [`service::HEAD`] columns, as
    /// [`service::Head`]s).
    pub whole_rows: bool,
}

impl Listing {
    /// The services of `query`, with the columns the listing reads.
    fn select(&self, query: &ServiceQuery, near_joined: bool) -> Select<service::Entity> {
        let select = service::Entity::find().filter(condition(query, near_joined));
        if self.whole_rows {
            select
        } else {
            service::head_only(select)
        }
    }
}

/// What a list reads a service as: its whole row or its [`service::Head`].
trait ServiceRow: FromQueryResult + AsRef<service::Model> + Into<service::Model> + Send + Sync {}

impl<R> ServiceRow for R where
    R: FromQueryResult + AsRef<service::Model> + Into<service::Model> + Send + Sync
{
}

/// Lists services.
#[tracing::instrument(level = "debug", skip_all, fields(?listing))]
pub async fn list(
    db: &impl ConnectionTrait,
    query: &ServiceQuery,
    listing: Listing,
    window: &Window,
) -> AppResult<ServicePage> {
    if listing.whole_rows {
        list_as::<service::Model>(db, query, listing, window).await
    } else {
        list_as::<service::Head>(db, query, listing, window).await
    }
}

/// Lists services, read as `R`.
async fn list_as<R: ServiceRow>(
    db: &impl ConnectionTrait,
    query: &ServiceQuery,
    listing: Listing,
    window: &Window,
) -> AppResult<ServicePage> {
    let Listing {
        order,
        descending,
        with_total,
        whole_rows,
    } = listing;
    let Some(sort) = sort::<R>(order, descending) else {
        return list_by_distance::<R>(db, query, listing, window).await;
    };
    let select = listing.select(query, false);
    let (page, total) = match query.statuses_only().filter(|_| with_total) {
        Some(statuses) => {
            let kept = async { Ok(crate::tally::services(db, statuses).await?) };
            pagination::list_beside(db, select, &sort, window, kept).await?
        }
        None => pagination::list(db, select, &sort, window, with_total).await?,
    };
    let page = page.map(R::into);
    let distances = match &query.near {
        Some(near) => distances(db, near, page.items.iter().map(|(s, _)| s.id).collect()).await?,
        None => HashMap::new(),
    };
    Ok(ServicePage {
        page,
        total,
        distances,
        whole_rows,
    })
}

/// Lists services by distance from the centre of the query's circle: each service
/// joined with its nearest site in the circle ([`nearest`]), ordered and paged by that
/// distance and the id, the distances shown being the ones ordered by. Without a
/// circle there is no distance: BAD_USER_INPUT.
async fn list_by_distance<R: ServiceRow>(
    db: &impl ConnectionTrait,
    query: &ServiceQuery,
    listing: Listing,
    window: &Window,
) -> AppResult<ServicePage> {
    let Listing {
        descending,
        with_total,
        whole_rows,
        ..
    } = listing;
    let Some(near) = &query.near else {
        return Err(AppError::BadUserInput(
            "orderBy DISTANCE needs a `near` filter: the distance is from its centre".to_owned(),
        ));
    };
    let mut select = listing.select(query, true);
    QueryTrait::query(&mut select).join_subquery(
        JoinType::InnerJoin,
        nearest(near),
        Alias::new(NEAREST),
        Expr::col((Alias::new(NEAREST), service_at_location::Column::ServiceId))
            .equals((service::Entity, service::Column::Id)),
    );
    let select = select.column_as(
        Expr::col((Alias::new(NEAREST), Alias::new(NEAREST_SQUARED_KM))),
        NEAREST_SQUARED_KM,
    );
    let (page, total) = pagination::list(
        db,
        select,
        &by_distance::<R>(descending),
        window,
        with_total,
    )
    .await?;
    let mut distances = HashMap::with_capacity(page.items.len());
    let page = page.map(|row: ServiceAtDistance<R>| {
        let service: service::Model = row.service.into();
        distances.insert(service.id, row.squared_km.sqrt());
        service
    });
    Ok(ServicePage {
        page,
        total,
        distances,
        whole_rows,
    })
}

/// The service with `id` if it is in the list `query` describes (the same
/// conditions, so a subscription and the list agree).
pub async fn find_in(
    db: &impl ConnectionTrait,
    query: &ServiceQuery,
    id: Uuid,
) -> AppResult<Option<service::Model>> {
    Ok(service::Entity::find_by_id(id)
        .filter(condition(query, false))
        .one(db)
        .await?)
}

/// Distance of each service's nearest located site from the centre, in one statement.
async fn distances(
    db: &impl ConnectionTrait,
    near: &Near,
    services: Vec<Uuid>,
) -> AppResult<HashMap<Uuid, f64>> {
    let rows = service_at_location::Entity::find()
        .find_also_related(location::Entity)
        .filter(service_at_location::Column::ServiceId.is_in(services))
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, f64> = HashMap::new();
    for (link, site) in rows {
        let Some((Some(lat), Some(lon))) = site.map(|s| (s.latitude, s.longitude)) else {
            continue;
        };
        let km = near.distance_km(lat, lon);
        out.entry(link.service_id)
            .and_modify(|d| *d = d.min(km))
            .or_insert(km);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ModelTrait;

    fn by(order: ServiceOrder) -> Listing {
        Listing {
            order,
            descending: false,
            with_total: true,
            whole_rows: true,
        }
    }

    /// The services within 40 km of Pisa.
    fn near_pisa() -> ServiceQuery {
        ServiceQuery {
            near: Some(Near::parse(43.7167, 10.4017, 40.0).unwrap_or_else(|e| panic!("{e}"))),
            ..ServiceQuery::default()
        }
    }

    #[tokio::test]
    async fn the_order_by_distance_without_a_circle_is_bad_input() {
        let db = crate::db::memory_with_demo().await;
        let refused = list(
            &db,
            &ServiceQuery::default(),
            by(ServiceOrder::Distance),
            &Window::first(5),
        )
        .await;
        assert!(matches!(refused, Err(AppError::BadUserInput(_))));
    }

    #[tokio::test]
    async fn by_distance_a_circle_keeps_the_services_it_keeps_in_any_order_nearest_first() {
        let db = crate::db::memory_with_demo().await;
        let (query, window) = (near_pisa(), Window::first(100));
        let by_name = list(&db, &query, by(ServiceOrder::Name), &window).await;
        let by_name = by_name.unwrap_or_else(|e| panic!("{e}"));
        let by_distance = list(&db, &query, by(ServiceOrder::Distance), &window).await;
        let by_distance = by_distance.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(by_name.total, by_distance.total);
        assert!(
            by_distance.total > 3,
            "services near Pisa: {}",
            by_distance.total
        );
        let ids = |page: &ServicePage| -> Vec<Uuid> {
            page.page.items.iter().map(|(s, _)| s.id).collect()
        };
        let mut sorted = ids(&by_distance);
        sorted.sort();
        let mut expected = ids(&by_name);
        expected.sort();
        assert_eq!(sorted, expected);
        let distances: Vec<f64> = ids(&by_distance)
            .iter()
            .map(|id| by_distance.distances[id])
            .collect();
        assert!(distances.is_sorted(), "{distances:?}");
        // The distance ordered by is the one the name order shows (the database's and
        // this crate's computations of one formula).
        for (id, km) in &by_distance.distances {
            assert!((km - by_name.distances[id]).abs() < 1e-6, "{km}");
        }
    }

    #[tokio::test]
    async fn a_list_read_as_heads_has_the_rows_cursors_and_distances_of_whole_rows() {
        let db = crate::db::memory_with_demo().await;
        let (query, window) = (near_pisa(), Window::first(100));
        for order in [
            ServiceOrder::Name,
            ServiceOrder::CreatedAt,
            ServiceOrder::UpdatedAt,
            ServiceOrder::Distance,
        ] {
            let read = |whole_rows| {
                let listing = Listing {
                    whole_rows,
                    ..by(order)
                };
                list(&db, &query, listing, &window)
            };
            let whole = read(true).await.unwrap_or_else(|e| panic!("{e}"));
            let heads = read(false).await.unwrap_or_else(|e| panic!("{e}"));
            assert!(whole.page.items.len() > 3, "{order:?}");
            assert_eq!((whole.whole_rows, heads.whole_rows), (true, false));
            assert_eq!(whole.total, heads.total, "{order:?}");
            assert_eq!(whole.distances, heads.distances, "{order:?}");
            for ((row, cursor), (head, head_cursor)) in
                whole.page.items.iter().zip(&heads.page.items)
            {
                assert_eq!(cursor, head_cursor, "{order:?}");
                for column in service::HEAD {
                    assert_eq!(row.get(column), head.get(column), "{order:?} {column:?}");
                }
            }
            assert_eq!(whole.page.items.len(), heads.page.items.len(), "{order:?}");
        }
    }
}
