//! GraphQL types of referrals.

use super::inbox::Direction;
use super::service;
use crate::catalogue::types::Service;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::{ActorKind, ReferralAction, mirror_enum};
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Timestamp;
use crate::loaders::{
    ConsentById, EventsOfReferral, OrganizationById, ProtocolById, ReferralById, RerouteOfReferral,
    RoutingRuleById, ServiceById,
};
use crate::organization::types::Organization;
use crate::person::types::Consent;
use crate::privacy::access::Field;
use crate::protocol::types::Protocol;
use crate::routing::types::RoutingRule;
use crate::taxonomy::types::Term;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use entity::enums::Taxonomy;
use entity::{referral, referral_event};

mirror_enum!(
    /// Where a referral is in its lifecycle.
    ReferralStatus => entity::enums::ReferralStatus {
        /// Being prepared by the sender; the receiver does not see it yet.
        Draft,
        /// Sent under a protocol; waiting for the receiver.
        Sent,
        /// Read by the receiver.
        Received,
        /// Accepted by the receiver.
        Accepted,
        /// Declined by the receiver or by the person (final).
        Rejected,
        /// The receiver is working with the person.
        InProgress,
        /// Paused by the receiver.
        OnHold,
        /// Closed with an outcome (final).
        Completed,
        /// Ended without success (final).
        Failed,
        /// Withdrawn (final).
        Cancelled,
        /// Not answered by its due date (final).
        Expired,
    }
);

mirror_enum!(
    /// How urgent a referral is.
    Priority => entity::enums::Priority {
        /// Can wait.
        Low,
        /// The usual.
        Normal,
        /// Soon.
        High,
        /// As soon as possible.
        Urgent,
    }
);

mirror_enum!(
    /// How a referral came in.
    ReferralChannel => entity::enums::ReferralChannel {
        /// An operator entered it.
        Operator,
        /// A partner system sent it through the API.
        PartnerSystem,
        /// A rule created it automatically.
        AutomatedRule,
    }
);

mirror_enum!(
    /// Who declined a rejected referral.
    DeclinedBy => entity::enums::DeclinedBy {
        /// The receiving service.
        Provider,
        /// The person.
        Person,
    }
);

mirror_enum!(
    /// Outcome recorded when a referral completes.
    Outcome => entity::enums::Outcome {
        /// The person enrolled in the service.
        Enrolled,
        /// The person completed the pathway.
        PathwayCompleted,
        /// The person found a job.
        Employed,
        /// The person started a traineeship.
        TraineeshipStarted,
        /// The person is not eligible.
        NotEligible,
        /// The person could not be reached.
        Unreachable,
        /// The person refused.
        Refused,
        /// Something else.
        Other,
    }
);

/// Which referrals of the caller's organization.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferralDirection {
    /// Referrals the organization receives.
    Inbox,
    /// Referrals the organization sends.
    Outbox,
}

impl From<ReferralDirection> for Direction {
    fn from(value: ReferralDirection) -> Self {
        match value {
            ReferralDirection::Inbox => Self::Inbox,
            ReferralDirection::Outbox => Self::Outbox,
        }
    }
}

/// A referral of a person from one organization's service to another's. Only the
/// sender and receiver organizations see it.
#[derive(Clone, Debug)]
pub struct Referral(pub referral::Model);

impl From<referral::Model> for Referral {
    fn from(model: referral::Model) -> Self {
        Self(model)
    }
}

impl Referral {
    /// Refuses a caller whose organization may not read this referral now (the rule of
    /// [`crate::privacy::access`]), as if it did not exist. Every path to a referral
    /// already filters; this guards the fields that carry personal data.
    fn check_visible(&self, ctx: &Context<'_>) -> GqlResult<()> {
        if service::is_visible_to(ctx.viewer()?, &self.0) {
            Ok(())
        } else {
            Err(crate::error::AppError::NotFound("referral").into())
        }
    }
}

