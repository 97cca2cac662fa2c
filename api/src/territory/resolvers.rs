//! Territory queries.

use super::domain::IstatCode;
use super::service::{self, TerritoryQuery};
use super::types::{Territory, TerritoryConnection};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::TerritoryKind;
use crate::graphql::enums::stored;
use crate::graphql::relay::NodeKind;
use crate::graphql::relay::expect_opt_id;
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
        #[graphql(desc = "Only territories matching every given condition; all when omitted.")]
        filter: Option<TerritoryFilter>,
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
    ) -> GqlResult<TerritoryConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = TerritoryQuery {
            kinds: stored(filter.kinds),
            search: crate::validation::search(filter.search)?,
            parent: expect_opt_id(filter.parent.as_ref(), NodeKind::Territory)?,
            contains_municipality: expect_opt_id(
                filter.contains_municipality.as_ref(),
                NodeKind::Territory,
            )?,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(TerritoryConnection::from_page(page, total))
    }

    /// A municipality by its six-digit ISTAT code (e.g. "050026" for Pisa).
    async fn municipality(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "ISTAT code of the municipality (six digits, e.g. `050026`).")]
        istat_code: String,
    ) -> GqlResult<Option<Territory>> {
        let code = IstatCode::parse(&istat_code)?;
        let db = ctx.db()?;
        Ok(service::municipality_by_code(db, &code)
            .await?
            .map(Territory))
    }
}
