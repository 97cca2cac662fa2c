//! Working group queries.

use super::service::{self, GroupQuery};
use super::types::{WorkingGroupConnection, WorkingGroupStatus};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::stored;
use crate::graphql::relay::{NodeKind, expect_opt_id};
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object};

/// Filter of `workingGroups`. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct WorkingGroupFilter {
    /// Only groups of this territory (a hub area, a zone or the region).
    pub territory: Option<ID>,
    /// Only groups this organization is a member of (lead, member or observer).
    pub organization: Option<ID>,
    /// Only groups led by this organization.
    pub lead: Option<ID>,
    /// Only these statuses.
    pub statuses: Option<Vec<WorkingGroupStatus>>,
    /// Name contains this text; case and accents are ignored.
    pub search: Option<String>,
}

/// Working group queries.
#[derive(Default)]
pub struct WorkingGroupQueries;

#[Object]
impl WorkingGroupQueries {
    /// The network's working groups, by name: public (the details of their meetings are
    /// for their members).
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn working_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only groups matching every given condition; all when omitted.")]
        filter: Option<WorkingGroupFilter>,
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
    ) -> GqlResult<WorkingGroupConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = GroupQuery {
            territory: expect_opt_id(filter.territory.as_ref(), NodeKind::Territory)?,
            organization: expect_opt_id(filter.organization.as_ref(), NodeKind::Organization)?,
            lead: expect_opt_id(filter.lead.as_ref(), NodeKind::Organization)?,
            statuses: stored(filter.statuses),
            search: crate::validation::search(filter.search)?,
            descending: false,
        };
        let (page, total) = service::list(ctx.db()?, &query, &window, ctx.wants_total()).await?;
        Ok(WorkingGroupConnection::from_page(page, total))
    }
}
