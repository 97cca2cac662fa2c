//! Territory queries.

use super::domain::IstatCode;
use crate::error::AppResult;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use entity::enums::TerritoryKind;
use entity::{territory, territory_member};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct TerritoryQuery {
    /// Only these kinds.
    pub kinds: Vec<TerritoryKind>,
    /// Name contains this text (case and accents ignored).
    pub search: Option<String>,
    /// Only children of this territory.
    pub parent: Option<Uuid>,
    /// Only territories that contain this municipality (itself, its province, the
    /// region, and the groupings it belongs to).
    pub contains_municipality: Option<Uuid>,
}

fn sort() -> Sort<territory::Entity> {
    Sort {
        column: territory::Column::SearchName,
        id: territory::Column::Id,
        descending: false,
        cursor: |row| Cursor {
            key: SortKey::Text(row.search_name.clone()),
            id: row.id,
        },
    }
}

/// Ids of every territory that contains `municipality`: itself, its province, the
/// region, and the zones and hub areas it belongs to.
pub async fn covering(db: &impl ConnectionTrait, municipality: Uuid) -> AppResult<Vec<Uuid>> {
    let Some(row) = territory::Entity::find_by_id(municipality).one(db).await? else {
        return Ok(Vec::new());
    };
    let mut ids = vec![row.id];
    let ancestors = Query::select()
        .column(territory::Column::ParentId)
        .from(territory::Entity)
        .and_where(territory::Column::Id.eq(row.parent_id))
        .to_owned();
    let upper = territory::Entity::find()
        .filter(
            Condition::any()
                .add(territory::Column::Id.eq(row.parent_id))
                .add(territory::Column::Id.in_subquery(ancestors))
                .add(
                    territory::Column::Id.in_subquery(
                        Query::select()
                            .column(territory_member::Column::GroupingId)
                            .from(territory_member::Entity)
                            .and_where(territory_member::Column::MunicipalityId.eq(row.id))
                            .to_owned(),
                    ),
                ),
        )
        .all(db)
        .await?;
    ids.extend(upper.into_iter().map(|t| t.id));
    Ok(ids)
}

/// Lists territories.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &TerritoryQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<territory::Model>, u64)> {
    let mut select = territory::Entity::find();
    if !query.kinds.is_empty() {
        select = select.filter(territory::Column::Kind.is_in(query.kinds.clone()));
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(&migration::text::fold(search));
        select = select.filter(
            Expr::col(territory::Column::SearchName).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(parent) = query.parent {
        select = select.filter(territory::Column::ParentId.eq(parent));
    }
    if let Some(municipality) = query.contains_municipality {
        select = select.filter(territory::Column::Id.is_in(covering(db, municipality).await?));
    }
    pagination::list(db, select, &sort(), window, with_total).await
}

/// Finds a municipality by ISTAT code.
pub async fn municipality_by_code(
    db: &impl ConnectionTrait,
    code: &IstatCode,
) -> AppResult<Option<territory::Model>> {
    Ok(territory::Entity::find()
        .filter(territory::Column::Kind.eq(TerritoryKind::Municipality))
        .filter(territory::Column::Code.eq(code.as_str()))
        .one(db)
        .await?)
}

/// Ids of the municipalities of a territory: itself for a municipality, its children
/// for a province, every municipality for the region, the members of a grouping.
pub async fn municipalities_of(db: &impl ConnectionTrait, territory: Uuid) -> AppResult<Vec<Uuid>> {
    let provinces = Query::select()
        .column(territory::Column::Id)
        .from(territory::Entity)
        .and_where(territory::Column::ParentId.eq(territory))
        .and_where(territory::Column::Kind.eq(TerritoryKind::Province))
        .to_owned();
    let members = Query::select()
        .column(territory_member::Column::MunicipalityId)
        .from(territory_member::Entity)
        .and_where(territory_member::Column::GroupingId.eq(territory))
        .to_owned();
    let rows = territory::Entity::find()
        .filter(territory::Column::Kind.eq(TerritoryKind::Municipality))
        .filter(
            Condition::any()
                .add(territory::Column::Id.eq(territory))
                .add(territory::Column::ParentId.eq(territory))
                .add(territory::Column::ParentId.in_subquery(provinces))
                .add(territory::Column::Id.in_subquery(members)),
        )
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|t| t.id).collect())
}
