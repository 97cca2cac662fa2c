//! Referral mutations: create, one per transition of the lifecycle, and re-route.

use super::lifecycle::Action;
use super::service::{self, Details, NewReferral};
use super::types::{DeclinedBy, Outcome, Priority, Referral, ReferralChannel};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::payload::{UserError, split};
use crate::graphql::relay::{NodeKind, expect_id};
use crate::person::access::ReceiverAccess;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use sea_orm::TransactionTrait;

/// Declares the payload of a referral mutation.
macro_rules! payload {
    ($($name:ident => $mutation:literal;)+) => {$(
        #[doc = concat!("Result of `", $mutation, "`.")]
        #[derive(SimpleObject)]
        pub struct $name {
            /// The referral after the change; null when there are user errors.
            pub referral: Option<Referral>,
            /// Problems with the input; nothing was changed when there are any.
            pub user_errors: Vec<UserError>,
        }
    )+};
}

payload! {
    CreateReferralPayload => "createReferral";
    SendReferralPayload => "sendReferral";
    MarkReferralReceivedPayload => "markReferralReceived";
    AcceptReferralPayload => "acceptReferral";
    RejectReferralPayload => "rejectReferral";
    StartReferralPayload => "startReferral";
    HoldReferralPayload => "holdReferral";
    ResumeReferralPayload => "resumeReferral";
    CompleteReferralPayload => "completeReferral";
    FailReferralPayload => "failReferral";
    CancelReferralPayload => "cancelReferral";
    RerouteReferralPayload => "rerouteReferral";
}

/// Declares the input of a transition that needs nothing but the referral.
macro_rules! plain_input {
    ($($name:ident => $mutation:literal;)+) => {$(
        #[doc = concat!("Input of `", $mutation, "`.")]
        #[derive(InputObject)]
        pub struct $name {
            /// The referral.
            pub id: ID,
            /// The `rowVersion` you read; a stale one is refused with CONFLICT.
            pub expected_version: Option<i32>,
        }
    )+};
}

plain_input! {
    SendReferralInput => "sendReferral";
    MarkReferralReceivedInput => "markReferralReceived";
    AcceptReferralInput => "acceptReferral";
    StartReferralInput => "startReferral";
    ResumeReferralInput => "resumeReferral";
}

/// Declares the input of a transition that needs a coded reason.
macro_rules! reason_input {
    ($($name:ident => $mutation:literal;)+) => {$(
        #[doc = concat!("Input of `", $mutation, "`.")]
        #[derive(InputObject)]
        pub struct $name {
            /// The referral.
            pub id: ID,
            /// The `rowVersion` you read; a stale one is refused with CONFLICT.
            pub expected_version: Option<i32>,
            /// Coded reason (required).
            pub reason_code: Option<String>,
            /// Explanation for people.
            pub reason_text: Option<String>,
        }
    )+};
}

reason_input! {
    HoldReferralInput => "holdReferral";
    FailReferralInput => "failReferral";
    CancelReferralInput => "cancelReferral";
}

/// Input of `rejectReferral`.
#[derive(InputObject)]
pub struct RejectReferralInput {
    /// The referral.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
    /// Coded reason (required).
    pub reason_code: Option<String>,
    /// Explanation for people.
    pub reason_text: Option<String>,
    /// Who declined (required).
    pub declined_by: Option<DeclinedBy>,
}

/// Input of `completeReferral`.
#[derive(InputObject)]
pub struct CompleteReferralInput {
    /// The referral.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
    /// The outcome (required).
    pub outcome: Option<Outcome>,
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
}

/// Input of `rerouteReferral`.
#[derive(InputObject)]
pub struct RerouteReferralInput {
    /// The referral that ended (REJECTED, EXPIRED, FAILED or CANCELLED).
    pub id: ID,
    /// The service to refer the person to now.
    pub receiver_service: ID,
    /// Why; the original reason when omitted.
    pub reason: Option<String>,
    /// Makes retries safe, as in `createReferral`.
    pub idempotency_key: Option<String>,
}

