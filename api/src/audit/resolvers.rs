//! The `auditLog` query.

use super::service::{self, AuditQuery};
use super::types::AuditEventConnection;
use crate::auth::policy;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::relay::expect_opt_id;
use crate::graphql::relay::{NodeKind, from_global_id};
use crate::graphql::scalars::Timestamp;
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object};

/// Filter of `auditLog`. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Token subject of the actor.
    pub actor: Option<String>,
    /// Organization the actor acted for.
    pub organization: Option<ID>,
    /// Global ID of the changed object.
    pub object: Option<ID>,
    /// Operation (mutation name).
    pub operation: Option<String>,
    /// At or after this time.
    pub from: Option<Timestamp>,
    /// Before this time.
    pub to: Option<Timestamp>,
}

/// Audit queries.
#[derive(Default)]
pub struct AuditQueries;

#[Object]
impl AuditQueries {
    /// Changes made through the API, newest first. AUDITOR and REGIONAL_ADMIN only.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events matching every given condition; all when omitted.")]
        filter: Option<AuditLogFilter>,
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
    ) -> GqlResult<AuditEventConnection> {
        policy::require_auditor(ctx.viewer()?)?;
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = AuditQuery {
            actor: filter.actor,
            organization: expect_opt_id(filter.organization.as_ref(), NodeKind::Organization)?,
            object: filter
                .object
                .map(|id| from_global_id(&id).map(|(_, uuid)| uuid))
                .transpose()?,
            operation: filter.operation,
            from: filter.from.map(Into::into),
            to: filter.to.map(Into::into),
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(AuditEventConnection::from_page(page, total))
    }
}
