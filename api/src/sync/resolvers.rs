//! The `tombstones` feed.

use super::service::{self, TombstoneQuery};
use super::types::{TombstoneConnection, TombstoneSubjectType};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::scalars::Timestamp;
use crate::pagination::Window;
use async_graphql::{Context, InputObject, Object};

/// Filter of `tombstones`. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct TombstoneFilter {
    /// Only about objects of these kinds.
    pub types: Option<Vec<TombstoneSubjectType>>,
    /// Only those removed at or after this time (inclusive): where a mirror that has
    /// no cursor yet starts, e.g. the time of its last full copy.
    pub since: Option<Timestamp>,
}

/// Incremental sync queries.
#[derive(Default)]
pub struct SyncQueries;

#[Object]
impl SyncQueries {
    /// What left the caller's view, oldest first, so a mirror drops its copies: sites
    /// deleted and services that left the active catalogue (public, for anyone), and
    /// the caller's organization's referrals that were erased or that it may no longer
    /// read (for its OPERATOR and ORG_ADMIN, or its client with `referrals:read`,
    /// `referrals:write` or `events:read`). Keep `endCursor` and pass it as `after`
    /// to resume: positions commit in order, so nothing is skipped or repeated. A
    /// later change of the same object (`updatedSince`) supersedes its tombstone.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn tombstones(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only tombstones matching every given condition; all when omitted.")]
        filter: Option<TombstoneFilter>,
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
    ) -> GqlResult<TombstoneConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = TombstoneQuery {
            types: filter
                .types
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            since: filter.since.map(Into::into),
        };
        let viewer = ctx.viewer()?;
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::feed(db, viewer, &query, &window, with_total).await?;
        Ok(TombstoneConnection::from_page(page, total))
    }
}
