//! The `auditLog` query.

use super::service::{self, AuditQuery};
use super::types::AuditEventConnection;
use crate::auth::policy;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::relay::expect_opt_id;
use crate::graphql::relay::{NodeKind, from_global_id};
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

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
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
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
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
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
            from: filter.from,
            to: filter.to,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(AuditEventConnection::from_page(page, total))
    }
}
