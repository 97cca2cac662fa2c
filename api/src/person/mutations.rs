//! Mutations on people and consents.

use super::consent::{self, ConsentData};
use super::data_subject;
use super::domain::Contacts;
use super::protection;
use super::service::{self, PersonData};
use super::types::{Consent, ContactChannel, EvidenceKind, Gender, LegalBasis, Person};
use crate::casework;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::mutation::{in_transaction, mutate, payload};
use crate::graphql::payload::{UserError, split, user_errors};
use crate::graphql::relay::expect_opt_id;
use crate::graphql::relay::{NodeKind, expect_id};
use crate::graphql::scalars::Date;
use crate::graphql::scalars::Json;
use crate::graphql::scalars::Timestamp;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

/// How to reach a person.
#[derive(InputObject, Clone, Default)]
pub struct PersonContactsInput {
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<String>,
}

impl From<PersonContactsInput> for Contacts {
    fn from(input: PersonContactsInput) -> Self {
        Self {
            email: input.email,
            phone: input.phone,
            address: input.address,
        }
    }
}

/// A person to register.
#[derive(InputObject)]
pub struct RegisterPersonInput {
    /// The organization registering the person (the caller's).
    pub organization: ID,
    /// Codice fiscale: 16 characters, check character verified.
    pub codice_fiscale: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth (not in the future).
    pub birth_date: Option<Date>,
    /// Gender as declared.
    pub gender: Option<Gender>,
    /// Citizenship, ISO 3166-1 alpha-2 (e.g. `IT`).
    pub citizenship: Option<String>,
    /// ISTAT code of the municipality of residence.
    pub residence_municipality_istat_code: Option<String>,
    /// Languages spoken, ISO 639-1 codes.
    #[graphql(default)]
    pub languages: Vec<String>,
    /// Email, phone and address.
    pub contacts: Option<PersonContactsInput>,
    /// Preferred contact channel (default EMAIL).
    pub contact_channel: Option<ContactChannel>,
}

/// Result of `registerPerson`.
#[derive(SimpleObject)]
pub struct RegisterPersonPayload {
    /// The organization's own record of the person: new, or the one it registered
    /// before with this codice fiscale. Other organizations' records are never shown.
    pub person: Option<Person>,
    /// True when the calling organization itself had registered this codice fiscale
    /// before (nothing changed). It says nothing about other organizations.
    #[graphql(
        deprecation = "Says only whether the caller's organization had registered the codice fiscale; compare `person.createdAt` instead. Will be removed."
    )]
    pub already_registered: bool,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Changes to a person. Omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdatePersonInput {
    /// The person.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth.
    pub birth_date: Option<Date>,
    /// Gender.
    pub gender: Option<Gender>,
    /// Citizenship, ISO 3166-1 alpha-2; empty clears it.
    pub citizenship: Option<String>,
    /// ISTAT code of the municipality of residence; empty clears it.
    pub residence_municipality_istat_code: Option<String>,
    /// Languages (replaces the list).
    pub languages: Option<Vec<String>>,
    /// Contacts (replaces all of them).
    pub contacts: Option<PersonContactsInput>,
    /// Preferred contact channel.
    pub contact_channel: Option<ContactChannel>,
}

/// The person whose personal data to erase.
#[derive(InputObject)]
pub struct ErasePersonInput {
    /// The person.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT (not checked
    /// once the person is erased: erasing again changes nothing).
    pub expected_version: i32,
}

/// Result of `erasePerson`.
#[derive(SimpleObject)]
pub struct ErasePersonPayload {
    /// The person, with the personal fields now null.
    pub person: Option<Person>,
    /// Problems with the input.
    pub user_errors: Vec<UserError>,
}

/// A consent to record.
#[derive(InputObject)]
pub struct RecordConsentInput {
    /// The person.
    pub person: ID,
    /// What the data may be used for.
    pub purpose: String,
    /// Legal basis.
    pub legal_basis: LegalBasis,
    /// Organizations the data may be shared with.
    #[graphql(default)]
    pub recipients: Vec<ID>,
    /// A protocol whose signatories may receive the data.
    pub protocol: Option<ID>,
    /// When it was granted.
    pub granted_at: Timestamp,
    /// When it expires (after `grantedAt`).
    pub expires_at: Option<Timestamp>,
    /// Kind of evidence.
    pub evidence_kind: EvidenceKind,
    /// Reference to the evidence.
    pub evidence: String,
}