/// A referral of a person from one organization's service to another's. Only the
/// sender and receiver organizations see it.
#[Object]
impl Referral {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Referral, self.0.id)
    }
    /// Where the referral is in its lifecycle.
    async fn status(&self) -> ReferralStatus {
        self.0.status.into()
    }
    /// Global ID of the person referred.
    async fn person_id(&self) -> ID {
        to_global_id(NodeKind::Person, self.0.person_id)
    }
    /// The person referred: the sender's record (the receiver sees its shared fields;
    /// reading personal fields is logged).
    async fn person(&self, ctx: &Context<'_>) -> GqlResult<Option<crate::person::types::Person>> {
        self.check_visible(ctx)?;
        let row = ctx
            .loaders()?
            .0
            .load_one(crate::loaders::PersonById(self.0.person_id))
            .await?;
        Ok(row.map(crate::person::types::Person))
    }
    /// The sending organization.
    async fn sender(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.sender_organization_id))
            .await
    }
    /// Token subject of the operator (or client) who created the referral.
    async fn sender_operator(&self) -> &str {
        &self.0.sender_operator
    }
    /// The service the person is referred to.
    async fn receiver_service(&self, ctx: &Context<'_>) -> GqlResult<Option<Service>> {
        ctx.loaders()?
            .one(ServiceById(self.0.receiver_service_id))
            .await
    }
    /// The receiving organization (the service's provider).
    async fn receiver(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.receiver_organization_id))
            .await
    }
    /// The protocol it was sent under (its legal basis); null before sending.
    async fn protocol(&self, ctx: &Context<'_>) -> GqlResult<Option<Protocol>> {
        let Some(id) = self.0.protocol_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(ProtocolById(id)).await
    }
    /// The needs it addresses (NEED terms).
    async fn needs(&self, ctx: &Context<'_>) -> GqlResult<Vec<Term>> {
        ctx.loaders()?
            .terms(Taxonomy::Need, self.0.needs.split_whitespace())
            .await
    }
    /// Why the person is referred (encrypted at rest; reading it is logged; empty once
    /// the person is erased).
    async fn reason(&self, ctx: &Context<'_>) -> GqlResult<String> {
        self.check_visible(ctx)?;
        crate::person::types::reader(ctx)?
            .log_read(self.0.person_id, "referral.reason")
            .await?;
        let protection = ctx.protection()?;
        Ok(protection.decrypt_text(&self.0.reason)?)
    }
    /// How urgent it is.
    async fn priority(&self) -> Priority {
        self.0.priority.into()
    }
    /// When the receiver must answer by (working days of the protocol from sending).
    async fn due_at(&self) -> Option<Timestamp> {
        self.0.due_at.map(Timestamp)
    }
    /// Global ID of the consent it relies on.
    #[graphql(deprecation = "Use `consent { id }`. Removed in 0.3.")]
    async fn consent_id(&self) -> Option<ID> {
        self.0
            .consent_id
            .map(|id| to_global_id(NodeKind::Consent, id))
    }
    /// The consent it relies on: the person's record organization (the sender) reads
    /// it; null for the receiver, as the person's consents are (reading it is logged).
    async fn consent(&self, ctx: &Context<'_>) -> GqlResult<Option<Consent>> {
        let Some(id) = self.0.consent_id else {
            return Ok(None);
        };
        self.check_visible(ctx)?;
        let reader = crate::person::types::reader(ctx)?;
        if !reader
            .read(self.0.person_id, Field::Consents, "referral.consent")
            .await?
        {
            return Ok(None);
        }
        ctx.loaders()?.one(ConsentById(id)).await
    }
    /// How it came in.
    async fn channel(&self) -> ReferralChannel {
        self.0.channel.into()
    }
    /// The routing rule that created it (channel AUTOMATED_RULE); null otherwise.
    async fn routing_rule(&self, ctx: &Context<'_>) -> GqlResult<Option<RoutingRule>> {
        let Some(id) = self.0.routing_rule_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(RoutingRuleById(id)).await
    }
    /// The referral this one re-routes; null when none or when the caller's
    /// organization took no part in it.
    async fn rerouted_from(&self, ctx: &Context<'_>) -> GqlResult<Option<Referral>> {
        let Some(id) = self.0.rerouted_from_id else {
            return Ok(None);
        };
        let viewer = ctx.viewer()?;
        let row = ctx.loaders()?.0.load_one(ReferralById(id)).await?;
        Ok(row
            .filter(|r| service::is_visible_to(viewer, r))
            .map(Referral))
    }
    /// The referral that re-routes this one (a referral is re-routed once); null when
    /// none or when the caller's organization may not read it (a re-route is the
    /// sender's DRAFT until sent).
    async fn rerouted_to(&self, ctx: &Context<'_>) -> GqlResult<Option<Referral>> {
        let viewer = ctx.viewer()?;
        let row = ctx
            .loaders()?
            .0
            .load_one(RerouteOfReferral(self.0.id))
            .await?;
        Ok(row
            .filter(|r| service::is_visible_to(viewer, r))
            .map(Referral))
    }
    /// Sent to a service with no open place (with `acceptWaitlist`): it waits for one.
    /// Cleared when it is accepted.
    async fn waitlisted(&self) -> bool {
        self.0.waitlisted
    }
    /// Holds one of the service's open places: taken when accepted, given back when
    /// it ends (only while the service counts its places).
    async fn holds_place(&self) -> bool {
        self.0.holds_place
    }
    /// Outcome, once completed.
    async fn outcome(&self) -> Option<Outcome> {
        self.0.outcome.map(Into::into)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// When it was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
    /// Every step of its lifecycle, oldest first.
    async fn events(&self, ctx: &Context<'_>) -> GqlResult<Vec<ReferralEvent>> {
        self.check_visible(ctx)?;
        let rows = ctx
            .loaders()?
            .0
            .load_one(EventsOfReferral(self.0.id))
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|event| ReferralEvent(event, self.0.person_id))
            .collect())
    }
}

