//! GraphQL types of people, consents, needs assessments and the access log.

use super::assessment::Assessment;
use super::decisions::RoutingDecision;
use super::privacy::{PersonalField, Reader};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::{AccessPurpose, mirror_enum};
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Date;
use crate::graphql::scalars::Timestamp;
use crate::loaders::{
    DecisionsOfAssessment, OrganizationById, PersonById, ProtocolById, TerritoryById,
};
use crate::organization::types::Organization;
use crate::privacy::access::{Access, Field};
use crate::protocol::types::Protocol;
use crate::taxonomy::types::Term;
use crate::territory::types::Territory;
use async_graphql::{Context, ID, Object, SimpleObject};
use entity::enums::Taxonomy;
use entity::{consent, person, person_access};

mirror_enum!(
    /// How a person prefers to be contacted.
    ContactChannel => entity::enums::ContactChannel {
        /// By email.
        Email,
        /// By phone call.
        Phone,
        /// By text message.
        Sms,
        /// By post.
        Post,
        /// In person, at the office.
        InPerson,
        /// The person asked not to be contacted.
        DoNotContact,
    }
);

mirror_enum!(
    /// Gender as the person declares it.
    Gender => entity::enums::Gender {
        /// Female.
        Female,
        /// Male.
        Male,
        /// Another gender.
        Other,
        /// The person prefers not to say.
        Undisclosed,
    }
);

mirror_enum!(
    /// Legal basis of processing personal data (GDPR art. 6).
    LegalBasis => entity::enums::LegalBasis {
        /// The person's consent.
        Consent,
        /// A legal obligation of the controller.
        LegalObligation,
        /// A task in the public interest.
        PublicTask,
    }
);

mirror_enum!(
    /// Evidence of a consent or legal basis.
    EvidenceKind => entity::enums::EvidenceKind {
        /// A signed document (its reference in `evidence`).
        Document,
        /// The operator attests the person's oral consent.
        OperatorAttestation,
    }
);

/// How to reach a person.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "PersonContacts")]
pub struct PersonContacts {
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<String>,
}

/// A person referred between services: one organization's record of them (see the
/// GraphQL description below and [`crate::privacy::access`]).
#[derive(Clone, Debug)]
pub struct Person(pub person::Model);

impl From<person::Model> for Person {
    fn from(model: person::Model) -> Self {
        Self(model)
    }
}

/// How this operation reads people's data (see [`Reader`]).
pub(crate) fn reader<'a>(ctx: &'a Context<'_>) -> GqlResult<Reader<'a>> {
    Ok(Reader {
        actor: ctx.actor()?,
        loaders: ctx.loaders()?,
        log: ctx.access_log(),
        protection: ctx.protection()?,
    })
}

impl Person {
    async fn access(&self, ctx: &Context<'_>) -> GqlResult<Access> {
        Ok(reader(ctx)?.access(self.0.id).await?)
    }

    async fn read(&self, ctx: &Context<'_>, field: Field, name: &str) -> GqlResult<bool> {
        Ok(reader(ctx)?.read(self.0.id, field, name).await?)
    }

    async fn personal(&self, ctx: &Context<'_>, field: PersonalField) -> GqlResult<Option<String>> {
        Ok(reader(ctx)?.personal(&self.0, field).await?)
    }
}