/// The consent to withdraw.
#[derive(InputObject)]
pub struct WithdrawConsentInput {
    /// The consent.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
}

/// Result of `withdrawConsent`.
#[derive(SimpleObject)]
pub struct WithdrawConsentPayload {
    /// The consent, now withdrawn; null when there are user errors.
    pub consent: Option<Consent>,
    /// How many draft referrals of the person were cancelled.
    pub cancelled_draft_referrals: i32,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

payload! {
    UpdatePersonPayload("updatePerson") { person: Person, "The person after the change" }
    RecordConsentPayload("recordConsent") { consent: Consent, "The consent" }
}

/// Mutations on people and consents.
#[derive(Default)]
pub struct PersonMutations;

#[Object]
impl PersonMutations {
    /// Registers a person for an organization: its OPERATOR or ORG_ADMIN, or its client
    /// with `persons:write`. The record is the organization's own: registering a
    /// codice fiscale it already registered returns that record; whether other
    /// organizations know the person changes nothing and shows nothing.
    async fn register_person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RegisterPersonInput,
    ) -> GqlResult<RegisterPersonPayload> {
        let organization = expect_id(&input.organization, NodeKind::Organization)?;
        let data = PersonData {
            given_name: Some(input.given_name),
            family_name: Some(input.family_name),
            birth_date: input.birth_date.map(|d| d.0),
            gender: input.gender.map(Into::into),
            citizenship: input.citizenship,
            residence_municipality_istat_code: input.residence_municipality_istat_code,
            languages: Some(input.languages),
            contacts: input.contacts.map(Into::into),
            contact_channel: input.contact_channel.map(Into::into),
        };
        let protection = ctx.protection()?;
        let codice_fiscale = input.codice_fiscale;
        let result = in_transaction(ctx, async |db, actor| {
            service::register(db, protection, actor, organization, &codice_fiscale, data).await
        })
        .await?;
        Ok(match result {
            Ok(registered) => RegisterPersonPayload {
                person: Some(registered.person.into()),
                already_registered: registered.already_registered,
                user_errors: Vec::new(),
            },
            Err(errors) => RegisterPersonPayload {
                person: None,
                already_registered: false,
                user_errors: user_errors(errors),
            },
        })
    }

