//! GraphQL types of the service catalogue (HSDS 3.0 `service`).

use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::connection::PageInfo;
use crate::graphql::enums::{DeliveryMode, ServiceStatus, Taxonomy};
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::Timestamp;
use crate::loaders::{
    AreaOfService, GroupingsOfService, LocationById, LocationsOfService, OrganizationById,
    SchedulesOfService, ServiceById, TermsOfService,
};
use crate::organization::types::{Location, Organization};
use crate::taxonomy::types::Term;
use crate::territory::types::Territory;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use entity::{schedule, service};

/// A service of the network's catalogue: what an organization offers, to whom, where
/// and when. Field names follow Open Referral HSDS 3.0.
#[derive(Clone, Debug)]
pub struct Service {
    row: service::Model,
    /// Whether `row` is the stored row: false for a [`service::Head`] of a list read
    /// [`service::head_only`] because its selection shows no field of [`WHOLE_ROW_FIELDS`].
    whole: bool,
}

impl From<service::Model> for Service {
    fn from(row: service::Model) -> Self {
        Self { row, whole: true }
    }
}

/// The fields of `Service` that show a column beyond [`service::HEAD`] (all the others
/// read the head's columns, or only the id): a list whose selection has none of them
/// reads its rows [`service::head_only`].
const WHOLE_ROW_FIELDS: [&str; 12] = [
    "alternateName",
    "description",
    "localized",
    "eligibilityDescription",
    "minimumAge",
    "maximumAge",
    "feesDescription",
    "applicationProcess",
    "url",
    "email",
    "funding",
    "capacity",
];

/// Whether the services selected by `selection` (a list's items) show a field of
/// [`WHOLE_ROW_FIELDS`], so the list reads whole rows.
pub fn reads_whole_rows(selection: &async_graphql::Lookahead<'_>) -> bool {
    WHOLE_ROW_FIELDS
        .iter()
        .any(|field| selection.field(field).exists())
}

/// Whether the services of a connection selected by `connection` (its `nodes` or its
/// `edges { node }`) show a field of [`WHOLE_ROW_FIELDS`].
pub fn connection_reads_whole_rows(connection: &async_graphql::Lookahead<'_>) -> bool {
    reads_whole_rows(&connection.field("nodes"))
        || reads_whole_rows(&connection.field("edges").field("node"))
}

impl Service {
    /// A service read [`service::head_only`] (its row is read again if a field shows
    /// another column).
    pub fn listed(head: service::Model) -> Self {
        Self {
            row: head,
            whole: false,
        }
    }

    /// The stored row: this one, or for a listed row the whole row, read again (in one
    /// batch for the request).
    async fn whole_row(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<std::borrow::Cow<'_, service::Model>> {
        if self.whole {
            return Ok(std::borrow::Cow::Borrowed(&self.row));
        }
        ctx.loaders()?
            .one(ServiceById(self.row.id))
            .await?
            .map(std::borrow::Cow::Owned)
            .ok_or_else(|| crate::error::AppError::NotFound("service").into())
    }

    /// The zones or hub areas (`kind`) in force that the service area reaches.
    async fn groupings(
        &self,
        ctx: &Context<'_>,
        kind: entity::enums::TerritoryKind,
    ) -> GqlResult<Vec<Territory>> {
        let groupings = ctx
            .loaders()?
            .0
            .load_one(GroupingsOfService(self.row.id))
            .await?;
        Ok(groupings
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.kind == kind)
            .map(Territory)
            .collect())
    }

    async fn terms(&self, ctx: &Context<'_>, taxonomy: Taxonomy) -> GqlResult<Vec<Term>> {
        let terms = ctx
            .loaders()?
            .0
            .load_one(TermsOfService(self.row.id))
            .await?;
        let wanted: entity::enums::Taxonomy = taxonomy.into();
        Ok(terms
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.taxonomy == wanted)
            .map(Term)
            .collect())
    }
}

