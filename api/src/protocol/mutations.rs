//! Protocol mutations: the lifecycle of protocols (regional administration) and the
//! adherence of organizations (invite, sign, withdraw).

use super::service::{self, Amendment, NewProtocol};
use super::signatory::{self, Signature};
use super::types::{Protocol, Signatory};
use crate::error::{AppResult, GqlResult};
use crate::graphql::enums::SignatoryRole;
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::relay::expect_opt_id;
use crate::graphql::relay::{NodeKind, expect_id, expect_key};
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, InputObject, Object};
use uuid::Uuid;

/// A new protocol, created as a DRAFT, version 1.
#[derive(InputObject)]
pub struct CreateProtocolInput {
    /// Title (at most 500 characters).
    pub title: String,
    /// Summary of the protocol.
    pub description: Option<String>,
    /// First day of validity.
    pub valid_from: Option<Date>,
    /// Last day of validity; not before `validFrom`.
    pub valid_to: Option<Date>,
    /// Where the document is published (http or https).
    pub document_url: Option<String>,
    /// SHA-256 of the document: 64 hexadecimal digits.
    pub document_sha256: Option<String>,
    /// Working days within which a signatory commits to answer a referral (1 to 90).
    pub response_time_days: i32,
    /// Territories the protocol covers: at least one.
    pub scope: Vec<ID>,
    /// The lead organization, invited as PROMOTER.
    pub lead: Option<ID>,
}

/// An amendment: a new DRAFT version of a protocol. Omitted fields are copied from the
/// amended version; an empty string clears an optional text.
#[derive(InputObject)]
pub struct CreateProtocolVersionInput {
    /// The protocol amended; the new version supersedes it. Give `id` (or, until 0.3, the deprecated `protocol`).
    pub id: Option<ID>,
    /// The protocol amended; the new version supersedes it.
    #[graphql(deprecation = "Use `id`. Removed in 0.3.")]
    pub protocol: Option<ID>,
    /// The `rowVersion` of the amended protocol you read; a stale one is refused with
    /// CONFLICT.
    pub expected_version: i32,
    /// New title (at most 500 characters).
    pub title: Option<String>,
    /// New summary.
    pub description: Option<String>,
    /// New first day of validity.
    pub valid_from: Option<Date>,
    /// New last day of validity.
    pub valid_to: Option<Date>,
    /// New document URL (http or https).
    pub document_url: Option<String>,
    /// SHA-256 of the new document: 64 hexadecimal digits.
    pub document_sha256: Option<String>,
    /// New response time in working days (1 to 90).
    pub response_time_days: Option<i32>,
    /// New territorial scope; the amended version's when omitted.
    pub scope: Option<Vec<ID>>,
}

/// Opens a DRAFT protocol for signature.
#[derive(InputObject)]
pub struct OpenProtocolForSignatureInput {
    /// The protocol.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
}

/// Puts a protocol open for signature in force.
#[derive(InputObject)]
pub struct PutProtocolInForceInput {
    /// The protocol.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
}

/// Terminates a protocol before the end of its validity.
#[derive(InputObject)]
pub struct TerminateProtocolInput {
    /// The protocol.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// Why it ends (at most 1000 characters); kept in the audit log.
    pub reason: String,
}

/// Invites an organization to a protocol.
#[derive(InputObject)]
pub struct InviteSignatoryInput {
    /// The protocol, DRAFT or OPEN_FOR_SIGNATURE.
    pub protocol: ID,
    /// The organization invited.
    pub organization: ID,
    /// Its role in the protocol.
    pub role: SignatoryRole,
}

/// Signs an invitation to a protocol on behalf of the invited organization.
#[derive(InputObject)]
pub struct SignProtocolInput {
    /// The invitation (signatory) signed. Give `id` (or, until 0.3, the deprecated `signatory`).
    pub id: Option<ID>,
    /// The invitation (signatory) signed.
    #[graphql(deprecation = "Use `id`. Removed in 0.3.")]
    pub signatory: Option<ID>,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// Name of the legal representative signing (at most 200 characters).
    pub signed_by_name: String,
    /// Title of the legal representative signing (at most 200 characters).
    pub signed_by_title: String,
    /// SHA-256 of the document signed; must be the protocol document's when it has one.
    pub document_sha256: String,
}

/// Withdraws an organization from a protocol.
#[derive(InputObject)]
pub struct WithdrawSignatoryInput {
    /// The signatory withdrawing. Give `id` (or, until 0.3, the deprecated `signatory`).
    pub id: Option<ID>,
    /// The signatory withdrawing.
    #[graphql(deprecation = "Use `id`. Removed in 0.3.")]
    pub signatory: Option<ID>,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// Why (at most 1000 characters); kept in the audit log.
    pub reason: String,
}

payload! {
    CreateProtocolPayload("createProtocol") { protocol: Protocol, "The new protocol" }
    CreateProtocolVersionPayload("createProtocolVersion") {
        protocol: Protocol, "The new version"
    }
    OpenProtocolForSignaturePayload("openProtocolForSignature") {
        protocol: Protocol, "The protocol after the change"
    }
    PutProtocolInForcePayload("putProtocolInForce") {
        protocol: Protocol, "The protocol after the change"
    }
    TerminateProtocolPayload("terminateProtocol") {
        protocol: Protocol, "The protocol after the change"
    }
    InviteSignatoryPayload("inviteSignatory") { signatory: Signatory, "The invitation" }
    SignProtocolPayload("signProtocol") { signatory: Signatory, "The signatory after signing" }
    WithdrawSignatoryPayload("withdrawSignatory") {
        signatory: Signatory, "The signatory after withdrawing"
    }
}

