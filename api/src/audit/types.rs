//! GraphQL types of the audit log.

use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::ActorKind;
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Json;
use crate::graphql::scalars::Timestamp;
use crate::loaders::OrganizationById;
use crate::organization::types::Organization;
use async_graphql::{Context, ID, Object};
use entity::audit_event;

/// One change made through the API: who, for which organization, what, before and
/// after, when, in which request.
#[derive(Clone, Debug)]
pub struct AuditEvent(pub audit_event::Model);

impl From<audit_event::Model> for AuditEvent {
    fn from(model: audit_event::Model) -> Self {
        Self(model)
    }
}

/// One change made through the API: who, for which organization, what, before and
/// after, when, in which request.
#[Object]
impl AuditEvent {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::AuditEvent, self.0.id)
    }
    /// When the change was committed.
    async fn occurred_at(&self) -> Timestamp {
        Timestamp(self.0.occurred_at)
    }
    /// Token subject of the actor.
    async fn actor_subject(&self) -> &str {
        &self.0.actor_subject
    }
    /// A person or a partner system.
    async fn actor_kind(&self) -> GqlResult<ActorKind> {
        ActorKind::from_stored(&self.0.actor_kind)
    }
    /// Global ID of the organization the actor acted for.
    #[graphql(deprecation = "Use `actorOrganization { id }`. Removed in 0.3.")]
    async fn actor_organization_id(&self) -> Option<ID> {
        self.0
            .actor_organization_id
            .map(|id| to_global_id(NodeKind::Organization, id))
    }
    /// The organization the actor acted for.
    async fn actor_organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        let Some(id) = self.0.actor_organization_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(OrganizationById(id)).await
    }
    /// The mutation, e.g. `updateService`.
    async fn operation(&self) -> &str {
        &self.0.operation
    }
    /// Type of the changed object.
    async fn object_type(&self) -> &str {
        &self.0.object_type
    }
    /// Global ID of the changed object.
    async fn object_id(&self) -> ID {
        let kind = NodeKind::from_type_name(&self.0.object_type).unwrap_or(NodeKind::AuditEvent);
        to_global_id(kind, self.0.object_id)
    }
    /// The object before the change (null on creation).
    async fn before(&self) -> Option<Json> {
        self.0.before.clone().map(Json)
    }
    /// The object after the change (null on deletion).
    async fn after(&self) -> Option<Json> {
        self.0.after.clone().map(Json)
    }
    /// Id of the HTTP request (also in the `x-request-id` header and the logs).
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
}

crate::connection!(
    AuditEventConnection,
    AuditEventEdge,
    AuditEvent,
    "audit events"
);
