//! GraphQL types of people, consents and the access log.

use super::service::{self, PersonalField};
use crate::crypto::DataProtection;
use crate::error::GqlResult;
use crate::graphql::actor;
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Date;
use crate::loaders::{Loaders, OrganizationById, ProtocolById, TerritoryById};
use crate::organization::types::Organization;
use crate::protocol::types::Protocol;
use crate::territory::types::Territory;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{consent, person, person_access};
use sea_orm::DatabaseConnection;
use std::sync::Arc;

macro_rules! person_enum {
    ($(#[$meta:meta])* $name:ident => $stored:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl From<$stored> for $name {
            fn from(value: $stored) -> Self {
                match value {
                    $(<$stored>::$variant => Self::$variant,)+
                }
            }
        }

        impl From<$name> for $stored {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => Self::$variant,)+
                }
            }
        }
    };
}

person_enum!(
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

person_enum!(
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

person_enum!(
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

person_enum!(
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

/// A person referred between services. Personal fields are encrypted at rest, visible
/// only to the organizations involved with the person, and every read of them is
/// logged; they are null once the person is erased.
#[derive(Clone, Debug)]
pub struct Person(pub person::Model);

impl From<person::Model> for Person {
    fn from(model: person::Model) -> Self {
        Self(model)
    }
}

impl Person {
    /// Reads a personal field: the involvement check is batched per request and the read
    /// is logged with the request's other reads in one statement (or at once where no
    /// collector is installed, as on websockets).
    async fn personal(&self, ctx: &Context<'_>, field: PersonalField) -> GqlResult<Option<String>> {
        let actor = actor(ctx);
        let organization = service::acting_organization(&actor.viewer)?;
        let key = crate::loaders::InvolvedWith {
            person: self.0.id,
            organization,
        };
        let involved = ctx
            .data_unchecked::<Loaders>()
            .0
            .load_one(key)
            .await?
            .unwrap_or(false);
        if !involved {
            return Err(crate::auth::policy::deny(
                &actor.viewer,
                "only organizations involved with the person may see it",
            )
            .into());
        }
        let entry = service::access_entry(&actor, self.0.id, field.name(), "read");
        match ctx.data_opt::<Arc<crate::person::access::AccessCollector>>() {
            Some(collector) => collector.push(entry),
            None => {
                let db = ctx.data_unchecked::<DatabaseConnection>();
                sea_orm::ActiveModelTrait::insert(entry, db).await?;
            }
        }
        let protection = ctx.data_unchecked::<Arc<DataProtection>>();
        Ok(service::decrypt_field(protection, &self.0, field)?)
    }
}

/// A person referred between services. Personal fields are encrypted at rest, visible
/// only to the organizations involved with the person, and every read of them is
/// logged; they are null once the person is erased.
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
    /// Date of birth.
    async fn birth_date(&self) -> Option<Date> {
        self.0.birth_date.map(Date)
    }
    /// Gender as declared.
    async fn gender(&self) -> Option<Gender> {
        self.0.gender.map(Into::into)
    }
    /// Citizenship (ISO 3166-1 alpha-2).
    async fn citizenship(&self) -> Option<&str> {
        self.0.citizenship.as_deref()
    }
    /// Municipality of residence.
    async fn residence_municipality(&self, ctx: &Context<'_>) -> GqlResult<Option<Territory>> {
        let Some(id) = self.0.residence_municipality_id else {
            return Ok(None);
        };
        let loaders = ctx.data_unchecked::<Loaders>();
        Ok(loaders
            .0
            .load_one(TerritoryById(id))
            .await?
            .map(Territory::from))
    }
    /// Languages spoken (ISO 639-1 codes).
    async fn languages(&self) -> Vec<String> {
        self.0
            .languages
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
    /// Preferred contact channel.
    async fn contact_channel(&self) -> ContactChannel {
        self.0.contact_channel.into()
    }
    /// The organization that registered the person first.
    async fn registered_by(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        let loaders = ctx.data_unchecked::<Loaders>();
        Ok(loaders
            .0
            .load_one(OrganizationById(self.0.registered_by_organization_id))
            .await?
            .map(Organization::from))
    }
    /// When the personal data was erased (null while it is kept).
    async fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.0.erased_at
    }
    /// When the person was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The person's consents, newest first.
    async fn consents(&self, ctx: &Context<'_>) -> GqlResult<Vec<Consent>> {
        let db = ctx.data_unchecked::<DatabaseConnection>();
        service::authorize(db, &actor(ctx).viewer, self.0.id).await?;
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
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let ids = super::consent::recipients_of(db, self.0.id).await?;
        let loaders = ctx.data_unchecked::<Loaders>();
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
        let loaders = ctx.data_unchecked::<Loaders>();
        Ok(loaders
            .0
            .load_one(ProtocolById(id))
            .await?
            .map(Protocol::from))
    }
    /// When it was granted.
    async fn granted_at(&self) -> DateTime<Utc> {
        self.0.granted_at
    }
    /// When it expires (null: no expiry).
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// When it was withdrawn (null while in force).
    async fn withdrawn_at(&self) -> Option<DateTime<Utc>> {
        self.0.withdrawn_at
    }
    /// Kind of evidence.
    async fn evidence_kind(&self) -> EvidenceKind {
        self.0.evidence_kind.into()
    }
    /// Reference to the evidence.
    async fn evidence(&self) -> &str {
        &self.0.evidence
    }
    /// The organization that recorded it.
    async fn recorded_by(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        let loaders = ctx.data_unchecked::<Loaders>();
        Ok(loaders
            .0
            .load_one(OrganizationById(self.0.recorded_by_organization_id))
            .await?
            .map(Organization::from))
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
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    /// Token subject of the reader.
    async fn actor_subject(&self) -> &str {
        &self.0.actor_subject
    }
    /// Global ID of the organization the reader acted for.
    async fn actor_organization_id(&self) -> Option<ID> {
        self.0
            .actor_organization_id
            .map(|id| to_global_id(NodeKind::Organization, id))
    }
    /// Global ID of the person read.
    async fn person_id(&self) -> ID {
        to_global_id(NodeKind::Person, self.0.person_id)
    }
    /// Names of the fields read.
    async fn fields(&self) -> Vec<String> {
        self.0.fields.split(',').map(str::to_owned).collect()
    }
    /// Why: `read` or `export`.
    async fn purpose(&self) -> &str {
        &self.0.purpose
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
