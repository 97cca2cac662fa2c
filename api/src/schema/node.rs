//! The Relay `Node` interface and `node(id:)` / `nodes(ids:)`.

use crate::api_client::types::ApiClient;
use crate::audit::types::AuditEvent;
use crate::auth::{Viewer, policy};
use crate::catalogue::types::Service;
use crate::context::ContextExt;
use crate::error::{AppError, AppResult, GqlResult};
use crate::graphql::relay::{NodeKind, from_global_id};
use crate::loaders::{
    ApiClientById, AuditEventById, ContactById, Loaders, LocationById, OrganizationById,
    ProtocolById, ServiceById, SignatoryById, TermById, TerritoryById,
};
use crate::organization::types::{Contact, Location, Organization};
use crate::person::types::{Consent, Person};
use crate::protocol::types::{Protocol, Signatory};
use crate::taxonomy::types::Term;
use crate::territory::types::Territory;
use async_graphql::{Context, ID, Interface, Object};

/// An object with a global ID, refetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Global ID: opaque, stable, unique across types."
))]
pub enum Node {
    /// A territory.
    Territory(Territory),
    /// An organization.
    Organization(Organization),
    /// A site of an organization.
    Location(Location),
    /// A contact of an organization.
    Contact(Contact),
    /// A taxonomy term.
    Term(Term),
    /// A service.
    Service(Service),
    /// A protocol.
    Protocol(Protocol),
    /// A signatory of a protocol.
    Signatory(Signatory),
    /// A succession between organizations.
    Succession(crate::organization::types::Succession),
    /// An entry of the audit log (AUDITOR and REGIONAL_ADMIN only).
    AuditEvent(AuditEvent),
    /// An API client (its organization's ORG_ADMIN only).
    ApiClient(ApiClient),
    /// A person (only for the organizations involved with them).
    Person(Person),
    /// A consent of a person (only for the organizations involved with the person).
    Consent(Consent),
    /// A referral (only for its sender's and receiver's OPERATOR, ORG_ADMIN or client).
    Referral(crate::referral::types::Referral),
    /// A needs assessment (only for the organization that made it).
    NeedsAssessment(crate::person::types::NeedsAssessment),
    /// A routing rule (public).
    RoutingRule(crate::routing::types::RoutingRule),
    /// A webhook endpoint (its organization's ORG_ADMIN or client with `webhooks:write`).
    WebhookEndpoint(crate::webhooks::types::WebhookEndpoint),
    /// A webhook delivery (as its endpoint).
    WebhookDelivery(crate::webhooks::types::WebhookDelivery),
    /// A working group (public summary; details for its members).
    WorkingGroup(crate::working_group::types::WorkingGroup),
    /// A meeting of a working group (public summary; details for the group's members).
    Meeting(crate::working_group::types::Meeting),
    /// A decision or action of a meeting (the group's members and the region only).
    MeetingAction(crate::working_group::types::MeetingAction),
    /// An individual plan (its lead; an organization performing actions reads its part).
    IndividualPlan(crate::plan::types::IndividualPlan),
    /// An action of an individual plan (the plan's lead and the organization performing
    /// it, once its referral was sent).
    PlanAction(crate::plan::types::PlanAction),
}

/// Most IDs `nodes(ids:)` takes at once.
pub const MAX_NODES: usize = 100;

