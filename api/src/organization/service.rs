//! Organization queries; the changes are in [`super::registry`] (the registry record)
//! and [`super::sites`] (an organization's sites and contact points).

use crate::error::AppResult;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use chrono::{DateTime, Utc};
use entity::enums::{OrganizationKind, Sector, SignatoryStatus};
use entity::{location, organization, signatory};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query, SelectStatement, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct OrganizationQuery {
    /// Only these kinds.
    pub kinds: Vec<OrganizationKind>,
    /// Only these sectors.
    pub sectors: Vec<Sector>,
    /// Name contains this text (case and accents ignored).
    pub search: Option<String>,
    /// Only organizations with a location in this municipality.
    pub municipality: Option<Uuid>,
    /// Only organizations with a location in a municipality of this territory.
    pub territory: Option<Uuid>,
    /// Only organizations that signed this protocol.
    pub signed_protocol: Option<Uuid>,
    /// Only changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// By last change instead of by name.
    pub by_last_change: bool,
    /// The order reversed.
    pub descending: bool,
}

fn sort(by_last_change: bool, descending: bool) -> Sort<organization::Entity> {
    if by_last_change {
        return Sort::by(
            organization::Column::UpdatedAt,
            organization::Column::Id,
            descending,
            |row: &organization::Model| Cursor::new(SortKey::Time(row.updated_at), row.id),
        );
    }
    Sort::by(
        organization::Column::SearchName,
        organization::Column::Id,
        descending,
        |row: &organization::Model| Cursor::new(SortKey::Text(row.search_name.clone()), row.id),
    )
}

/// Organizations with a site in a municipality `municipality` matches (a condition
/// on `location.municipality_id`).
fn sited_in(municipality: SimpleExpr) -> SelectStatement {
    Query::select()
        .column(location::Column::OrganizationId)
        .from(location::Entity)
        .and_where(municipality)
        .to_owned()
}

/// Lists organizations, ordered by name or by last change.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    query: &OrganizationQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<organization::Model>, u64)> {
    let mut select = organization::Entity::find();
    if !query.kinds.is_empty() {
        select = select.filter(organization::Column::Kind.is_in(query.kinds.clone()));
    }
    if !query.sectors.is_empty() {
        select = select.filter(organization::Column::Sector.is_in(query.sectors.clone()));
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(&melt_text::fold(search));
        select = select.filter(
            Expr::col(organization::Column::SearchName).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(municipality) = query.municipality {
        select = select.filter(
            organization::Column::Id
                .in_subquery(sited_in(location::Column::MunicipalityId.eq(municipality))),
        );
    }
    if let Some(territory) = query.territory {
        select = select.filter(
            organization::Column::Id
                .in_subquery(sited_in(location::Column::MunicipalityId.in_subquery(
                    crate::territory::service::municipality_ids_of(territory),
                ))),
        );
    }
    if let Some(protocol) = query.signed_protocol {
        select = select.filter(
            organization::Column::Id.in_subquery(
                Query::select()
                    .column(signatory::Column::OrganizationId)
                    .from(signatory::Entity)
                    .and_where(signatory::Column::ProtocolId.eq(protocol))
                    .and_where(signatory::Column::Status.eq(SignatoryStatus::Signed))
                    .to_owned(),
            ),
        );
    }
    if let Some(since) = query.updated_since {
        select = select.filter(organization::Column::UpdatedAt.gte(since));
    }
    let sort = sort(query.by_last_change, query.descending);
    pagination::list(db, select, &sort, window, with_total).await
}

/// Which sites to list.
#[derive(Clone, Debug, Default)]
pub struct LocationQuery {
    /// Only the sites of this organization.
    pub organization: Option<Uuid>,
    /// Only changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// By last change instead of by name.
    pub by_last_change: bool,
    /// The order reversed.
    pub descending: bool,
}

fn location_sort(by_last_change: bool, descending: bool) -> Sort<location::Entity> {
    if by_last_change {
        return Sort::by(
            location::Column::UpdatedAt,
            location::Column::Id,
            descending,
            |row: &location::Model| Cursor::new(SortKey::Time(row.updated_at), row.id),
        );
    }
    Sort::by(
        location::Column::Name,
        location::Column::Id,
        descending,
        |row: &location::Model| Cursor::new(SortKey::Text(row.name.clone()), row.id),
    )
}

/// Lists the sites of the network (public, like the organizations they belong to),
/// ordered by name or by last change.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_locations(
    db: &impl ConnectionTrait,
    query: &LocationQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<location::Model>, u64)> {
    let mut select = location::Entity::find();
    if let Some(organization) = query.organization {
        select = select.filter(location::Column::OrganizationId.eq(organization));
    }
    if let Some(since) = query.updated_since {
        select = select.filter(location::Column::UpdatedAt.gte(since));
    }
    let sort = location_sort(query.by_last_change, query.descending);
    pagination::list(db, select, &sort, window, with_total).await
}
