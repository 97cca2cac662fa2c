//! The `viewer` query.

use crate::auth::viewer::{Viewer, ViewerKind};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::{Scope, mirror_enum};
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::loaders::OrganizationById;
use crate::organization::types::Organization;
use async_graphql::{Context, ID, Object};

mirror_enum!(
    /// Kind of caller.
    CallerKind => ViewerKind {
        /// No token: the public directory only.
        Anonymous,
        /// A person.
        User,
        /// A partner system with machine credentials.
        Client,
    }
);

mirror_enum!(
    /// A role a caller may hold.
    RoleName => crate::auth::Role {
        /// The regional administration.
        RegionalAdmin,
        /// An organization's administrator.
        OrgAdmin,
        /// An operator of an organization.
        Operator,
        /// An auditor.
        Auditor,
        /// The regional data protection officer (a data subject's requests across the
        /// network).
        DataProtectionOfficer,
    }
);

/// The caller of this request, as the token says.
pub struct ViewerInfo(Viewer);

/// The caller of this request, as the token says.
#[Object(name = "Viewer")]
impl ViewerInfo {
    /// Anonymous, a person or a partner system.
    async fn kind(&self) -> CallerKind {
        self.0.kind.into()
    }
    /// Token subject.
    async fn subject(&self) -> Option<&str> {
        (!self.0.is_anonymous()).then_some(self.0.subject.as_str())
    }
    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Global ID of the organization the caller acts for.
    #[graphql(deprecation = "Use `organization { id }`. Removed in 0.3.")]
    async fn organization_id(&self) -> Option<ID> {
        self.0
            .organization
            .map(|id| to_global_id(NodeKind::Organization, id))
    }
    /// The organization the caller acts for.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        let Some(id) = self.0.organization else {
            return Ok(None);
        };
        ctx.loaders()?.one(OrganizationById(id)).await
    }
    /// Roles.
    async fn roles(&self) -> Vec<RoleName> {
        self.0.roles.iter().map(|r| (*r).into()).collect()
    }
    /// Scopes.
    async fn scopes(&self) -> Vec<Scope> {
        Scope::known(&self.0.scopes)
    }
}

/// Identity queries.
#[derive(Default)]
pub struct ViewerQueries;

#[Object]
impl ViewerQueries {
    /// Who is calling: anonymous callers get `kind: ANONYMOUS`.
    async fn viewer(&self, ctx: &Context<'_>) -> GqlResult<ViewerInfo> {
        Ok(ViewerInfo(ctx.viewer()?.clone()))
    }
}