/// A service of the network's catalogue: what an organization offers, to whom, where
/// and when. Field names follow Open Referral HSDS 3.0.
#[Object]
impl Service {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Service, self.row.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.row.row_version
    }
    /// Name of the service.
    async fn name(&self) -> &str {
        &self.row.name
    }
    /// Another name the service is known by.
    async fn alternate_name(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.whole_row(ctx).await?.alternate_name.clone())
    }
    /// What the service offers.
    async fn description(&self, ctx: &Context<'_>) -> GqlResult<String> {
        Ok(self.whole_row(ctx).await?.description.clone())
    }
    /// The service's text in one language: the `language` asked for, else the first
    /// of the request's `Accept-Language` languages it has a text in, else the original
    /// Italian; each text says which language it is in.
    async fn localized(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "ISO 639-1 code of the language wanted (e.g. `ar`); by default the languages of the request's `Accept-Language` header. Italian, the original, serves where the language has no text."
        )]
        language: Option<String>,
    ) -> GqlResult<crate::translation::types::LocalizedService> {
        let localization =
            crate::translation::types::Localization::load(ctx, self.row.id, language.as_deref())
                .await?;
        Ok(crate::translation::types::LocalizedService(
            self.whole_row(ctx).await?.into_owned(),
            localization,
        ))
    }
    /// The translations of the service's text, one per language, by language code
    /// (the original Italian text is the service's own fields).
    async fn translations(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<crate::translation::types::Translation>> {
        crate::translation::types::translations_of(ctx, self.row.id).await
    }
    /// Whether the service is active.
    async fn status(&self) -> ServiceStatus {
        self.row.status.into()
    }
    /// Who may use the service, in words.
    async fn eligibility_description(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.whole_row(ctx).await?.eligibility_description.clone())
    }
    /// Minimum age of users, in years.
    async fn minimum_age(&self, ctx: &Context<'_>) -> GqlResult<Option<i32>> {
        Ok(self.whole_row(ctx).await?.minimum_age)
    }
    /// Maximum age of users, in years.
    async fn maximum_age(&self, ctx: &Context<'_>) -> GqlResult<Option<i32>> {
        Ok(self.whole_row(ctx).await?.maximum_age)
    }
    /// Fees, in words (most services are free).
    async fn fees_description(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.whole_row(ctx).await?.fees_description.clone())
    }
    /// How to apply.
    async fn application_process(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.whole_row(ctx).await?.application_process.clone())
    }
    /// Web page of the service.
    async fn url(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.whole_row(ctx).await?.url.clone())
    }
    /// Email address of the service.
    async fn email(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.whole_row(ctx).await?.email.clone())
    }
    /// In person, remote or hybrid.
    async fn delivery_mode(&self) -> DeliveryMode {
        self.row.delivery_mode.into()
    }
    /// Programme or funding (FSE+, PNRR/GOL, regional, municipal).
    async fn funding(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self.whole_row(ctx).await?.funding.clone())
    }
    /// Places, waitlist and typical wait.
    async fn capacity(&self, ctx: &Context<'_>) -> GqlResult<Capacity> {
        let row = self.whole_row(ctx).await?;
        Ok(Capacity {
            open_places: row.open_places,
            waitlist_length: row.waitlist_length,
            typical_wait_days: row.typical_wait_days,
            updated_at: row.capacity_updated_at.map(Timestamp),
        })
    }
    /// The organization that provides the service.
    async fn provider(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.row.organization_id))
            .await
    }
    /// Types of the service (SERVICE_TYPE terms).
    async fn service_types(&self, ctx: &Context<'_>) -> GqlResult<Vec<Term>> {
        self.terms(ctx, Taxonomy::ServiceType).await
    }
    /// Groups of people the service is meant for (TARGET_GROUP terms).
    async fn target_groups(&self, ctx: &Context<'_>) -> GqlResult<Vec<Term>> {
        self.terms(ctx, Taxonomy::TargetGroup).await
    }
    /// Languages spoken (LANGUAGE terms).
    async fn languages(&self, ctx: &Context<'_>) -> GqlResult<Vec<Term>> {
        self.terms(ctx, Taxonomy::Language).await
    }
    /// Municipalities the service covers.
    async fn service_area(&self, ctx: &Context<'_>) -> GqlResult<Vec<Territory>> {
        ctx.loaders()?.all(AreaOfService(self.row.id)).await
    }
    /// The zones (*zone-distretto*) the service belongs to: those in force today that
    /// hold at least one municipality of its service area, by code. A service whose
    /// area spans several zones belongs to each; `services(filter: {territory: ...})`
    /// with one of them finds it.
    async fn zones(&self, ctx: &Context<'_>) -> GqlResult<Vec<Territory>> {
        self.groupings(ctx, entity::enums::TerritoryKind::Zone)
            .await
    }
    /// The hub areas of the regional split the service belongs to: those in force
    /// today that hold at least one municipality of its service area, by code.
    async fn hub_areas(&self, ctx: &Context<'_>) -> GqlResult<Vec<Territory>> {
        self.groupings(ctx, entity::enums::TerritoryKind::HubArea)
            .await
    }
    /// Sites where the service is delivered.
    async fn locations(&self, ctx: &Context<'_>) -> GqlResult<Vec<Location>> {
        ctx.loaders()?.all(LocationsOfService(self.row.id)).await
    }
    /// Opening hours.
    async fn schedules(&self, ctx: &Context<'_>) -> GqlResult<Vec<Schedule>> {
        ctx.loaders()?.all(SchedulesOfService(self.row.id)).await
    }
    /// When the record was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.row.created_at)
    }
    /// When the record was last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.row.updated_at)
    }
}

