//! Taxonomy term queries.

use crate::error::AppResult;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use entity::enums::Taxonomy;
use entity::term;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct TermQuery {
    /// Only terms of these taxonomies.
    pub taxonomies: Vec<Taxonomy>,
    /// Code or label contains this text (case ignored).
    pub search: Option<String>,
}

fn sort() -> Sort<term::Entity> {
    Sort {
        column: term::Column::Code,
        id: term::Column::Id,
        descending: false,
        cursor: |row| Cursor {
            key: SortKey::Text(row.code.clone()),
            id: row.id,
        },
    }
}

/// Lists terms ordered by code.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &TermQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<term::Model>, u64)> {
    let mut select = term::Entity::find();
    if !query.taxonomies.is_empty() {
        select = select.filter(term::Column::Taxonomy.is_in(query.taxonomies.clone()));
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(search);
        select = select.filter(
            Condition::any()
                .add(term::Column::Code.like(pattern.clone()))
                .add(term::Column::LabelIt.like(pattern.clone()))
                .add(term::Column::LabelEn.like(pattern)),
        );
    }
    pagination::list(db, select, &sort(), window, with_total).await
}
