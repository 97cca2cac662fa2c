//! Protocol queries.

use crate::error::AppResult;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use entity::enums::ProtocolStatus;
use entity::{protocol, protocol_scope, signatory};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ProtocolQuery {
    /// Only these statuses.
    pub statuses: Vec<ProtocolStatus>,
    /// Only protocols this organization is a signatory of (any signatory status).
    pub organization: Option<Uuid>,
    /// Only protocols whose scope covers this municipality.
    pub covers_municipality: Option<Uuid>,
    /// Title contains this text (case and accents ignored).
    pub search: Option<String>,
}

fn sort() -> Sort<protocol::Entity> {
    Sort {
        column: protocol::Column::SearchName,
        id: protocol::Column::Id,
        descending: false,
        cursor: |row| Cursor {
            key: SortKey::Text(row.search_name.clone()),
            id: row.id,
        },
    }
}

/// Lists protocols ordered by title.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &ProtocolQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<protocol::Model>, u64)> {
    let mut select = protocol::Entity::find();
    if !query.statuses.is_empty() {
        select = select.filter(protocol::Column::Status.is_in(query.statuses.clone()));
    }
    if let Some(organization) = query.organization {
        select = select.filter(
            protocol::Column::Id.in_subquery(
                Query::select()
                    .column(signatory::Column::ProtocolId)
                    .from(signatory::Entity)
                    .and_where(signatory::Column::OrganizationId.eq(organization))
                    .to_owned(),
            ),
        );
    }
    if let Some(municipality) = query.covers_municipality {
        let covering = crate::territory::service::covering(db, municipality).await?;
        select = select.filter(
            protocol::Column::Id.in_subquery(
                Query::select()
                    .column(protocol_scope::Column::ProtocolId)
                    .from(protocol_scope::Entity)
                    .and_where(protocol_scope::Column::TerritoryId.is_in(covering))
                    .to_owned(),
            ),
        );
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(&migration::text::fold(search));
        select = select.filter(
            Expr::col(protocol::Column::SearchName).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    pagination::list(db, select, &sort(), window, with_total).await
}
