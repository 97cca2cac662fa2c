//! Organization queries; the changes are in [`super::registry`] (the registry record)
//! and [`super::sites`] (an organization's sites and contact points).

use crate::error::AppResult;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use entity::enums::{OrganizationKind, Sector, SignatoryStatus};
use entity::{location, organization, signatory};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
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
    /// Only organizations that signed this protocol.
    pub signed_protocol: Option<Uuid>,
}

fn sort() -> Sort<organization::Entity> {
    Sort::by(
        organization::Column::SearchName,
        organization::Column::Id,
        false,
        |row: &organization::Model| Cursor::new(SortKey::Text(row.search_name.clone()), row.id),
    )
}

/// Lists organizations, ordered by name.
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
            organization::Column::Id.in_subquery(
                Query::select()
                    .column(location::Column::OrganizationId)
                    .from(location::Entity)
                    .and_where(location::Column::MunicipalityId.eq(municipality))
                    .to_owned(),
            ),
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
    pagination::list(db, select, &sort(), window, with_total).await
}