/// A person referred between services: one organization's record of them. Personal
/// fields are encrypted at rest and every read of them is logged. The organization
/// that registered the record sees all of it; the receiver of a referral sent for the
/// person sees the shared fields (names, codice fiscale, contacts, birth date,
/// residence, languages) while the referral is open and for a period after; gender,
/// citizenship and consents stay with the record's organization. Fields are null once
/// the person is erased.
#[Object]
impl Person {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Person, self.0.id)
    }
    /// Version of this record for optimistic concurrency.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// Codice fiscale (16 characters). Reading it is logged.
    async fn codice_fiscale(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        self.personal(ctx, PersonalField::CodiceFiscale).await
    }
    /// Given name. Reading it is logged.
    async fn given_name(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        self.personal(ctx, PersonalField::GivenName).await
    }
    /// Family name. Reading it is logged.
    async fn family_name(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        self.personal(ctx, PersonalField::FamilyName).await
    }
    /// Email, phone and address. Reading them is logged.
    async fn contacts(&self, ctx: &Context<'_>) -> GqlResult<Option<PersonContacts>> {
        let Some(json) = self.personal(ctx, PersonalField::Contacts).await? else {
            return Ok(None);
        };
        let contacts: super::domain::Contacts =
            serde_json::from_str(&json).map_err(crate::error::AppError::internal)?;
        Ok(Some(PersonContacts {
            email: contacts.email,
            phone: contacts.phone,
            address: contacts.address,
        }))
    }
    /// Date of birth. Reading it is logged.
    async fn birth_date(&self, ctx: &Context<'_>) -> GqlResult<Option<Date>> {
        let shown = self.read(ctx, Field::BirthDate, "birthDate").await?;
        Ok(self.0.birth_date.filter(|_| shown).map(Date))
    }
    /// Gender as declared (the record's organization only). Reading it is logged.
    async fn gender(&self, ctx: &Context<'_>) -> GqlResult<Option<Gender>> {
        let shown = self.read(ctx, Field::Gender, "gender").await?;
        Ok(self.0.gender.filter(|_| shown).map(Into::into))
    }
    /// Citizenship (ISO 3166-1 alpha-2; the record's organization only). Reading it is
    /// logged.
    async fn citizenship(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        let shown = self.read(ctx, Field::Citizenship, "citizenship").await?;
        Ok(self.0.citizenship.clone().filter(|_| shown))
    }
    /// Municipality of residence. Reading it is logged.
    async fn residence_municipality(&self, ctx: &Context<'_>) -> GqlResult<Option<Territory>> {
        let Some(id) = self.0.residence_municipality_id else {
            return Ok(None);
        };
        if !self
            .read(ctx, Field::Residence, "residenceMunicipality")
            .await?
        {
            return Ok(None);
        }
        ctx.loaders()?.one(TerritoryById(id)).await
    }
    /// Languages spoken (LANGUAGE terms, coded ISO 639-1). Reading them is logged.
    async fn languages(&self, ctx: &Context<'_>) -> GqlResult<Vec<Term>> {
        if !self.read(ctx, Field::Languages, "languages").await? {
            return Ok(Vec::new());
        }
        ctx.loaders()?
            .terms(Taxonomy::Language, self.0.languages.split_whitespace())
            .await
    }
    /// Preferred contact channel.
    async fn contact_channel(&self, ctx: &Context<'_>) -> GqlResult<ContactChannel> {
        self.access(ctx).await?;
        Ok(self.0.contact_channel.into())
    }
    /// The organization whose record this is (it registered the person).
    async fn registered_by(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        self.access(ctx).await?;
        ctx.loaders()?
            .one(OrganizationById(self.0.registered_by_organization_id))
            .await
    }
    /// When the personal data was erased (null while it is kept).
    async fn erased_at(&self, ctx: &Context<'_>) -> GqlResult<Option<Timestamp>> {
        self.access(ctx).await?;
        Ok(self.0.erased_at.map(Timestamp))
    }
    /// When the person was registered.
    async fn created_at(&self, ctx: &Context<'_>) -> GqlResult<Timestamp> {
        self.access(ctx).await?;
        Ok(Timestamp(self.0.created_at))
    }
    /// The caller's organization's needs assessments of the person, newest first (only
    /// the organization that holds the record reads them: empty for a receiver).
    async fn needs_assessments(&self, ctx: &Context<'_>) -> GqlResult<Vec<NeedsAssessment>> {
        if !self
            .read(ctx, Field::Assessments, "needsAssessments")
            .await?
        {
            return Ok(Vec::new());
        }
        let found = ctx
            .loaders()?
            .0
            .load_one(crate::loaders::AssessmentsOfPerson(self.0.id))
            .await?;
        Ok(found
            .unwrap_or_default()
            .into_iter()
            .map(NeedsAssessment)
            .collect())
    }
    /// The person's consents, newest first (the record's organization only; empty for
    /// a referral's receiver).
    async fn consents(&self, ctx: &Context<'_>) -> GqlResult<Vec<Consent>> {
        if !self.read(ctx, Field::Consents, "consents").await? {
            return Ok(Vec::new());
        }
        let db = ctx.db()?;
        Ok(super::consent::of_person(db, self.0.id)
            .await?
            .into_iter()
            .map(Consent::from)
            .collect())
    }
}

