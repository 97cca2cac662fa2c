//! Referral mutations: create, one per transition of the lifecycle, and re-route.

use super::create::{self, NewReferral, Reroute};
use super::lifecycle::Action;
use super::service::{self, Details};
use super::transition;
use super::types::{DeclinedBy, Outcome, Priority, Referral, ReferralChannel};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::mutation::{Payload, mutate, payload};
use crate::graphql::relay::expect_opt_id;
use crate::graphql::relay::{NodeKind, expect_id};
use crate::privacy::access::ReceiverAccess;
use async_graphql::{Context, ID, InputObject, Object};

payload! {
    CreateReferralPayload("createReferral") { referral: Referral, "The referral after the change" }
    SendReferralPayload("sendReferral") { referral: Referral, "The referral after the change" }
    MarkReferralReceivedPayload("markReferralReceived") { referral: Referral, "The referral after the change" }
    AcceptReferralPayload("acceptReferral") { referral: Referral, "The referral after the change" }
    RejectReferralPayload("rejectReferral") { referral: Referral, "The referral after the change" }
    StartReferralPayload("startReferral") { referral: Referral, "The referral after the change" }
    HoldReferralPayload("holdReferral") { referral: Referral, "The referral after the change" }
    ResumeReferralPayload("resumeReferral") { referral: Referral, "The referral after the change" }
    CompleteReferralPayload("completeReferral") { referral: Referral, "The referral after the change" }
    FailReferralPayload("failReferral") { referral: Referral, "The referral after the change" }
    CancelReferralPayload("cancelReferral") { referral: Referral, "The referral after the change" }
    RerouteReferralPayload("rerouteReferral") { referral: Referral, "The referral after the change" }
}

