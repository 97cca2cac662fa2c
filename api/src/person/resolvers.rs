//! Queries on people: `persons`, `personAccessLog`, `exportPersonData`.

use super::privacy::{self, AccessQuery};
use super::protection;
use super::service::{self, PersonQuery};
use super::types::{PersonAccessConnection, PersonConnection};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::relay::expect_opt_id;
use crate::graphql::relay::{NodeKind, expect_id};
use crate::graphql::scalars::Json;
use crate::graphql::scalars::Timestamp;
use crate::pagination::Window;
use async_graphql::{Context, ID, InputObject, Object};

/// Filter of `persons`.
#[derive(InputObject, Default)]
pub struct PersonFilter {
    /// Exactly this codice fiscale.
    pub codice_fiscale: Option<String>,
}

/// Filter of `personAccessLog`. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct PersonAccessLogFilter {
    /// Global ID of the person read.
    pub person: Option<ID>,
    /// Token subject of the reader.
    pub actor: Option<String>,
    /// Global ID of the organization the reader acted for.
    pub organization: Option<ID>,
    /// At or after this time.
    pub from: Option<Timestamp>,
    /// Before this time.
    pub to: Option<Timestamp>,
}

/// Queries on people.
#[derive(Default)]
pub struct PersonQueries;

#[Object]
impl PersonQueries {
    /// People the caller's organization sees, newest first: its own records, and the
    /// records behind referrals it received while it may read them. Its OPERATOR,
    /// ORG_ADMIN or client with `persons:write`.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn persons(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only people matching every given condition; all the caller may read when omitted."
        )]
        filter: Option<PersonFilter>,
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
    ) -> GqlResult<PersonConnection> {
        let viewer = ctx.viewer()?;
        service::acting_organization(viewer)?;
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = PersonQuery {
            codice_fiscale: filter.codice_fiscale,
        };
        let db = ctx.db()?;
        let protection = ctx.protection()?;
        let with_total = ctx.wants_total();
        let (page, total) =
            service::list(db, protection, viewer, &query, &window, with_total).await?;
        Ok(PersonConnection::from_page(page, total))
    }

    /// Reads of personal data, newest first. AUDITOR only.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn person_access_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only reads matching every given condition; all when omitted.")]
        filter: Option<PersonAccessLogFilter>,
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
    ) -> GqlResult<PersonAccessConnection> {
        let viewer = ctx.viewer()?;
        let window = Window::new(first, after.as_deref(), last, before.as_deref())?;
        let filter = filter.unwrap_or_default();
        let query = AccessQuery {
            person: expect_opt_id(filter.person.as_ref(), NodeKind::Person)?,
            actor: filter.actor,
            organization: expect_opt_id(filter.organization.as_ref(), NodeKind::Organization)?,
            from: filter.from.map(Into::into),
            to: filter.to.map(Into::into),
        };
        let db = ctx.db()?;
        let with_total = ctx.wants_total();
        let (page, total) = privacy::access_log(db, viewer, &query, &window, with_total).await?;
        Ok(PersonAccessConnection::from_page(page, total))
    }

    /// What the caller's organization holds about a person, decrypted, as JSON: its
    /// record (the shared fields, for a referral's receiver), its consents, the
    /// referrals it sent or received of the person with their events, and the
    /// access-log entries of its own reads. Its OPERATOR or ORG_ADMIN (or client with
    /// `persons:write`); the export is logged. An id it does not see is NOT_FOUND.
    async fn export_person_data(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ID of the person.")] person_id: ID,
    ) -> GqlResult<Json> {
        let id = expect_id(&person_id, NodeKind::Person)?;
        let db = ctx.db()?;
        let protection = ctx.protection()?;
        Ok(Json(
            protection::export(db, protection, &ctx.actor()?, id).await?,
        ))
    }
}