crate::connection!(PersonConnection, PersonEdge, Person, "people");

/// A consent (or another legal basis) to share a person's data with organizations.
#[derive(Clone, Debug)]
pub struct Consent(pub consent::Model);

impl From<consent::Model> for Consent {
    fn from(model: consent::Model) -> Self {
        Self(model)
    }
}

/// A consent (or another legal basis) to share a person's data with organizations.
#[Object]
impl Consent {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Consent, self.0.id)
    }
    /// Version of this record for optimistic concurrency.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// What the data may be used for.
    async fn purpose(&self) -> &str {
        &self.0.purpose
    }
    /// Legal basis.
    async fn legal_basis(&self) -> LegalBasis {
        self.0.legal_basis.into()
    }
    /// Organizations the data may be shared with.
    async fn recipients(&self, ctx: &Context<'_>) -> GqlResult<Vec<Organization>> {
        let db = ctx.db()?;
        let ids = super::consent::recipients_of(db, self.0.id).await?;
        let loaders = ctx.loaders()?;
        let found = loaders
            .0
            .load_many(ids.iter().copied().map(OrganizationById))
            .await?;
        Ok(ids
            .iter()
            .filter_map(|id| found.get(&OrganizationById(*id)).cloned())
            .map(Organization::from)
            .collect())
    }
    /// A protocol whose signatories may receive the data.
    async fn protocol(&self, ctx: &Context<'_>) -> GqlResult<Option<Protocol>> {
        let Some(id) = self.0.protocol_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(ProtocolById(id)).await
    }
    /// When it was granted.
    async fn granted_at(&self) -> Timestamp {
        Timestamp(self.0.granted_at)
    }
    /// When it expires (null: no expiry).
    async fn expires_at(&self) -> Option<Timestamp> {
        self.0.expires_at.map(Timestamp)
    }
    /// When it was withdrawn (null while in force).
    async fn withdrawn_at(&self) -> Option<Timestamp> {
        self.0.withdrawn_at.map(Timestamp)
    }
    /// Kind of evidence.
    async fn evidence_kind(&self) -> EvidenceKind {
        self.0.evidence_kind.into()
    }
    /// Reference to the evidence (encrypted at rest; reading it is logged; empty once
    /// the person is erased).
    async fn evidence(&self, ctx: &Context<'_>) -> GqlResult<String> {
        reader(ctx)?
            .log_read(self.0.person_id, "consent.evidence")
            .await?;
        let protection = ctx.protection()?;
        Ok(protection.decrypt_text(&self.0.evidence)?)
    }
    /// The organization that recorded it.
    async fn recorded_by(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.recorded_by_organization_id))
            .await
    }
}

/// One read of a person's personal data: who, for which organization, which fields,
/// why, when, in which request.
#[derive(Clone, Debug)]
pub struct PersonAccess(pub person_access::Model);

impl From<person_access::Model> for PersonAccess {
    fn from(model: person_access::Model) -> Self {
        Self(model)
    }
}

