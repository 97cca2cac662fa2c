//! Taxonomy queries.

use super::service::{self, TermQuery};
use super::types::TermConnection;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::Taxonomy;
use crate::graphql::enums::stored;
use crate::pagination::Window;
use async_graphql::{Context, InputObject, Object};

/// Filter of `terms`.
#[derive(InputObject, Default)]
pub struct TermFilter {
    /// Only terms of these taxonomies.
    pub taxonomies: Option<Vec<Taxonomy>>,
    /// Code or label contains this text.
    pub search: Option<String>,
}

/// Taxonomy queries.
#[derive(Default)]
pub struct TaxonomyQueries;

#[Object]
impl TaxonomyQueries {
    /// Taxonomy terms, ordered by code.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn terms(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only terms matching every given condition; all when omitted.")]
        filter: Option<TermFilter>,
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
    ) -> GqlResult<TermConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = TermQuery {
            taxonomies: stored(filter.taxonomies),
            search: crate::validation::search(filter.search)?,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(TermConnection::from_page(page, total))
    }
}
