//! GraphQL types of territories.

use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::TerritoryKind;
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Date;
use crate::graphql::scalars::Timestamp;
use crate::loaders::{MunicipalitiesOfTerritory, TerritoryById};
use crate::pagination::{Cursor, SortKey};
use async_graphql::{Context, ID, Object};
use entity::territory;

/// A territory: the region, a province, a municipality (comune), or a named grouping
/// of municipalities (zona-distretto, hub area). Every "where" resolves to
/// municipalities.
#[derive(Clone, Debug)]
pub struct Territory(pub territory::Model);

impl From<territory::Model> for Territory {
    fn from(model: territory::Model) -> Self {
        Self(model)
    }
}

/// A territory: the region, a province, a municipality (comune), or a named grouping
/// of municipalities (zona-distretto, hub area). Every "where" resolves to
/// municipalities.
#[Object]
impl Territory {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Territory, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// Kind of territory.
    async fn kind(&self) -> TerritoryKind {
        self.0.kind.into()
    }
    /// ISTAT code (region "09", province "050", municipality "050026"), or the code of
    /// a grouping.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Official name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Cadastral (Belfiore) code of a municipality, as used in the codice fiscale.
    async fn cadastral_code(&self) -> Option<&str> {
        self.0.cadastral_code.as_deref()
    }
    /// Abbreviation of a province (e.g. "PI").
    async fn abbreviation(&self) -> Option<&str> {
        self.0.abbreviation.as_deref()
    }
    /// First day a grouping is valid.
    async fn valid_from(&self) -> Option<Date> {
        self.0.valid_from.map(Date)
    }
    /// Last day a grouping is valid.
    async fn valid_to(&self) -> Option<Date> {
        self.0.valid_to.map(Date)
    }
    /// The enclosing territory: the province of a municipality, the region of a
    /// province or grouping.
    async fn parent(&self, ctx: &Context<'_>) -> GqlResult<Option<Territory>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(TerritoryById(parent)).await
    }
    /// The municipalities this territory is made of, by ISTAT code.
    #[graphql(
        deprecation = "Unbounded list (273 for the region): use `municipalitiesConnection`, which pages. Will be removed.",
        complexity = "crate::graphql::connection::list_cost(child_complexity)"
    )]
    async fn municipalities(&self, ctx: &Context<'_>) -> GqlResult<Vec<Territory>> {
        ctx.loaders()?
            .all(MunicipalitiesOfTerritory(self.0.id))
            .await
    }
    /// The municipalities this territory is made of, by ISTAT code, a page at a time
    /// (`first`/`after` or `last`/`before`, at most 100; costed like a root
    /// connection).
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn municipalities_connection(
        &self,
        ctx: &Context<'_>,
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
        let (page, total) = ctx
            .loaders()?
            .page(
                MunicipalitiesOfTerritory(self.0.id),
                |t: &territory::Model| Cursor::new(SortKey::Text(t.code.clone()), t.id),
                (first, after, last, before),
            )
            .await?;
        Ok(TerritoryConnection::from_page(page, total))
    }
    /// When the record was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the record was last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

crate::connection!(TerritoryConnection, TerritoryEdge, Territory, "territories");