/// How many people a service can take now.
#[derive(SimpleObject, Clone, Debug)]
pub struct Capacity {
    /// Places open now.
    pub open_places: Option<i32>,
    /// People waiting.
    pub waitlist_length: Option<i32>,
    /// Typical wait before being taken in charge, in days.
    pub typical_wait_days: Option<i32>,
    /// When these figures were last updated.
    pub updated_at: Option<Timestamp>,
}

/// Day of the week.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

/// Opening hours of a service on one day of the week (HSDS `schedule`).
#[derive(Clone, Debug)]
pub struct Schedule(pub schedule::Model);

impl From<schedule::Model> for Schedule {
    fn from(model: schedule::Model) -> Self {
        Self(model)
    }
}

/// Opening hours of a service on one day of the week (HSDS `schedule`).
#[Object]
impl Schedule {
    /// Day of the week.
    async fn weekday(&self) -> Weekday {
        match self.0.weekday {
            1 => Weekday::Monday,
            2 => Weekday::Tuesday,
            3 => Weekday::Wednesday,
            4 => Weekday::Thursday,
            5 => Weekday::Friday,
            6 => Weekday::Saturday,
            _ => Weekday::Sunday,
        }
    }
    /// Opening time, `HH:MM`.
    async fn opens_at(&self) -> &str {
        &self.0.opens_at
    }
    /// Closing time, `HH:MM`.
    async fn closes_at(&self) -> &str {
        &self.0.closes_at
    }
    /// Notes (e.g. "by appointment").
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// The site these hours apply to, if only one.
    async fn location(&self, ctx: &Context<'_>) -> GqlResult<Option<Location>> {
        let Some(location) = self.0.location_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(LocationById(location)).await
    }
}

/// A page of services.
#[derive(SimpleObject)]
pub struct ServiceConnection {
    /// Number of services matching the filter, across all pages.
    pub total_count: u64,
    /// Information to aid in pagination.
    pub page_info: PageInfo,
    /// The edges of this page.
    pub edges: Vec<ServiceEdge>,
    /// The services of this page, without cursors.
    pub nodes: Vec<Service>,
}

/// An edge to a service.
#[derive(SimpleObject)]
pub struct ServiceEdge {
    /// Cursor of this edge, for `after` and `before`.
    pub cursor: String,
    /// Distance in km from the `near` point of the filter to the service's nearest
    /// site; null without a `near` filter.
    pub distance_km: Option<f64>,
    /// The service.
    pub node: Service,
}

impl ServiceConnection {
    /// Builds the connection from a page of services with no distances (a relation's
    /// page).
    pub fn from_rows(
        page: crate::pagination::Page<service::Model>,
        total: u64,
        whole_rows: bool,
    ) -> Self {
        Self::from_page(super::query::ServicePage {
            page,
            total,
            distances: std::collections::HashMap::new(),
            whole_rows,
        })
    }

    /// Builds the connection from a page of services.
    pub fn from_page(result: super::query::ServicePage) -> Self {
        let page_info = PageInfo::of(&result.page);
        let whole = result.whole_rows;
        let mut edges = Vec::with_capacity(result.page.items.len());
        let mut nodes = Vec::with_capacity(result.page.items.len());
        for (row, cursor) in result.page.items {
            let distance_km = result
                .distances
                .get(&row.id)
                .map(|d| (d * 100.0).round() / 100.0);
            let node = Service { row, whole };
            nodes.push(node.clone());
            edges.push(ServiceEdge {
                cursor,
                distance_km,
                node,
            });
        }
        Self {
            total_count: result.total,
            page_info,
            edges,
            nodes,
        }
    }
}