fn territories(ids: &[ID]) -> AppResult<Vec<Uuid>> {
    ids.iter()
        .map(|id| expect_id(id, NodeKind::Territory))
        .collect()
}

/// Protocol mutations.
#[derive(Default)]
pub struct ProtocolMutations;

#[Object]
impl ProtocolMutations {
    /// Creates a protocol as a DRAFT, version 1, inviting its lead organization as
    /// PROMOTER. REGIONAL_ADMIN only.
    async fn create_protocol(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateProtocolInput,
    ) -> GqlResult<CreateProtocolPayload> {
        let new = NewProtocol {
            title: input.title,
            description: input.description,
            valid_from: input.valid_from.map(|d| d.0),
            valid_to: input.valid_to.map(|d| d.0),
            document_url: input.document_url,
            document_sha256: input.document_sha256,
            response_time_days: input.response_time_days,
            scope: territories(&input.scope)?,
            lead: expect_opt_id(input.lead.as_ref(), NodeKind::Organization)?,
        };
        mutate(ctx, async |db, actor| service::create(db, actor, new).await).await
    }

    /// Amends a protocol: creates a new DRAFT version (version + 1) that supersedes it,
    /// with the same scope unless given; signatories are not copied and must be invited
    /// again. A protocol already amended cannot be amended again. REGIONAL_ADMIN only.
    async fn create_protocol_version(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateProtocolVersionInput,
    ) -> GqlResult<CreateProtocolVersionPayload> {
        let id = expect_key(
            input.id.as_ref(),
            input.protocol.as_ref(),
            "protocol",
            NodeKind::Protocol,
        )?;
        let expected = input.expected_version;
        let amendment = Amendment {
            title: input.title,
            description: input.description,
            valid_from: input.valid_from.map(|d| d.0),
            valid_to: input.valid_to.map(|d| d.0),
            document_url: input.document_url,
            document_sha256: input.document_sha256,
            response_time_days: input.response_time_days,
            scope: input.scope.as_deref().map(territories).transpose()?,
        };
        mutate(ctx, async |db, actor| {
            service::create_version(db, actor, id, expected, amendment).await
        })
        .await
    }

    /// Opens a DRAFT protocol for signature. REGIONAL_ADMIN only.
    async fn open_protocol_for_signature(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: OpenProtocolForSignatureInput,
    ) -> GqlResult<OpenProtocolForSignaturePayload> {
        let id = expect_id(&input.id, NodeKind::Protocol)?;
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::open_for_signature(db, actor, id, expected).await
        })
        .await
    }

    /// Puts a protocol OPEN_FOR_SIGNATURE in force; at least one organization must have
    /// signed it. The version it amends, if in force, is terminated. REGIONAL_ADMIN only.
    async fn put_protocol_in_force(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: PutProtocolInForceInput,
    ) -> GqlResult<PutProtocolInForcePayload> {
        let id = expect_id(&input.id, NodeKind::Protocol)?;
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::put_in_force(db, actor, id, expected).await
        })
        .await
    }

    /// Terminates a protocol IN_FORCE or OPEN_FOR_SIGNATURE. REGIONAL_ADMIN only.
    async fn terminate_protocol(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: TerminateProtocolInput,
    ) -> GqlResult<TerminateProtocolPayload> {
        let id = expect_id(&input.id, NodeKind::Protocol)?;
        let (expected, reason) = (input.expected_version, input.reason);
        mutate(ctx, async |db, actor| {
            service::terminate(db, actor, id, expected, &reason).await
        })
        .await
    }

    /// Invites an organization to a protocol DRAFT or OPEN_FOR_SIGNATURE (an organization
    /// that withdrew may be invited again): REGIONAL_ADMIN, or an ORG_ADMIN of the
    /// protocol's lead (PROMOTER) organization.
    async fn invite_signatory(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: InviteSignatoryInput,
    ) -> GqlResult<InviteSignatoryPayload> {
        let protocol = expect_id(&input.protocol, NodeKind::Protocol)?;
        let organization = expect_id(&input.organization, NodeKind::Organization)?;
        let role = input.role.into();
        mutate(ctx, async |db, actor| {
            signatory::invite(db, actor, protocol, organization, role).await
        })
        .await
    }

    /// Signs an invitation to a protocol OPEN_FOR_SIGNATURE or IN_FORCE, with the
    /// signer's name and title and the SHA-256 of the signed document: an ORG_ADMIN of
    /// the invited organization only.
    async fn sign_protocol(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: SignProtocolInput,
    ) -> GqlResult<SignProtocolPayload> {
        let id = expect_key(
            input.id.as_ref(),
            input.signatory.as_ref(),
            "signatory",
            NodeKind::Signatory,
        )?;
        let expected = input.expected_version;
        let signature = Signature {
            signed_by_name: input.signed_by_name,
            signed_by_title: input.signed_by_title,
            document_sha256: input.document_sha256,
        };
        mutate(ctx, async |db, actor| {
            signatory::sign(db, actor, id, expected, signature).await
        })
        .await
    }

    /// Withdraws an organization's adherence (INVITED or SIGNED) from a protocol: an
    /// ORG_ADMIN of that organization, or REGIONAL_ADMIN.
    async fn withdraw_signatory(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: WithdrawSignatoryInput,
    ) -> GqlResult<WithdrawSignatoryPayload> {
        let id = expect_key(
            input.id.as_ref(),
            input.signatory.as_ref(),
            "signatory",
            NodeKind::Signatory,
        )?;
        let (expected, reason) = (input.expected_version, input.reason);
        mutate(ctx, async |db, actor| {
            signatory::withdraw(db, actor, id, expected, &reason).await
        })
        .await
    }
}
