//! The `events` feed.

use super::service;
use super::types::EventConnection;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::pagination::Window;
use async_graphql::{Context, InputObject, Object};

/// Filter of `events`.
#[derive(InputObject, Default)]
pub struct EventFilter {
    /// Only events of these types (e.g. `referral.sent`).
    pub types: Option<Vec<String>>,
}

/// Event queries.
#[derive(Default)]
pub struct EventQueries;

#[Object]
impl EventQueries {
    /// The events the caller may see, oldest first: public ones (catalogue,
    /// organizations, protocols) for anyone, and those of the caller's organization
    /// (its referrals, from the moment it is party to them; its routing decisions) for
    /// its OPERATOR and ORG_ADMIN or its client with `events:read`. Keep `endCursor`
    /// and pass it as `after` to resume (filter by type with `filter: {types}`): positions commit in order, so nothing is
    /// skipped or repeated.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only events matching every given condition; all the caller may read when omitted."
        )]
        filter: Option<EventFilter>,
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
    ) -> GqlResult<EventConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let viewer = ctx.viewer()?;
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let types = filter.unwrap_or_default().types.unwrap_or_default();
        let (page, total) = service::feed(db, viewer, &types, &window, with_total).await?;
        Ok(EventConnection::from_page(page, total))
    }
}