/// One step in the lifecycle of a referral (with the id of the referral's person, for
/// the access log).
#[derive(Clone, Debug)]
pub struct ReferralEvent(pub referral_event::Model, pub uuid::Uuid);

/// One step in the lifecycle of a referral.
#[Object]
impl ReferralEvent {
    /// What happened.
    async fn action(&self) -> GqlResult<ReferralAction> {
        ReferralAction::from_stored(&self.0.action)
    }
    /// Status before; null on creation.
    async fn from_status(&self) -> Option<ReferralStatus> {
        self.0.from_status.map(Into::into)
    }
    /// Status after.
    async fn to_status(&self) -> ReferralStatus {
        self.0.to_status.into()
    }
    /// Token subject of who acted (`system` for expiry).
    async fn actor_subject(&self) -> &str {
        &self.0.actor_subject
    }
    /// A person, a partner system, or the API itself (expiry).
    async fn actor_kind(&self) -> GqlResult<ActorKind> {
        ActorKind::from_stored(&self.0.actor_kind)
    }
    /// The organization the actor acted for; null for the system.
    async fn actor_organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        let Some(id) = self.0.actor_organization_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(OrganizationById(id)).await
    }
    /// Coded reason.
    #[graphql(deprecation = "Use `reason { code label }`. Removed in 0.3.")]
    async fn reason_code(&self) -> Option<&str> {
        self.0.reason_code.as_deref()
    }
    /// The coded reason, a term of the action's reason taxonomy (REJECTION_REASON,
    /// CANCELLATION_REASON, FAILURE_REASON or HOLD_REASON); null when none was given
    /// and for steps whose reasons have no taxonomy (an expiry).
    async fn reason(&self, ctx: &Context<'_>) -> GqlResult<Option<Term>> {
        let (Some(code), Some(taxonomy)) = (
            self.0.reason_code.as_deref(),
            super::transition::reason_taxonomy_of(&self.0.action),
        ) else {
            return Ok(None);
        };
        let mut terms: Vec<Term> = ctx.loaders()?.terms(taxonomy, [code]).await?;
        Ok(terms.pop())
    }
    /// Explanation (encrypted at rest; reading it is logged; null once the person is
    /// erased).
    async fn reason_text(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        let Some(stored) = self.0.reason_text.as_deref() else {
            return Ok(None);
        };
        crate::person::types::reader(ctx)?
            .log_read(self.1, "referralEvent.reasonText")
            .await?;
        let protection = ctx.protection()?;
        Ok(Some(protection.decrypt_text(stored)?))
    }
    /// Who declined, on a rejection.
    async fn declined_by(&self) -> Option<DeclinedBy> {
        self.0.declined_by.map(Into::into)
    }
    /// Outcome, on completion.
    async fn outcome(&self) -> Option<Outcome> {
        self.0.outcome.map(Into::into)
    }
    /// When it happened.
    async fn occurred_at(&self) -> Timestamp {
        Timestamp(self.0.occurred_at)
    }
}

/// How many referrals are in one status.
#[derive(SimpleObject, Clone, Debug)]
pub struct StatusCount {
    /// The status.
    pub status: ReferralStatus,
    /// How many referrals are in it.
    pub count: u64,
}

/// A gate that would refuse a referral today.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReadinessRefusal {
    /// The gate, with the code `sendReferral` would give.
    pub code: crate::validation::FieldErrorCode,
    /// Explanation for people.
    pub message: String,
}

/// Whether the caller's organization could send its record of a person to a service
/// now, and if not, every gate that would refuse.
#[derive(SimpleObject, Clone, Debug)]
pub struct ReferralReadiness {
    /// No gate refuses: `sendReferral` would succeed now.
    pub ready: bool,
    /// Every gate that would refuse, in the order `sendReferral` checks them.
    pub refusals: Vec<ReadinessRefusal>,
    /// The referral would be waitlisted (the service has no open place and the
    /// waiting list was accepted).
    pub waitlisted: bool,
    /// The protocol that would be its legal basis; null when none covers it.
    pub protocol: Option<Protocol>,
}

impl From<super::gates::Gates> for ReferralReadiness {
    fn from(gates: super::gates::Gates) -> Self {
        Self {
            ready: gates.refusals.is_empty(),
            refusals: gates
                .refusals
                .into_iter()
                .map(|refusal| ReadinessRefusal {
                    code: refusal.code,
                    message: refusal.message,
                })
                .collect(),
            waitlisted: gates.waitlisted,
            protocol: gates.protocol.map(Protocol::from),
        }
    }
}

crate::connection!(ReferralConnection, ReferralEdge, Referral, "referrals");
