//! GraphQL types of protocols.

use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::{ProtocolStatus, SignatoryRole, SignatoryStatus};
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Date;
use crate::graphql::scalars::Timestamp;
use crate::loaders::{OrganizationById, ProtocolById, ScopeOfProtocol, SignatoriesOfProtocol};
use crate::organization::types::Organization;
use crate::territory::types::Territory;
use async_graphql::{Context, ID, Object};
use entity::{protocol, signatory};

/// A protocol of understanding (Protocollo d'intesa): two organizations may exchange a
/// referral only under a protocol in force that both signed and whose scope covers the
/// person's municipality.
#[derive(Clone, Debug)]
pub struct Protocol(pub protocol::Model);

impl From<protocol::Model> for Protocol {
    fn from(model: protocol::Model) -> Self {
        Self(model)
    }
}

/// A protocol of understanding (Protocollo d'intesa): two organizations may exchange a
/// referral only under a protocol in force that both signed and whose scope covers the
/// person's municipality.
#[Object]
impl Protocol {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Protocol, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Version number; amendments are new versions.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Summary of the protocol.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// First day of validity.
    async fn valid_from(&self) -> Option<Date> {
        self.0.valid_from.map(Date)
    }
    /// Last day of validity.
    async fn valid_to(&self) -> Option<Date> {
        self.0.valid_to.map(Date)
    }
    /// Where the signed document is published.
    async fn document_url(&self) -> Option<&str> {
        self.0.document_url.as_deref()
    }
    /// SHA-256 of the signed document, hex.
    async fn document_sha256(&self) -> Option<&str> {
        self.0.document_sha256.as_deref()
    }
    /// Working days within which a signatory commits to answer a referral.
    async fn response_time_days(&self) -> i32 {
        self.0.response_time_days
    }
    /// Lifecycle status.
    async fn status(&self) -> ProtocolStatus {
        self.0.status.into()
    }
    /// The version this one amends.
    async fn supersedes(&self, ctx: &Context<'_>) -> GqlResult<Option<Protocol>> {
        let Some(previous) = self.0.supersedes_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(ProtocolById(previous)).await
    }
    /// Territories the protocol covers.
    async fn scope(&self, ctx: &Context<'_>) -> GqlResult<Vec<Territory>> {
        ctx.loaders()?.all(ScopeOfProtocol(self.0.id)).await
    }
    /// Organizations invited to, signing or withdrawn from the protocol.
    async fn signatories(&self, ctx: &Context<'_>) -> GqlResult<Vec<Signatory>> {
        ctx.loaders()?.all(SignatoriesOfProtocol(self.0.id)).await
    }
    /// When the record was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the record was last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

crate::connection!(ProtocolConnection, ProtocolEdge, Protocol, "protocols");

/// An organization's adherence to a protocol.
#[derive(Clone, Debug)]
pub struct Signatory(pub signatory::Model);

impl From<signatory::Model> for Signatory {
    fn from(model: signatory::Model) -> Self {
        Self(model)
    }
}

/// An organization's adherence to a protocol.
#[Object]
impl Signatory {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Signatory, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// The protocol.
    async fn protocol(&self, ctx: &Context<'_>) -> GqlResult<Option<Protocol>> {
        ctx.loaders()?.one(ProtocolById(self.0.protocol_id)).await
    }
    /// The organization.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.organization_id))
            .await
    }
    /// Promoter, partner or adherent.
    async fn role(&self) -> SignatoryRole {
        self.0.role.into()
    }
    /// Invited, signed or withdrawn.
    async fn status(&self) -> SignatoryStatus {
        self.0.status.into()
    }
    /// When the organization was invited.
    async fn invited_at(&self) -> Option<Timestamp> {
        self.0.invited_at.map(Timestamp)
    }
    /// When the organization signed.
    async fn signed_at(&self) -> Option<Timestamp> {
        self.0.signed_at.map(Timestamp)
    }
    /// Name of the legal representative who signed.
    async fn signed_by_name(&self) -> Option<&str> {
        self.0.signed_by_name.as_deref()
    }
    /// Title of the legal representative who signed.
    async fn signed_by_title(&self) -> Option<&str> {
        self.0.signed_by_title.as_deref()
    }
    /// When the organization withdrew.
    async fn withdrawn_at(&self) -> Option<Timestamp> {
        self.0.withdrawn_at.map(Timestamp)
    }
}
