//! Reading the catalogue: the service filter (terms, area, provider, status, capacity,
//! free text, distance), the orderings, and the distances shown on a page.

use super::domain::Near;
use crate::error::AppResult;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::territory;
use entity::enums::{DeliveryMode, ServiceStatus, Taxonomy};
use entity::{location, service, service_area, service_at_location, service_term, term};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
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
    /// Statuses.
    pub statuses: Vec<ServiceStatus>,
    /// With (true) or without (false) open places.
    pub has_open_places: Option<bool>,
    /// Free text in name, alternate name and description (case and accents ignored).
    pub search: Option<String>,
    /// Within a circle.
    pub near: Option<Near>,
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
}

fn sort(order: ServiceOrder, descending: bool) -> Sort<service::Entity> {
    let (column, cursor): (_, fn(&service::Model) -> Cursor) = match order {
        ServiceOrder::Name => (service::Column::SearchName, |row| {
            Cursor::new(SortKey::Text(row.search_name.clone()), row.id)
        }),
        ServiceOrder::CreatedAt => (service::Column::CreatedAt, |row| {
            Cursor::new(SortKey::Time(row.created_at), row.id)
        }),
        ServiceOrder::UpdatedAt => (service::Column::UpdatedAt, |row| {
            Cursor::new(SortKey::Time(row.updated_at), row.id)
        }),
    };
    Sort::by(column, service::Column::Id, descending, cursor)
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

/// Services whose area covers one of `municipalities`.
fn covering(municipalities: Vec<Uuid>) -> SelectStatement {
    Query::select()
        .column(service_area::Column::ServiceId)
        .from(service_area::Entity)
        .and_where(service_area::Column::MunicipalityId.is_in(municipalities))
        .to_owned()
}

/// Services with a location inside the circle.
fn located_near(near: &Near) -> SelectStatement {
    let lat = Expr::col((location::Entity, location::Column::Latitude));
    let lon = Expr::col((location::Entity, location::Column::Longitude));
    let dy = lat
        .clone()
        .sub(near.latitude)
        .mul(Near::km_per_degree_latitude());
    let dx = lon
        .clone()
        .sub(near.longitude)
        .mul(near.km_per_degree_longitude());
    let squared = dy.clone().mul(dy).add(dx.clone().mul(dx));
    Query::select()
        .column((
            service_at_location::Entity,
            service_at_location::Column::ServiceId,
        ))
        .from(service_at_location::Entity)
        .inner_join(
            location::Entity,
            Expr::col((location::Entity, location::Column::Id)).equals((
                service_at_location::Entity,
                service_at_location::Column::LocationId,
            )),
        )
        .and_where(lat.is_not_null())
        .and_where(lon.is_not_null())
        .and_where(squared.lte(near.radius_km * near.radius_km))
        .to_owned()
}

/// Builds the filter condition.
async fn condition(db: &impl ConnectionTrait, query: &ServiceQuery) -> AppResult<Condition> {
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
        cond = cond.add(service::Column::Id.in_subquery(covering(vec![municipality])));
    }
    if let Some(territory) = query.territory {
        let municipalities = territory::service::municipalities_of(db, territory).await?;
        cond = cond.add(service::Column::Id.in_subquery(covering(municipalities)));
    }
    if !query.delivery_modes.is_empty() {
        cond = cond.add(service::Column::DeliveryMode.is_in(query.delivery_modes.clone()));
    }
    if let Some(provider) = query.provider {
        cond = cond.add(service::Column::OrganizationId.eq(provider));
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
    if let Some(near) = &query.near {
        cond = cond.add(service::Column::Id.in_subquery(located_near(near)));
    }
    Ok(cond)
}

/// A page of services, with each one's distance when the query has a `near` circle.
pub struct ServicePage {
    /// The rows.
    pub page: Page<service::Model>,
    /// Total rows matching.
    pub total: u64,
    /// Distance in km of each service's nearest location from the centre.
    pub distances: HashMap<Uuid, f64>,
}

/// Lists services.
#[tracing::instrument(level = "debug", skip_all, fields(?order, descending, with_total))]
pub async fn list(
    db: &impl ConnectionTrait,
    query: &ServiceQuery,
    order: ServiceOrder,
    descending: bool,
    window: &Window,
    with_total: bool,
) -> AppResult<ServicePage> {
    let select = service::Entity::find().filter(condition(db, query).await?);
    let (page, total) =
        pagination::list(db, select, &sort(order, descending), window, with_total).await?;
    let distances = match &query.near {
        Some(near) => distances(db, near, page.items.iter().map(|(s, _)| s.id).collect()).await?,
        None => HashMap::new(),
    };
    Ok(ServicePage {
        page,
        total,
        distances,
    })
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
