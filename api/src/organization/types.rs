//! GraphQL types of organizations.

use crate::catalogue::types::{
    Service, ServiceConnection, connection_reads_whole_rows, reads_whole_rows,
};
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::{OrganizationKind, Sector};
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Date;
use crate::graphql::scalars::Timestamp;
use crate::loaders::{
    ContactsOfOrganization, ListedServicesOfOrganization, LocationsOfOrganization,
    OrganizationById, ServicesOfOrganization, SignatoriesOfOrganization, SuccessionsOfOrganization,
    TerritoryById,
};
use crate::pagination::{Cursor, SortKey};
use crate::protocol::types::Signatory;
use crate::territory::types::Territory;
use async_graphql::{Context, ID, Object};
use entity::{contact, location, organization, organization_succession, service};

/// A public or private body of the network: employment centre, social service,
/// health-and-social consortium, third-sector body, training agency, ...
#[derive(Clone, Debug)]
pub struct Organization(pub organization::Model);

impl From<organization::Model> for Organization {
    fn from(model: organization::Model) -> Self {
        Self(model)
    }
}

/// A public or private body of the network: employment centre, social service,
/// health-and-social consortium, third-sector body, training agency, ...
#[Object]
impl Organization {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Organization, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// Official name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Kind of body.
    async fn kind(&self) -> OrganizationKind {
        self.0.kind.into()
    }
    /// Public, private or third sector.
    async fn sector(&self) -> Sector {
        self.0.sector.into()
    }
    /// What the organization does, in Italian.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The organization's text in one language: the `language` asked for, else the first
    /// of the request's `Accept-Language` languages it has a text in, else the original
    /// Italian; each text says which language it is in.
    async fn localized(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "ISO 639-1 code of the language wanted (e.g. `ar`); by default the languages of the request's `Accept-Language` header. Italian, the original, serves where the language has no text."
        )]
        language: Option<String>,
    ) -> GqlResult<crate::translation::types::LocalizedOrganization> {
        let localization =
            crate::translation::types::Localization::load(ctx, self.0.id, language.as_deref())
                .await?;
        Ok(crate::translation::types::LocalizedOrganization(
            self.0.clone(),
            localization,
        ))
    }
    /// The translations of the organization's text, one per language, by language code
    /// (the original Italian text is the organization's own fields).
    async fn translations(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<crate::translation::types::Translation>> {
        crate::translation::types::translations_of(ctx, self.0.id).await
    }
    /// Codice fiscale (check digit validated).
    async fn codice_fiscale(&self) -> Option<&str> {
        self.0.codice_fiscale.as_deref()
    }
    /// Partita IVA (check digit validated).
    async fn partita_iva(&self) -> Option<&str> {
        self.0.partita_iva.as_deref()
    }
    /// Code in the index of public administrations (IPA).
    async fn ipa_code(&self) -> Option<&str> {
        self.0.ipa_code.as_deref()
    }
    /// Number in the national register of the third sector (RUNTS).
    async fn runts_number(&self) -> Option<&str> {
        self.0.runts_number.as_deref()
    }
    /// Website.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }
    /// General email address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// General phone number.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// Day the organization was dissolved, if it was.
    async fn dissolved_on(&self) -> Option<Date> {
        self.0.dissolved_on.map(Date)
    }
    /// Sites of the organization, by name.
    #[graphql(
        deprecation = "Unbounded list: use `locationsConnection`, which pages. Will be removed.",
        complexity = "crate::graphql::connection::list_cost(child_complexity)"
    )]
    async fn locations(&self, ctx: &Context<'_>) -> GqlResult<Vec<Location>> {
        ctx.loaders()?.all(LocationsOfOrganization(self.0.id)).await
    }
    /// Sites of the organization, by name, a page at a time (`first`/`after` or
    /// `last`/`before`, at most 100; costed like a root connection).
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn locations_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return at most this many items from the start of the list (1 to 100), with `after`."
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the items after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
        #[graphql(
            desc = "Return at most this many items from the end of the list (1 to 100), with `before`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Return the items before this cursor (an edge's `cursor`).")]
        before: Option<String>,
    ) -> GqlResult<LocationConnection> {
        let (page, total) = ctx
            .loaders()?
            .page(
                LocationsOfOrganization(self.0.id),
                |l: &location::Model| Cursor::new(SortKey::Text(l.name.clone()), l.id),
                (first, after, last, before),
            )
            .await?;
        Ok(LocationConnection::from_page(page, total))
    }
    /// Contact people.
    async fn contacts(&self, ctx: &Context<'_>) -> GqlResult<Vec<Contact>> {
        ctx.loaders()?.all(ContactsOfOrganization(self.0.id)).await
    }
    /// Services the organization provides, by name.
    #[graphql(
        deprecation = "Unbounded list: use `servicesConnection`, which pages. Will be removed.",
        complexity = "crate::graphql::connection::list_cost(child_complexity)"
    )]
    async fn services(&self, ctx: &Context<'_>) -> GqlResult<Vec<Service>> {
        let loaders = ctx.loaders()?;
        if reads_whole_rows(&ctx.look_ahead()) {
            return loaders.all(ServicesOfOrganization(self.0.id)).await;
        }
        let rows = loaders
            .0
            .load_one(ListedServicesOfOrganization(self.0.id))
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(Service::listed)
            .collect())
    }
    /// Services the organization provides, by name, a page at a time
    /// (`first`/`after` or `last`/`before`, at most 100; costed like a root
    /// connection). Its cursors are those of `services(orderBy: NAME)`.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, last, child_complexity)")]
    async fn services_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return at most this many items from the start of the list (1 to 100), with `after`."
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the items after this cursor (an edge's `cursor`).")] after: Option<
            String,
        >,
        #[graphql(
            desc = "Return at most this many items from the end of the list (1 to 100), with `before`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Return the items before this cursor (an edge's `cursor`).")]
        before: Option<String>,
    ) -> GqlResult<ServiceConnection> {
        let loaders = ctx.loaders()?;
        let cursor = |s: &service::Model| Cursor::new(SortKey::Text(s.search_name.clone()), s.id);
        let relay = (first, after, last, before);
        let whole_rows = connection_reads_whole_rows(&ctx.look_ahead());
        let (page, total) = if whole_rows {
            loaders
                .page(ServicesOfOrganization(self.0.id), cursor, relay)
                .await?
        } else {
            loaders
                .page(ListedServicesOfOrganization(self.0.id), cursor, relay)
                .await?
        };
        Ok(ServiceConnection::from_rows(page, total, whole_rows))
    }
    /// The organization's adherences to protocols (invited, signed or withdrawn).
    #[graphql(
        deprecation = "Use `signatures`: it returns signatories, not protocols. Removed in 0.3."
    )]
    async fn protocols(&self, ctx: &Context<'_>) -> GqlResult<Vec<Signatory>> {
        ctx.loaders()?
            .all(SignatoriesOfOrganization(self.0.id))
            .await
    }
    /// The organization's adherences to protocols (invited, signed or withdrawn), each
    /// with its protocol.
    async fn signatures(&self, ctx: &Context<'_>) -> GqlResult<Vec<Signatory>> {
        ctx.loaders()?
            .all(SignatoriesOfOrganization(self.0.id))
            .await
    }
    /// Successions this organization took part in: the bodies it took over, and the
    /// bodies that took over its duties.
    async fn successions(&self, ctx: &Context<'_>) -> GqlResult<Vec<Succession>> {
        ctx.loaders()?
            .all(SuccessionsOfOrganization(self.0.id))
            .await
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

crate::connection!(
    OrganizationConnection,
    OrganizationEdge,
    Organization,
    "organizations"
);
crate::connection!(LocationConnection, LocationEdge, Location, "sites");

/// A site of an organization.
#[derive(Clone, Debug)]
pub struct Location(pub location::Model);

impl From<location::Model> for Location {
    fn from(model: location::Model) -> Self {
        Self(model)
    }
}

/// A site of an organization.
#[Object]
impl Location {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Location, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// Name of the site.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The site's text in one language: the `language` asked for, else the first
    /// of the request's `Accept-Language` languages it has a text in, else the original
    /// Italian; each text says which language it is in.
    async fn localized(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "ISO 639-1 code of the language wanted (e.g. `ar`); by default the languages of the request's `Accept-Language` header. Italian, the original, serves where the language has no text."
        )]
        language: Option<String>,
    ) -> GqlResult<crate::translation::types::LocalizedLocation> {
        let localization =
            crate::translation::types::Localization::load(ctx, self.0.id, language.as_deref())
                .await?;
        Ok(crate::translation::types::LocalizedLocation(
            self.0.clone(),
            localization,
        ))
    }
    /// The translations of the site's text, one per language, by language code
    /// (the original Italian text is the site's own fields).
    async fn translations(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<crate::translation::types::Translation>> {
        crate::translation::types::translations_of(ctx, self.0.id).await
    }
    /// Street address.
    async fn address(&self) -> &str {
        &self.0.address
    }
    /// Postal code (CAP).
    async fn postal_code(&self) -> Option<&str> {
        self.0.postal_code.as_deref()
    }
    /// Latitude (WGS 84).
    async fn latitude(&self) -> Option<f64> {
        self.0.latitude
    }
    /// Longitude (WGS 84).
    async fn longitude(&self) -> Option<f64> {
        self.0.longitude
    }
    /// The municipality the site is in.
    async fn municipality(&self, ctx: &Context<'_>) -> GqlResult<Option<Territory>> {
        ctx.loaders()?
            .one(TerritoryById(self.0.municipality_id))
            .await
    }
    /// The organization the site belongs to.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.organization_id))
            .await
    }
    /// When the site was last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// A contact point of an organization (an office or a role, not a private person).