async fn run(
    ctx: &Context<'_>,
    id: &ID,
    expected_version: Option<i32>,
    action: Action,
    details: Details,
) -> GqlResult<(Option<Referral>, Vec<UserError>)> {
    let id = expect_id(id, NodeKind::Referral)?;
    let db = ctx.db()?;
    let privacy = service::Privacy {
        protection: ctx.protection()?,
        receiver_access: ReceiverAccess::days(ctx.settings()?.receiver_access_days).0,
    };
    let txn = db.begin().await?;
    let result = service::transition(
        &txn,
        privacy,
        &ctx.actor()?,
        id,
        expected_version,
        action,
        details,
    )
    .await?;
    txn.commit().await?;
    Ok(split(result))
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
        input: CreateReferralInput,
    ) -> GqlResult<CreateReferralPayload> {
        let new = NewReferral {
            person: expect_id(&input.person, NodeKind::Person)?,
            receiver_service: expect_id(&input.receiver_service, NodeKind::Service)?,
            needs: input.needs,
            reason: input.reason,
            priority: input
                .priority
                .map_or(entity::enums::Priority::Normal, Into::into),
            consent: input
                .consent
                .map(|id| expect_id(&id, NodeKind::Consent))
                .transpose()?,
            channel: input.channel.map(Into::into),
            idempotency_key: input.idempotency_key,
        };
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let protection = ctx.protection()?;
        let result = service::create(&txn, protection, &ctx.actor()?, new).await?;
        txn.commit().await?;
        let (referral, user_errors) = split(result);
        Ok(CreateReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Sends a DRAFT (sender): needs a valid consent for the receiver and a protocol in
    /// force, signed by both, covering the person's municipality; records the protocol
    /// and the due date.
    async fn send_referral(
        &self,
        ctx: &Context<'_>,
        input: SendReferralInput,
    ) -> GqlResult<SendReferralPayload> {
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Send,
            Details::default(),
        )
        .await?;
        Ok(SendReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Marks a SENT referral RECEIVED (receiver; also happens on its first read).
    async fn mark_referral_received(
        &self,
        ctx: &Context<'_>,
        input: MarkReferralReceivedInput,
    ) -> GqlResult<MarkReferralReceivedPayload> {
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::MarkReceived,
            Details::default(),
        )
        .await?;
        Ok(MarkReferralReceivedPayload {
            referral,
            user_errors,
        })
    }

    /// Accepts a SENT or RECEIVED referral (receiver).
    async fn accept_referral(
        &self,
        ctx: &Context<'_>,
        input: AcceptReferralInput,
    ) -> GqlResult<AcceptReferralPayload> {
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Accept,
            Details::default(),
        )
        .await?;
        Ok(AcceptReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Rejects a SENT or RECEIVED referral (receiver), with a coded reason and who
    /// declined.
    async fn reject_referral(
        &self,
        ctx: &Context<'_>,
        input: RejectReferralInput,
    ) -> GqlResult<RejectReferralPayload> {
        let details = Details {
            reason_code: input.reason_code,
            reason_text: input.reason_text,
            declined_by: input.declined_by.map(Into::into),
            outcome: None,
        };
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Reject,
            details,
        )
        .await?;
        Ok(RejectReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Starts work on an ACCEPTED referral (receiver).
    async fn start_referral(
        &self,
        ctx: &Context<'_>,
        input: StartReferralInput,
    ) -> GqlResult<StartReferralPayload> {
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Start,
            Details::default(),
        )
        .await?;
        Ok(StartReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Puts an ACCEPTED or IN_PROGRESS referral ON_HOLD (receiver), with a coded
    /// reason.
    async fn hold_referral(
        &self,
        ctx: &Context<'_>,
        input: HoldReferralInput,
    ) -> GqlResult<HoldReferralPayload> {
        let details = Details {
            reason_code: input.reason_code,
            reason_text: input.reason_text,
            ..Details::default()
        };
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Hold,
            details,
        )
        .await?;
        Ok(HoldReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Resumes an ON_HOLD referral (receiver).
    async fn resume_referral(
        &self,
        ctx: &Context<'_>,
        input: ResumeReferralInput,
    ) -> GqlResult<ResumeReferralPayload> {
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Resume,
            Details::default(),
        )
        .await?;
        Ok(ResumeReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Completes an IN_PROGRESS referral (receiver), with a coded outcome.
    async fn complete_referral(
        &self,
        ctx: &Context<'_>,
        input: CompleteReferralInput,
    ) -> GqlResult<CompleteReferralPayload> {
        let details = Details {
            outcome: input.outcome.map(Into::into),
            ..Details::default()
        };
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Complete,
            details,
        )
        .await?;
        Ok(CompleteReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Ends an ACCEPTED, IN_PROGRESS or ON_HOLD referral without success (receiver),
    /// with a coded reason.
    async fn fail_referral(
        &self,
        ctx: &Context<'_>,
        input: FailReferralInput,
    ) -> GqlResult<FailReferralPayload> {
        let details = Details {
            reason_code: input.reason_code,
            reason_text: input.reason_text,
            ..Details::default()
        };
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Fail,
            details,
        )
        .await?;
        Ok(FailReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Cancels a referral with a coded reason: the sender before it ends, the receiver
    /// once it accepted.
    async fn cancel_referral(
        &self,
        ctx: &Context<'_>,
        input: CancelReferralInput,
    ) -> GqlResult<CancelReferralPayload> {
        let details = Details {
            reason_code: input.reason_code,
            reason_text: input.reason_text,
            ..Details::default()
        };
        let (referral, user_errors) = run(
            ctx,
            &input.id,
            input.expected_version,
            Action::Cancel,
            details,
        )
        .await?;
        Ok(CancelReferralPayload {
            referral,
            user_errors,
        })
    }

    /// Re-routes a REJECTED, EXPIRED, FAILED or CANCELLED referral to another service
    /// (sender): a new DRAFT linked to it through `reroutedFrom`.
    async fn reroute_referral(
        &self,
        ctx: &Context<'_>,
        input: RerouteReferralInput,
    ) -> GqlResult<RerouteReferralPayload> {
        let id = expect_id(&input.id, NodeKind::Referral)?;
        let receiver_service = expect_id(&input.receiver_service, NodeKind::Service)?;
        let db = ctx.db()?;
        let txn = db.begin().await?;
        let protection = ctx.protection()?;
        let result = service::reroute(
            &txn,
            protection,
            &ctx.actor()?,
            id,
            receiver_service,
            input.reason,
            input.idempotency_key,
        )
        .await?;
        txn.commit().await?;
        let (referral, user_errors) = split(result);
        Ok(RerouteReferralPayload {
            referral,
            user_errors,
        })
    }
}