    /// Changes the caller's organization's own record of a person.
    async fn update_person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdatePersonInput,
    ) -> GqlResult<UpdatePersonPayload> {
        let id = expect_id(&input.id, NodeKind::Person)?;
        let data = PersonData {
            given_name: input.given_name,
            family_name: input.family_name,
            birth_date: input.birth_date.map(|d| d.0),
            gender: input.gender.map(Into::into),
            citizenship: input.citizenship,
            residence_municipality_istat_code: input.residence_municipality_istat_code,
            languages: input.languages,
            contacts: input.contacts.map(Into::into),
            contact_channel: input.contact_channel.map(Into::into),
        };
        let protection = ctx.protection()?;
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::update(db, protection, actor, id, expected, data).await
        })
        .await
    }

    /// Erases the caller's organization's own record of a person irreversibly (right
    /// to erasure): every personal value (codice fiscale, names, contacts, birth date,
    /// gender, citizenship, residence, languages) and all free text of its referrals,
    /// their events and its consents. Only coded anonymous facts stay (states, dates,
    /// services, need and reason codes, outcomes). Idempotent. Its OPERATOR or
    /// ORG_ADMIN (or client with `persons:write`).
    async fn erase_person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: ErasePersonInput,
    ) -> GqlResult<ErasePersonPayload> {
        let id = expect_id(&input.id, NodeKind::Person)?;
        let expected = input.expected_version;
        let person = in_transaction(ctx, async |db, actor| {
            protection::erase(db, actor, id, expected).await
        })
        .await?;
        Ok(ErasePersonPayload {
            person: Some(person.into()),
            user_errors: Vec::new(),
        })
    }

    /// Records a consent (or another legal basis) to share a person's data with
    /// organizations or a protocol's signatories, on the caller's organization's own
    /// record of the person: its OPERATOR or ORG_ADMIN (or client with
    /// `persons:write`). The evidence is encrypted at rest.
    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RecordConsentInput,
    ) -> GqlResult<RecordConsentPayload> {
        let person = expect_id(&input.person, NodeKind::Person)?;
        let recipients = input
            .recipients
            .iter()
            .map(|id| expect_id(id, NodeKind::Organization))
            .collect::<Result<Vec<_>, _>>()?;
        let protocol = expect_opt_id(input.protocol.as_ref(), NodeKind::Protocol)?;
        let data = ConsentData {
            person,
            purpose: input.purpose,
            legal_basis: input.legal_basis.into(),
            recipients,
            protocol,
            granted_at: input.granted_at.into(),
            expires_at: input.expires_at.map(Into::into),
            evidence_kind: input.evidence_kind.into(),
            evidence: input.evidence,
        };
        let protection = ctx.protection()?;
        mutate(ctx, async |db, actor| {
            consent::record(db, protection, actor, data).await
        })
        .await
    }

    /// Withdraws a consent of the caller's organization's own record of the person; the
    /// person's draft referrals are cancelled in the same change. Its OPERATOR or
    /// ORG_ADMIN (or client with `persons:write`).
    async fn withdraw_consent(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: WithdrawConsentInput,
    ) -> GqlResult<WithdrawConsentPayload> {
        let id = expect_id(&input.id, NodeKind::Consent)?;
        let expected = input.expected_version;
        let result = in_transaction(ctx, async |db, actor| {
            casework::withdraw_consent(db, actor, id, expected).await
        })
        .await?;
        Ok(match result {
            Ok((consent, cancelled)) => WithdrawConsentPayload {
                consent: Some(consent.into()),
                cancelled_draft_referrals: i32::try_from(cancelled).unwrap_or(i32::MAX),
                user_errors: Vec::new(),
            },
            Err(errors) => WithdrawConsentPayload {
                consent: None,
                cancelled_draft_referrals: 0,
                user_errors: user_errors(errors),
            },
        })
    }

    /// Answers a data subject's request for access and portability across the whole
    /// network: every organization's record of the codice fiscale, with consents,
    /// referrals, events and access logs. The regional DATA_PROTECTION_OFFICER only,
    /// with a stated reason; audited and access-logged.
    async fn export_data_subject(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: DataSubjectRequestInput,
    ) -> GqlResult<ExportDataSubjectPayload> {
        let protection = ctx.protection()?;
        let request = input.into();
        let result = in_transaction(ctx, async |db, actor| {
            data_subject::export(db, protection, actor, request).await
        })
        .await?;
        let (data, user_errors) = split(result);
        Ok(ExportDataSubjectPayload {
            data: data.map(Json),
            user_errors,
        })
    }

    /// Answers a data subject's request for erasure across the whole network: every
    /// organization's record of the codice fiscale is erased as by `erasePerson`. The
    /// regional DATA_PROTECTION_OFFICER only, with a stated reason; audited.
    async fn erase_data_subject(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: DataSubjectRequestInput,
    ) -> GqlResult<EraseDataSubjectPayload> {
        let protection = ctx.protection()?;
        let request = input.into();
        let result = in_transaction(ctx, async |db, actor| {
            data_subject::erase(db, protection, actor, request).await
        })
        .await?;
        let (erased, user_errors) = split::<u64, u64>(result);
        Ok(EraseDataSubjectPayload {
            erased_records: erased.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            user_errors,
        })
    }
}

/// Input of `exportDataSubject` and `eraseDataSubject`.
#[derive(InputObject)]
pub struct DataSubjectRequestInput {
    /// The person's codice fiscale.
    pub codice_fiscale: String,
    /// Why: the request's reference (e.g. its protocol number). It is kept in the audit
    /// log: no personal data here.
    pub reason: String,
}

impl From<DataSubjectRequestInput> for data_subject::Request {
    fn from(input: DataSubjectRequestInput) -> Self {
        Self {
            codice_fiscale: input.codice_fiscale,
            reason: input.reason,
        }
    }
}

/// Result of `exportDataSubject`.
#[derive(SimpleObject)]
pub struct ExportDataSubjectPayload {
    /// Every record of the person across the network, decrypted (`{ records: [...] }`).
    pub data: Option<Json>,
    /// Problems with the input; nothing was read when there are any.
    pub user_errors: Vec<UserError>,
}

/// Result of `eraseDataSubject`.
#[derive(SimpleObject)]
pub struct EraseDataSubjectPayload {
    /// How many records were erased now (already erased ones are not counted).
    pub erased_records: Option<i32>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}
