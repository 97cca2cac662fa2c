//! Protocol queries.

use super::service::{self, ProtocolQuery};
use super::types::ProtocolConnection;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::stored;
use crate::graphql::enums::{OrderDirection, ProtocolStatus, SignatoryStatus};
use crate::graphql::relay::NodeKind;
use crate::graphql::relay::expect_opt_id;
use crate::graphql::scalars::Timestamp;
use crate::pagination::Window;
use async_graphql::{Context, Enum, ID, InputObject, Object};

/// Filter of `protocols`. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct ProtocolFilter {
    /// Only these statuses.
    pub statuses: Option<Vec<ProtocolStatus>>,
    /// Only protocols this organization is a signatory of (invited or signed; narrow it
    /// with `signatoryStatus`).
    pub organization: Option<ID>,
    /// With `organization`: only protocols where that organization's signatory status
    /// is this one (e.g. SIGNED, or INVITED for those it has not signed yet).
    pub signatory_status: Option<SignatoryStatus>,
    /// Only protocols whose scope covers this municipality.
    pub municipality: Option<ID>,
    /// Only protocols whose scope covers this municipality.
    #[graphql(deprecation = "Use `municipality`. Removed in 0.3.")]
    pub covers_municipality: Option<ID>,
    /// Title contains this text; case and accents are ignored.
    pub search: Option<String>,
    /// Only protocols changed at or after this time (inclusive): what a mirror reads
    /// since its last read, with `orderBy: {field: UPDATED_AT}`. A change of a
    /// protocol's signatories counts as a change of the protocol.
    pub updated_since: Option<Timestamp>,
}

/// Fields protocols can be ordered by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProtocolOrderField {
    /// Title (case and accents ignored).
    #[default]
    Title,
    /// Time of the last change (`updatedAt`), then id.
    UpdatedAt,
}

/// Ordering of `protocols`.
#[derive(InputObject, Default)]
pub struct ProtocolOrderBy {
    /// The field.
    #[graphql(default)]
    pub field: ProtocolOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Protocol queries.
#[derive(Default)]
pub struct ProtocolQueries;

#[Object]
impl ProtocolQueries {
    /// Protocols of understanding, ordered by title (or by last change: `orderBy`).
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn protocols(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only protocols matching every given condition; all when omitted.")]
        filter: Option<ProtocolFilter>,
        #[graphql(desc = "The order (default: by title).")] order_by: Option<ProtocolOrderBy>,
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
    ) -> GqlResult<ProtocolConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let order_by = order_by.unwrap_or_default();
        let query = ProtocolQuery {
            statuses: stored(filter.statuses),
            organization: expect_opt_id(filter.organization.as_ref(), NodeKind::Organization)?,
            signatory_status: filter.signatory_status.map(Into::into),
            covers_municipality: expect_opt_id(
                filter
                    .municipality
                    .as_ref()
                    .or(filter.covers_municipality.as_ref()),
                NodeKind::Territory,
            )?,
            search: crate::validation::search(filter.search)?,
            updated_since: filter.updated_since.map(Into::into),
            by_last_change: order_by.field == ProtocolOrderField::UpdatedAt,
            descending: order_by.direction == OrderDirection::Desc,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(ProtocolConnection::from_page(page, total))
    }
}