/// Declares the inputs of the transitions: the referral, the version read, and what
/// the transition needs besides.
macro_rules! transition_inputs {
    ($($name:ident($mutation:literal) { $($(#[$meta:meta])* $field:ident: $ty:ty,)* })+) => {$(
        #[doc = concat!("Input of `", $mutation, "`.")]
        #[derive(InputObject)]
        pub struct $name {
            /// The referral.
            pub id: ID,
            /// The `rowVersion` you read; a stale one is refused with CONFLICT.
            pub expected_version: i32,
            $($(#[$meta])* pub $field: $ty,)*
        }
    )+};
}

transition_inputs! {
    SendReferralInput("sendReferral") {
        /// When the service has no open place, send anyway and wait for one (the
        /// referral is marked `waitlisted`); without it, a full service refuses with
        /// NO_OPEN_PLACES.
        accept_waitlist: Option<bool>,
    }
    MarkReferralReceivedInput("markReferralReceived") {}
    AcceptReferralInput("acceptReferral") {}
    StartReferralInput("startReferral") {}
    ResumeReferralInput("resumeReferral") {}
    HoldReferralInput("holdReferral") {
        /// Coded reason (required): a HOLD_REASON term code (`terms(filter: {taxonomies: [HOLD_REASON]})`).
        reason_code: String,
        /// Explanation for people.
        reason_text: Option<String>,
    }
    FailReferralInput("failReferral") {
        /// Coded reason (required): a FAILURE_REASON term code (`terms(filter: {taxonomies: [FAILURE_REASON]})`).
        reason_code: String,
        /// Explanation for people.
        reason_text: Option<String>,
    }
    CancelReferralInput("cancelReferral") {
        /// Coded reason (required): a CANCELLATION_REASON term code (`terms(filter: {taxonomies: [CANCELLATION_REASON]})`).
        reason_code: String,
        /// Explanation for people.
        reason_text: Option<String>,
    }
    RejectReferralInput("rejectReferral") {
        /// Coded reason (required): a REJECTION_REASON term code (`terms(filter: {taxonomies: [REJECTION_REASON]})`).
        reason_code: String,
        /// Explanation for people.
        reason_text: Option<String>,
        /// Who declined (required).
        declined_by: DeclinedBy,
    }
    CompleteReferralInput("completeReferral") {
        /// The outcome (required).
        outcome: Outcome,
    }
}

/// Input of `createReferral`.
#[derive(InputObject)]
pub struct CreateReferralInput {
    /// The person referred: your organization's own record of them.
    pub person: ID,
    /// The service the person is referred to; its provider receives the referral.
    pub receiver_service: ID,
    /// NEED term codes (at least one).
    pub needs: Vec<String>,
    /// Why the person is referred.
    pub reason: String,
    /// How urgent it is (NORMAL when omitted).
    pub priority: Option<Priority>,
    /// The consent it relies on; when omitted, sending looks for a valid one.
    pub consent: Option<ID>,
    /// How it came in (OPERATOR for people, PARTNER_SYSTEM for clients when omitted).
    pub channel: Option<ReferralChannel>,
    /// Makes retries safe: the same key from your organization returns the first
    /// referral; the same key with other values is CONFLICT.
    pub idempotency_key: Option<String>,
    /// The action of an individual plan (led by your organization, on this person's
    /// record, for this service, PLANNED or STOPPED) the referral starts: the action then
    /// follows the referral (sent → REFERRED, accepted → STARTED, completed → DONE).
    pub plan_action: Option<ID>,
}

/// Input of `rerouteReferral`.
#[derive(InputObject)]
pub struct RerouteReferralInput {
    /// The referral that ended (REJECTED, EXPIRED, FAILED or CANCELLED).
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// The service to refer the person to now.
    pub receiver_service: ID,
    /// Why; the original reason when omitted.
    pub reason: Option<String>,
    /// Makes retries safe, as in `createReferral`.
    pub idempotency_key: Option<String>,
}

/// Applies `action` to the referral `id` as the caller.
async fn run<P>(
    ctx: &Context<'_>,
    id: &ID,
    expected_version: i32,
    action: Action,
    details: Details,
) -> GqlResult<P>
where
    P: Payload<Object = Referral>,
{
    let id = expect_id(id, NodeKind::Referral)?;
    let privacy = service::Privacy {
        protection: ctx.protection()?,
        receiver_access: ReceiverAccess::days(ctx.settings()?.receiver_access_days).0,
    };
    mutate(ctx, async |db, actor| {
        transition::transition(db, privacy, actor, id, expected_version, action, details).await
    })
    .await
}

/// A transition's coded reason.
fn reason(reason_code: Option<String>, reason_text: Option<String>) -> Details {
    Details {
        reason_code,
        reason_text,
        ..Details::default()
    }
}

/// Referral mutations. The caller acts for its organization: an OPERATOR or
/// ORG_ADMIN, or a machine client with the `referrals:write` scope.
#[derive(Default)]
pub struct ReferralMutations;

#[Object]
impl ReferralMutations {
    /// Creates a DRAFT referral from the caller's organization to a service.
    async fn create_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateReferralInput,
    ) -> GqlResult<CreateReferralPayload> {
        let new = NewReferral {
            person: expect_id(&input.person, NodeKind::Person)?,
            receiver_service: expect_id(&input.receiver_service, NodeKind::Service)?,
            needs: input.needs,
            reason: input.reason,
            priority: input
                .priority
                .map_or(entity::enums::Priority::Normal, Into::into),
            consent: expect_opt_id(input.consent.as_ref(), NodeKind::Consent)?,
            channel: input.channel.map(Into::into),
            idempotency_key: input.idempotency_key,
            plan_action: expect_opt_id(input.plan_action.as_ref(), NodeKind::PlanAction)?,
        };
        let protection = ctx.protection()?;
        mutate(ctx, async |db, actor| {
            create::create(db, protection, actor, new).await
        })
        .await
    }

    /// Sends a DRAFT (sender) when no gate refuses (see `referralReadiness`): an ACTIVE
    /// service whose area covers the person and whose age range fits them, an open
    /// place (or `acceptWaitlist`), a valid consent for the receiver and a protocol in
    /// force, signed by both, covering the person's municipality; records the protocol
    /// and the due date.
    async fn send_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: SendReferralInput,
    ) -> GqlResult<SendReferralPayload> {
        let details = Details {
            accept_waitlist: input.accept_waitlist.unwrap_or(false),
            ..Details::default()
        };
        run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Send,
            details,
        )
        .await
    }

    /// Marks a SENT referral RECEIVED (receiver; also happens on its first read).
    async fn mark_referral_received(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: MarkReferralReceivedInput,
    ) -> GqlResult<MarkReferralReceivedPayload> {
        let (id, expected) = (&input.id, input.expected_version);
        run(ctx, id, expected, Action::MarkReceived, Details::default()).await
    }

    /// Accepts a SENT or RECEIVED referral (receiver), taking one of the service's open
    /// places when it counts them (none left: NO_OPEN_PLACES).
    async fn accept_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: AcceptReferralInput,
    ) -> GqlResult<AcceptReferralPayload> {
        let details = Details::default();
        run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Accept,
            details,
        )
        .await
    }

    /// Rejects a SENT or RECEIVED referral (receiver), with a coded reason and who
    /// declined.
    async fn reject_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RejectReferralInput,
    ) -> GqlResult<RejectReferralPayload> {
        let details = Details {
            declined_by: Some(input.declined_by.into()),
            ..reason(Some(input.reason_code), input.reason_text)
        };
        run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Reject,
            details,
        )
        .await
    }

    /// Starts work on an ACCEPTED referral (receiver).
    async fn start_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: StartReferralInput,
    ) -> GqlResult<StartReferralPayload> {
        let details = Details::default();
        run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Start,
            details,
        )
        .await
    }

    /// Puts an ACCEPTED or IN_PROGRESS referral ON_HOLD (receiver), with a coded
    /// reason.
    async fn hold_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: HoldReferralInput,
    ) -> GqlResult<HoldReferralPayload> {
        let details = reason(Some(input.reason_code), input.reason_text);
        run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Hold,
            details,
        )
        .await
    }

    /// Resumes an ON_HOLD referral (receiver).
    async fn resume_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: ResumeReferralInput,
    ) -> GqlResult<ResumeReferralPayload> {
        let details = Details::default();
        run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Resume,
            details,
        )
        .await
    }

    /// Completes an IN_PROGRESS referral (receiver), with a coded outcome.
    async fn complete_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CompleteReferralInput,
    ) -> GqlResult<CompleteReferralPayload> {
        let details = Details {
            outcome: Some(input.outcome.into()),
            ..Details::default()
        };
        run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Complete,
            details,
        )
        .await
    }

    /// Ends an ACCEPTED, IN_PROGRESS or ON_HOLD referral without success (receiver),
    /// with a coded reason.
    async fn fail_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: FailReferralInput,
    ) -> GqlResult<FailReferralPayload> {
        let details = reason(Some(input.reason_code), input.reason_text);
        run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Fail,
            details,
        )
        .await
    }

    /// Cancels a referral with a coded reason: the sender before it ends, the receiver
    /// once it accepted.
    async fn cancel_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CancelReferralInput,
    ) -> GqlResult<CancelReferralPayload> {
        let details = reason(Some(input.reason_code), input.reason_text);
        run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Cancel,
            details,
        )
        .await
    }

    /// Re-routes a REJECTED, EXPIRED, FAILED or CANCELLED referral to another service
    /// (sender): a new DRAFT linked to it through `reroutedFrom`.
    async fn reroute_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RerouteReferralInput,
    ) -> GqlResult<RerouteReferralPayload> {
        let reroute = Reroute {
            id: expect_id(&input.id, NodeKind::Referral)?,
            expected_version: input.expected_version,
            receiver_service: expect_id(&input.receiver_service, NodeKind::Service)?,
            reason: input.reason,
            idempotency_key: input.idempotency_key,
        };
        let protection = ctx.protection()?;
        mutate(ctx, async |db, actor| {
            create::reroute(db, protection, actor, reroute).await
        })
        .await
    }
}
