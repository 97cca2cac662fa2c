//! The `routingRules` query.

use super::service::{self, RuleQuery};
use super::types::RoutingRuleConnection;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::relay::{NodeKind, expect_opt_id};
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object};

/// Filter of `routingRules`. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct RoutingRuleFilter {
    /// Only rules answering this NEED code.
    pub need: Option<String>,
    /// Only this protocol's rules.
    pub protocol: Option<ID>,
    /// Only region-wide rules (true) or only protocols' rules (false).
    pub region_wide: Option<bool>,
}

/// Routing rule queries.
#[derive(Default)]
pub struct RoutingQueries;

#[Object]
impl RoutingQueries {
    /// The network's routing rules, by name. Rules are public, like the protocols
    /// they belong to.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn routing_rules(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only rules matching every given condition; all when omitted.")]
        filter: Option<RoutingRuleFilter>,
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
    ) -> GqlResult<RoutingRuleConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let need = filter.need.map(|n| n.trim().to_ascii_uppercase());
        if need.as_ref().is_some_and(|n| n.len() > 64) {
            return Err(crate::error::AppError::BadUserInput(
                "need: at most 64 characters".to_owned(),
            )
            .into());
        }
        let query = RuleQuery {
            need,
            protocol: expect_opt_id(filter.protocol.as_ref(), NodeKind::Protocol)?,
            region_wide: filter.region_wide,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(RoutingRuleConnection::from_page(page, total))
    }
}