/// One read of a person's personal data: who, for which organization, which fields,
/// why, when, in which request.
#[Object]
impl PersonAccess {
    /// When the data was read.
    async fn occurred_at(&self) -> Timestamp {
        Timestamp(self.0.occurred_at)
    }
    /// Token subject of the reader.
    async fn actor_subject(&self) -> &str {
        &self.0.actor_subject
    }
    /// Global ID of the organization the reader acted for.
    #[graphql(deprecation = "Use `actorOrganization { id }`. Removed in 0.3.")]
    async fn actor_organization_id(&self) -> Option<ID> {
        self.0
            .actor_organization_id
            .map(|id| to_global_id(NodeKind::Organization, id))
    }
    /// The organization the reader acted for.
    async fn actor_organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        let Some(id) = self.0.actor_organization_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(OrganizationById(id)).await
    }
    /// Global ID of the person read.
    async fn person_id(&self) -> ID {
        to_global_id(NodeKind::Person, self.0.person_id)
    }
    /// Names of the fields read.
    async fn fields(&self) -> Vec<String> {
        self.0.fields.split(',').map(str::to_owned).collect()
    }
    /// Why: a read through the API or an export for the person.
    async fn purpose(&self) -> GqlResult<AccessPurpose> {
        AccessPurpose::from_stored(&self.0.purpose)
    }
    /// Id of the HTTP request.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
}

crate::connection!(
    PersonAccessConnection,
    PersonAccessEdge,
    PersonAccess,
    "reads of personal data"
);

pub use crate::graphql::enums::Severity;

/// One need of an assessment.
#[derive(SimpleObject, Clone, Debug)]
pub struct AssessedNeed {
    /// The NEED term code.
    pub need: String,
    /// How severe it is.
    pub severity: Severity,
}

/// A needs assessment: what a person needs, recorded by an organization on its own
/// record of the person. Only that organization reads it (a referral's receiver reads
/// the needs on the referral instead). Reading the notes is logged.
#[derive(Clone, Debug)]
pub struct NeedsAssessment(pub Assessment);

impl From<Assessment> for NeedsAssessment {
    fn from(assessment: Assessment) -> Self {
        Self(assessment)
    }
}

/// A needs assessment of a person by the organization that holds the record: needs with
/// their severity, target groups, notes. Only that organization reads it.
#[Object]
impl NeedsAssessment {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::NeedsAssessment, self.0.row.id)
    }
    /// The person assessed (the organization's own record).
    async fn person(&self, ctx: &Context<'_>) -> GqlResult<Option<Person>> {
        let row = ctx
            .loaders()?
            .0
            .load_one(PersonById(self.0.row.person_id))
            .await?;
        Ok(row.map(Person))
    }
    /// The assessing organization.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.row.organization_id))
            .await
    }
    /// The operator (or partner system) that assessed or last revised it.
    async fn assessor(&self) -> &str {
        &self.0.row.assessor
    }
    /// The day of the assessment.
    async fn assessed_on(&self) -> Date {
        Date(self.0.row.assessed_on)
    }
    /// The needs, most severe first.
    async fn needs(&self) -> Vec<AssessedNeed> {
        self.0
            .needs
            .iter()
            .map(|need| AssessedNeed {
                need: need.need_code.clone(),
                severity: need.severity.into(),
            })
            .collect()
    }
    /// TARGET_GROUP term codes the person belongs to.
    async fn target_groups(&self) -> Vec<String> {
        self.0
            .row
            .target_groups
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
    /// Notes (encrypted at rest; reading them is logged; null once the person is
    /// erased).
    async fn notes(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        let Some(notes) = &self.0.row.notes_enc else {
            return Ok(None);
        };
        reader(ctx)?
            .log_read(self.0.row.person_id, "needsAssessment.notes")
            .await?;
        Ok(Some(ctx.protection()?.decrypt_text(notes)?))
    }
    /// What the routing rules decided when it was recorded or revised, oldest first.
    async fn routing_decisions(&self, ctx: &Context<'_>) -> GqlResult<Vec<RoutingDecision>> {
        let rows = ctx
            .loaders()?
            .0
            .load_one(DecisionsOfAssessment(self.0.row.id))
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(RoutingDecision)
            .collect())
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`.
    async fn row_version(&self) -> i32 {
        self.0.row.row_version
    }
    /// When it was recorded.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.row.created_at)
    }
    /// When it last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.row.updated_at)
    }
}
