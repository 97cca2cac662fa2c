//! Territory queries.

use super::domain::IstatCode;
use super::service::{self, TerritoryQuery};
use super::types::{Territory, TerritoryConnection};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::TerritoryKind;
use crate::graphql::relay::{NodeKind, expect_id};
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object};

/// Filter of `territories`. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct TerritoryFilter {
    /// Only these kinds.
    pub kinds: Option<Vec<TerritoryKind>>,
    /// Name contains this text; case and accents are ignored ("citta" finds "Città").
    pub search: Option<String>,
    /// Only direct children of this territory (e.g. the municipalities of a province).
    pub parent: Option<ID>,
    /// Only territories containing this municipality (its province, the region, its
    /// zones and hub areas, and itself).
    pub contains_municipality: Option<ID>,
}

/// Territory queries.
#[derive(Default)]
pub struct TerritoryQueries;

#[Object]
impl TerritoryQueries {
    /// Territories, ordered by name.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn territories(
        &self,
        ctx: &Context<'_>,
        filter: Option<TerritoryFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<TerritoryConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = TerritoryQuery {
            kinds: filter
                .kinds
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            search: crate::validation::search(filter.search)?,
            parent: filter
                .parent
                .map(|id| expect_id(&id, NodeKind::Territory))
                .transpose()?,
            contains_municipality: filter
                .contains_municipality
                .map(|id| expect_id(&id, NodeKind::Territory))
                .transpose()?,
        };
        let db = ctx.db()?;
        let with_total = ctx.look_ahead().field("totalCount").exists();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(TerritoryConnection::from_page(page, total))
    }

    /// A municipality by its six-digit ISTAT code (e.g. "050026" for Pisa).
    async fn municipality(
        &self,
        ctx: &Context<'_>,
        istat_code: String,
    ) -> GqlResult<Option<Territory>> {
        let code = IstatCode::parse(&istat_code)?;
        let db = ctx.db()?;
        Ok(service::municipality_by_code(db, &code)
            .await?
            .map(Territory))
    }
}
