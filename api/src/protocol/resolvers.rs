//! Protocol queries.

use super::service::{self, ProtocolQuery};
use super::types::ProtocolConnection;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::stored;
use crate::graphql::enums::{ProtocolStatus, SignatoryStatus};
use crate::graphql::relay::NodeKind;
use crate::graphql::relay::expect_opt_id;
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object};

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
    pub covers_municipality: Option<ID>,
    /// Title contains this text; case and accents are ignored.
    pub search: Option<String>,
}

/// Protocol queries.
#[derive(Default)]
pub struct ProtocolQueries;

#[Object]
impl ProtocolQueries {
    /// Protocols of understanding, ordered by title.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn protocols(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProtocolFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> GqlResult<ProtocolConnection> {
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = ProtocolQuery {
            statuses: stored(filter.statuses),
            organization: expect_opt_id(filter.organization.as_ref(), NodeKind::Organization)?,
            signatory_status: filter.signatory_status.map(Into::into),
            covers_municipality: expect_opt_id(
                filter.covers_municipality.as_ref(),
                NodeKind::Territory,
            )?,
            search: crate::validation::search(filter.search)?,
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = service::list(db, &query, &window, with_total).await?;
        Ok(ProtocolConnection::from_page(page, total))
    }
}