#[derive(Clone, Debug)]
pub struct Contact(pub contact::Model);

impl From<contact::Model> for Contact {
    fn from(model: contact::Model) -> Self {
        Self(model)
    }
}

/// A contact point of an organization (an office or a role, not a private person).
#[Object]
impl Contact {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Contact, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// Name of the office or person.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Job title.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// Department.
    async fn department(&self) -> Option<&str> {
        self.0.department.as_deref()
    }
    /// Email address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Phone number.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// The organization.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.organization_id))
            .await
    }
}

/// One organization taking over the duties of another (e.g. a dissolved consortium's
/// duties passing to a health trust). History is kept, never overwritten.
#[derive(Clone, Debug)]
pub struct Succession(pub organization_succession::Model);

impl From<organization_succession::Model> for Succession {
    fn from(model: organization_succession::Model) -> Self {
        Self(model)
    }
}

/// One organization taking over the duties of another (e.g. a dissolved consortium's
/// duties passing to a health trust). History is kept, never overwritten.
#[Object]
impl Succession {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Succession, self.0.id)
    }
    /// The organization whose duties passed on.
    async fn predecessor(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.predecessor_id))
            .await
    }
    /// The organization that took them over.
    async fn successor(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.successor_id))
            .await
    }
    /// Day the succession took effect.
    async fn effective_on(&self) -> Date {
        Date(self.0.effective_on)
    }
    /// Notes on what passed on.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}