/// Loads a node the viewer may see; others read as missing, never as forbidden, so that
/// `node(id:)` does not reveal what exists.
async fn load(
    loaders: &Loaders,
    viewer: &Viewer,
    kind: NodeKind,
    id: uuid::Uuid,
) -> AppResult<Option<Node>> {
    let l = &loaders.0;
    Ok(match kind {
        NodeKind::Territory => l
            .load_one(TerritoryById(id))
            .await?
            .map(|m| Node::Territory(m.into())),
        NodeKind::Organization => l
            .load_one(OrganizationById(id))
            .await?
            .map(|m| Node::Organization(m.into())),
        NodeKind::Location => l
            .load_one(LocationById(id))
            .await?
            .map(|m| Node::Location(m.into())),
        NodeKind::Contact => l
            .load_one(ContactById(id))
            .await?
            .map(|m| Node::Contact(m.into())),
        NodeKind::Term => l
            .load_one(TermById(id))
            .await?
            .map(|m| Node::Term(m.into())),
        NodeKind::Service => l
            .load_one(ServiceById(id))
            .await?
            .map(|m| Node::Service(m.into())),
        NodeKind::Protocol => l
            .load_one(ProtocolById(id))
            .await?
            .map(|m| Node::Protocol(m.into())),
        NodeKind::Signatory => l
            .load_one(SignatoryById(id))
            .await?
            .map(|m| Node::Signatory(m.into())),
        NodeKind::Succession => l
            .load_one(crate::loaders::SuccessionById(id))
            .await?
            .map(|m| Node::Succession(crate::organization::types::Succession(m))),
        NodeKind::AuditEvent => {
            if policy::require_auditor(viewer).is_err() {
                return Ok(None);
            }
            l.load_one(AuditEventById(id))
                .await?
                .map(|m| Node::AuditEvent(m.into()))
        }
        NodeKind::ApiClient => l
            .load_one(ApiClientById(id))
            .await?
            .filter(|m| policy::require_org_admin(viewer, m.organization_id).is_ok())
            .map(|m| Node::ApiClient(m.into())),
        NodeKind::Person => crate::person::service::visible(loaders.db(), viewer, id)
            .await?
            .map(|m| Node::Person(m.into())),
        NodeKind::Consent => crate::person::consent::visible(loaders.db(), viewer, id)
            .await?
            .map(|m| Node::Consent(m.into())),
        NodeKind::Referral => crate::referral::resolvers::load_node(loaders, viewer, id)
            .await?
            .map(Node::Referral),
        NodeKind::NeedsAssessment => crate::person::assessment::visible(loaders.db(), viewer, id)
            .await?
            .map(|a| Node::NeedsAssessment(a.into())),
        NodeKind::RoutingRule => l
            .load_one(crate::loaders::RoutingRuleById(id))
            .await?
            .map(|m| Node::RoutingRule(m.into())),
        NodeKind::WebhookEndpoint => {
            crate::webhooks::resolvers::endpoint_node(loaders.db(), viewer, id)
                .await?
                .map(Node::WebhookEndpoint)
        }
        NodeKind::WebhookDelivery => {
            crate::webhooks::resolvers::delivery_node(loaders.db(), viewer, id)
                .await?
                .map(Node::WebhookDelivery)
        }
        NodeKind::WorkingGroup => l
            .load_one(crate::loaders::WorkingGroupById(id))
            .await?
            .map(|m| Node::WorkingGroup(m.into())),
        NodeKind::Meeting => l
            .load_one(crate::loaders::MeetingById(id))
            .await?
            .map(|m| Node::Meeting(m.into())),
        NodeKind::MeetingAction => crate::working_group::types::action_node(loaders, viewer, id)
            .await?
            .map(Node::MeetingAction),
        NodeKind::IndividualPlan => crate::plan::types::plan_node(loaders, viewer, id)
            .await?
            .map(Node::IndividualPlan),
        NodeKind::PlanAction => crate::plan::types::action_node(loaders, viewer, id)
            .await?
            .map(Node::PlanAction),
    })
}

/// Refetching objects by global ID.
#[derive(Default)]
pub struct NodeQueries;

#[Object]
impl NodeQueries {
    /// The object with this global ID, or null if there is none.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ID of the object.")] id: ID,
    ) -> GqlResult<Option<Node>> {
        let (kind, uuid) = from_global_id(&id)?;
        let viewer = ctx.viewer()?;
        Ok(load(ctx.loaders()?, viewer, kind, uuid).await?)
    }

    /// The objects with these global IDs (at most 100), in the same order; null where
    /// there is none.
    #[graphql(complexity = "ids.len() * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global IDs of the objects (at most 100).")] ids: Vec<ID>,
    ) -> GqlResult<Vec<Option<Node>>> {
        if ids.len() > MAX_NODES {
            return Err(AppError::BadUserInput(format!("at most {MAX_NODES} ids at once")).into());
        }
        let parsed = ids
            .iter()
            .map(|id| from_global_id(id))
            .collect::<AppResult<Vec<_>>>()?;
        let loaders = ctx.loaders()?;
        let viewer = ctx.viewer()?;
        let loads = parsed
            .into_iter()
            .map(|(kind, uuid)| load(loaders, viewer, kind, uuid));
        let nodes = futures_util::future::try_join_all(loads).await?;
        Ok(nodes)
    }
}
