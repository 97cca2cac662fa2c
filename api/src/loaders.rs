//! Batched loading of relations: one SQL statement per relation and nesting level,
//! whatever the page size.
//!
//! A [`Loaders`] is created for every request (its cache never crosses callers). One
//! [`DbLoader`] answers every key type below; each key type is one kind of batch.

use crate::error::GqlResult;
use async_graphql::dataloader::{DataLoader, Loader};
use entity::{
    api_client, audit_event, consent, contact, location, organization, organization_succession,
    person, protocol, protocol_scope, referral, referral_event, routing_decision, routing_rule,
    schedule, service, service_area, service_at_location, service_term, signatory, term, territory,
};
use entity::{
    individual_plan, meeting, meeting_action, meeting_attendance, meeting_topic, plan_action,
    plan_goal, plan_review, working_group, working_group_member,
};
use futures_util::task::AtomicWaker;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use uuid::Uuid;

/// Loads rows for the resolvers of one request.
pub struct DbLoader {
    db: DatabaseConnection,
}

impl DbLoader {
    /// The database it reads (for batches an area defines beside its statement).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// The per-request loader handed to resolvers through the GraphQL context.
pub struct Loaders(pub DataLoader<DbLoader>);

/// Wraps the future of the operation that [`Loaders::watched`] serves.
pub struct Watch(Arc<Parking>);

impl Watch {
    /// `operation`, telling the loaders when it parks.
    pub fn operation<F: Future>(self, operation: F) -> Watched<F> {
        Watched {
            operation: Box::pin(operation),
            parking: self.0,
        }
    }
}

/// How many times at most a batch lets the operation's other resolvers run before it
/// loads, when it cannot see the operation park ([`Loaders::unwatched`]).
///
/// async-graphql resolves the items of a list a few at a time, waking itself between
/// rounds, so the keys of one level arrive over several polls of the operation; a
/// time-based delay would cut a large page into several batches on a slow or busy
/// machine. A round registers at least two items, so this covers levels of several
/// hundred items (the complexity limit keeps requests below that).
const BATCH_YIELDS: usize = 256;

/// Whether the operation that a [`Loaders`] serves is parked: its last poll returned
/// `Pending` and nothing has woken it since, so no resolver of it can register another
/// key before something it waits for (a batch, a statement) is done. A batch waits for
/// that moment and no longer: every key of the level is in it, on a single-threaded
/// runtime or a multi-threaded one, on a fast machine or a busy one.
///
/// A batch reads [`Parking::parks`] when it is created (during a poll of the operation)
/// and loads once the count has grown: parked is a moment, which the operation leaves as
/// soon as something wakes it, and a batch that only looked at the state could miss it.
#[derive(Default)]
pub struct Parking {
    /// Whether something woke the operation since its current or last poll began.
    woken: AtomicBool,
    /// How many times the operation has parked.
    parks: AtomicU64,
    /// The waker of the task that polls the operation.
    waker: AtomicWaker,
}

impl Parking {
    /// How many times the operation has parked so far.
    fn parks(&self) -> u64 {
        self.parks.load(Ordering::Acquire)
    }
}

impl Wake for Parking {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// An operation's future that tells its [`Parking`] when it parks.
pub struct Watched<F> {
    operation: Pin<Box<F>>,
    parking: Arc<Parking>,
}

impl<F: Future> Future for Watched<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        this.parking.waker.register(cx.waker());
        this.parking.woken.store(false, Ordering::Release);
        let waker = Waker::from(Arc::clone(&this.parking));
        let polled = this
            .operation
            .as_mut()
            .poll(&mut TaskContext::from_waker(&waker));
        // Not parked when a resolver woke the operation during the poll.
        if polled.is_pending() && !this.parking.woken.load(Ordering::Acquire) {
            this.parking.parks.fetch_add(1, Ordering::AcqRel);
        }
        polled
    }
}

impl Loaders {
    /// Fresh loaders with an empty cache for one operation, and the operation's future
    /// `watch` wraps so that a batch loads as soon as the operation parks.
    pub fn watched(db: DatabaseConnection) -> (Self, Watch) {
        let parking = Arc::new(Parking::default());
        (Self::with(db, Some(Arc::clone(&parking))), Watch(parking))
    }

    /// Fresh loaders whose batches cannot see the operation (a subscription's stream):
    /// a batch lets the operation run [`BATCH_YIELDS`] times before it loads.
    pub fn unwatched(db: DatabaseConnection) -> Self {
        Self::with(db, None)
    }

    fn with(db: DatabaseConnection, parking: Option<Arc<Parking>>) -> Self {
        let spawner = move |batch| {
            // Created during a poll of the operation: parks() counts the parks before it.
            let watched = parking.clone().map(|parking| (parking.parks(), parking));
            tokio::spawn(async move {
                for _ in 0..BATCH_YIELDS {
                    tokio::task::yield_now().await;
                    if let Some((before, parking)) = &watched
                        && parking.parks() > *before
                    {
                        break;
                    }
                }
                batch.await;
            })
        };
        Self(DataLoader::new(DbLoader { db }, spawner).delay(std::time::Duration::ZERO))
    }

    /// The database the loader reads (for reads that also write, such as a receiver's
    /// first read of a referral).
    pub fn db(&self) -> &DatabaseConnection {
        &self.0.loader().db
    }

    /// The row `key` names, as the GraphQL object `T`.
    pub async fn one<K, T>(&self, key: K) -> GqlResult<Option<T>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        DbLoader: Loader<K, Error = Arc<DbErr>>,
        T: From<<DbLoader as Loader<K>>::Value>,
    {
        Ok(self.0.load_one(key).await?.map(T::from))
    }

    /// The rows `key` owns, as GraphQL objects `T`.
    pub async fn all<K, M, T>(&self, key: K) -> GqlResult<Vec<T>>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        DbLoader: Loader<K, Value = Vec<M>, Error = Arc<DbErr>>,
        T: From<M>,
    {
        let rows = self.0.load_one(key).await?.unwrap_or_default();
        Ok(rows.into_iter().map(T::from).collect())
    }

    /// The page `(first, after, last, before)` of the rows `key` owns, and how many it
    /// owns (a nested connection): the rows of every parent come in one batch, the
    /// page is cut here ([`crate::pagination::page_of`]).
    pub async fn page<K, M>(
        &self,
        key: K,
        cursor: fn(&M) -> crate::pagination::Cursor,
        (first, after, last, before): RelayArgs,
    ) -> GqlResult<(crate::pagination::Page<M>, u64)>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        DbLoader: Loader<K, Value = Vec<M>, Error = Arc<DbErr>>,
    {
        let window =
            crate::pagination::Window::new(first, after.as_deref(), last, before.as_deref())?;
        let rows = self.0.load_one(key).await?.unwrap_or_default();
        let total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        Ok((crate::pagination::page_of(rows, cursor, &window)?, total))
    }
}

/// The Relay arguments of a connection field: `first`, `after`, `last`, `before`.
pub type RelayArgs = (Option<i32>, Option<String>, Option<i32>, Option<String>);

pub type LoadResult<K, V> = Result<HashMap<K, V>, Arc<DbErr>>;

fn ids<K: Copy + Into<Uuid>>(keys: &[K]) -> Vec<Uuid> {
    keys.iter().map(|k| (*k).into()).collect()
}

/// Declares a key type: a newtype over the id of the row it looks up or owns.
macro_rules! key {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub Uuid);
        impl From<$name> for Uuid {
            fn from(key: $name) -> Uuid {
                key.0
            }
        }
    )+};
}

key! {
    /// A referral by id.
    ReferralById;
    /// The events of a referral, oldest first.
    EventsOfReferral;
    /// The referral that re-routes a referral (there is at most one).
    RerouteOfReferral;
    /// The needs assessments of a person, newest first.
    AssessmentsOfPerson;
    /// The service types that address a need, by code.
    ServiceTypesOfNeed;
    /// A routing rule by id.
    RoutingRuleById;
    /// The routing decisions an assessment caused, in the order they were taken.
    DecisionsOfAssessment;
    /// A territory by id.
    TerritoryById;
    /// An organization by id.
    OrganizationById;
    /// A location by id.
    LocationById;
    /// A contact by id.
    ContactById;
    /// A taxonomy term by id.
    TermById;
    /// A service by id.
    ServiceById;
    /// A protocol by id.
    ProtocolById;
    /// A signatory by id.
    SignatoryById;
    /// A succession by id.
    SuccessionById;
    /// An audit event by id.
    AuditEventById;
    /// A person by id (callers check visibility first).
    PersonById;
    /// An API client by id.
    ApiClientById;
    /// The services an organization provides.
    ServicesOfOrganization;
    /// The services an organization provides, read [`service::head_only`].
    ListedServicesOfOrganization;
    /// The locations of an organization.
    LocationsOfOrganization;
    /// The contacts of an organization.
    ContactsOfOrganization;
    /// The successions an organization takes part in (either side).
    SuccessionsOfOrganization;
    /// The adherences of an organization to protocols.
    SignatoriesOfOrganization;
    /// The taxonomy terms of a service (types, target groups, languages).
    TermsOfService;
    /// The municipalities a service covers.
    AreaOfService;
    /// The zones and hub areas in force today that hold a municipality a service
    /// covers.
    GroupingsOfService;
    /// The locations where a service is delivered.
    LocationsOfService;
    /// The opening schedule of a service.
    SchedulesOfService;
    /// The signatories of a protocol.
    SignatoriesOfProtocol;
    /// The territories a protocol covers.
    ScopeOfProtocol;
    /// The municipalities a territory is made of.
    MunicipalitiesOfTerritory;
    /// A consent by id (callers check visibility first).
    ConsentById;
    /// A working group by id.
    WorkingGroupById;
    /// A meeting by id.
    MeetingById;
    /// A decision or action of a meeting by id (callers check visibility first).
    MeetingActionById;
    /// The member organizations of a working group.
    MembersOfWorkingGroup;
    /// The meetings of a working group, by start.
    MeetingsOfWorkingGroup;
    /// The agenda of a meeting, in order.
    TopicsOfMeeting;
    /// The organizations present at a meeting (callers check visibility first).
    AttendanceOfMeeting;
    /// The decisions and actions of a meeting (callers check visibility first).
    ActionsOfMeeting;
    /// The stored translations of a service, organization, site or term, by language.
    TranslationsOf;
    /// An individual plan by id (callers check visibility first).
    IndividualPlanById;
    /// An action of an individual plan by id (callers check visibility first).
    PlanActionById;
    /// The goals of an individual plan, in order (callers check visibility first).
    GoalsOfPlan;
    /// The actions of an individual plan, oldest first (callers check visibility first).
    ActionsOfPlan;
    /// The reviews of an individual plan, oldest first (callers check visibility first).
    ReviewsOfPlan;
}

/// A loader of rows by their primary key.
macro_rules! by_id {
    ($key:ident, $module:ident) => {
        impl Loader<$key> for DbLoader {
            type Value = $module::Model;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Self::Value> {
                let rows = $module::Entity::find()
                    .filter($module::Column::Id.is_in(ids(keys)))
                    .all(&self.db)
                    .await?;
                Ok(rows.into_iter().map(|row| ($key(row.id), row)).collect())
            }
        }
    };
}

by_id!(TerritoryById, territory);
by_id!(OrganizationById, organization);
by_id!(LocationById, location);
by_id!(ContactById, contact);
by_id!(TermById, term);
by_id!(ServiceById, service);
by_id!(ProtocolById, protocol);
by_id!(SignatoryById, signatory);
by_id!(SuccessionById, organization_succession);
by_id!(AuditEventById, audit_event);
by_id!(PersonById, person);
by_id!(ApiClientById, api_client);
by_id!(ReferralById, referral);
by_id!(RoutingRuleById, routing_rule);
by_id!(ConsentById, consent);
by_id!(WorkingGroupById, working_group);
by_id!(MeetingById, meeting);
by_id!(MeetingActionById, meeting_action);
by_id!(IndividualPlanById, individual_plan);
by_id!(PlanActionById, plan_action);

/// A taxonomy term by its taxonomy and code (codes a record stores, such as a
/// referral's needs or a person's languages).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TermByCode(pub entity::enums::Taxonomy, pub String);

impl Loader<TermByCode> for DbLoader {
    type Value = term::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[TermByCode]) -> LoadResult<TermByCode, Self::Value> {
        let mut taxonomies: Vec<entity::enums::Taxonomy> = Vec::new();
        for key in keys {
            if !taxonomies.contains(&key.0) {
                taxonomies.push(key.0);
            }
        }
        let rows = term::Entity::find()
            .filter(term::Column::Taxonomy.is_in(taxonomies))
            .filter(term::Column::Code.is_in(keys.iter().map(|k| k.1.clone())))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (TermByCode(row.taxonomy, row.code.clone()), row))
            .filter(|(key, _)| keys.contains(key))
            .collect())
    }
}

impl Loaders {
    /// The terms of `taxonomy` with `codes`, in the order of `codes` (a code without a
    /// term is left out): one statement for every record of the request.
    pub async fn terms<T: From<term::Model>>(
        &self,
        taxonomy: entity::enums::Taxonomy,
        codes: impl IntoIterator<Item = &str>,
    ) -> GqlResult<Vec<T>> {
        let keys: Vec<TermByCode> = codes
            .into_iter()
            .map(|code| TermByCode(taxonomy, code.to_owned()))
            .collect();
        let mut found = self.0.load_many(keys.iter().cloned()).await?;
        Ok(keys
            .iter()
            .filter_map(|key| found.remove(key))
            .map(T::from)
            .collect())
    }
}

/// A loader of the rows that point at a parent through a foreign key: whole rows, or
/// rows of type `$row` read with the columns that `$columns` leaves of a select.
macro_rules! children {
    ($key:ident, $module:ident, $fk:ident, $field:ident, $order:ident) => {
        children!(
            $key,
            $module,
            $fk,
            $field,
            $order,
            $module::Model,
            std::convert::identity
        );
    };
    (
        $key:ident,
        $module:ident,
        $fk:ident,
        $field:ident,
        $order:ident,
        $row:ty,
        $columns:path
    ) => {
        impl Loader<$key> for DbLoader {
            type Value = Vec<$module::Model>;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Self::Value> {
                let rows = $columns($module::Entity::find())
                    .filter($module::Column::$fk.is_in(ids(keys)))
                    .order_by_asc($module::Column::$order)
                    .order_by_asc($module::Column::Id)
                    .into_model::<$row>()
                    .all(&self.db)
                    .await?;
                let mut map: HashMap<$key, Self::Value> = HashMap::new();
                for row in rows {
                    let row: $module::Model = row.into();
                    map.entry($key(row.$field)).or_default().push(row);
                }
                Ok(map)
            }
        }
    };
}

children!(
    DecisionsOfAssessment,
    routing_decision,
    AssessmentId,
    assessment_id,
    DecidedAt
);
children!(
    ServicesOfOrganization,
    service,
    OrganizationId,
    organization_id,
    SearchName
);
children!(
    ListedServicesOfOrganization,
    service,
    OrganizationId,
    organization_id,
    SearchName,
    service::Head,
    service::head_only
);
children!(
    LocationsOfOrganization,
    location,
    OrganizationId,
    organization_id,
    Name
);
children!(
    ContactsOfOrganization,
    contact,
    OrganizationId,
    organization_id,
    Name
);
children!(
    SignatoriesOfOrganization,
    signatory,
    OrganizationId,
    organization_id,
    CreatedAt
);
children!(
    SignatoriesOfProtocol,
    signatory,
    ProtocolId,
    protocol_id,
    CreatedAt
);
children!(SchedulesOfService, schedule, ServiceId, service_id, Weekday);
children!(
    MeetingsOfWorkingGroup,
    meeting,
    WorkingGroupId,
    working_group_id,
    StartsAt
);
children!(
    TopicsOfMeeting,
    meeting_topic,
    MeetingId,
    meeting_id,
    Position
);
children!(GoalsOfPlan, plan_goal, PlanId, plan_id, Position);
children!(ActionsOfPlan, plan_action, PlanId, plan_id, CreatedAt);
children!(ReviewsOfPlan, plan_review, PlanId, plan_id, ReviewedOn);
children!(
    ActionsOfMeeting,
    meeting_action,
    MeetingId,
    meeting_id,
    CreatedAt
);

/// A loader of the rows of a link table keyed by their owner (tables without an `id`).
macro_rules! owned_links {
    ($key:ident, $module:ident, $owner:ident, $field:ident, $order:ident) => {
        impl Loader<$key> for DbLoader {
            type Value = Vec<$module::Model>;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Self::Value> {
                let rows = $module::Entity::find()
                    .filter($module::Column::$owner.is_in(ids(keys)))
                    .order_by_asc($module::Column::$order)
                    .all(&self.db)
                    .await?;
                let mut map: HashMap<$key, Self::Value> = HashMap::new();
                for row in rows {
                    map.entry($key(row.$field)).or_default().push(row);
                }
                Ok(map)
            }
        }
    };
}

owned_links!(
    MembersOfWorkingGroup,
    working_group_member,
    WorkingGroupId,
    working_group_id,
    CreatedAt
);
owned_links!(
    AttendanceOfMeeting,
    meeting_attendance,
    MeetingId,
    meeting_id,
    OrganizationId
);
children!(
    EventsOfReferral,
    referral_event,
    ReferralId,
    referral_id,
    OccurredAt
);

/// A loader of the rows reached through a link table.
macro_rules! linked {
    ($key:ident, $link:ident, $owner:ident, $target:ident, $order:ident) => {
        impl Loader<$key> for DbLoader {
            type Value = Vec<$target::Model>;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Self::Value> {
                let rows = $link::Entity::find()
                    .find_also_related($target::Entity)
                    .filter($link::Column::$owner.is_in(ids(keys)))
                    .order_by_asc($target::Column::$order)
                    .all(&self.db)
                    .await?;
                let mut map: HashMap<$key, Self::Value> = HashMap::new();
                for (link, target) in rows {
                    if let Some(target) = target {
                        map.entry($key(link.service_or_owner()))
                            .or_default()
                            .push(target);
                    }
                }
                Ok(map)
            }
        }
    };
}

/// The owner side of a link row.
trait LinkOwner {
    fn service_or_owner(&self) -> Uuid;
}

impl LinkOwner for service_term::Model {
    fn service_or_owner(&self) -> Uuid {
        self.service_id
    }
}
impl LinkOwner for service_area::Model {
    fn service_or_owner(&self) -> Uuid {
        self.service_id
    }
}
impl LinkOwner for service_at_location::Model {
    fn service_or_owner(&self) -> Uuid {
        self.service_id
    }
}
impl LinkOwner for protocol_scope::Model {
    fn service_or_owner(&self) -> Uuid {
        self.protocol_id
    }
}

linked!(TermsOfService, service_term, ServiceId, term, Code);
linked!(AreaOfService, service_area, ServiceId, territory, Code);
linked!(
    LocationsOfService,
    service_at_location,
    ServiceId,
    location,
    Name
);
linked!(ScopeOfProtocol, protocol_scope, ProtocolId, territory, Code);

/// How an organization sees a person (absent: not at all), by the rule of
/// [`crate::privacy::access`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PersonAccessOf {
    /// The person.
    pub person: Uuid,
    /// The organization.
    pub organization: Uuid,
}

impl Loader<PersonAccessOf> for DbLoader {
    type Value = crate::privacy::access::Access;
    type Error = Arc<DbErr>;

    /// Two statements per organization asking (in practice, one organization per
    /// request).
    async fn load(
        &self,
        keys: &[PersonAccessOf],
    ) -> LoadResult<PersonAccessOf, crate::privacy::access::Access> {
        let mut by_org: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for key in keys {
            by_org.entry(key.organization).or_default().push(key.person);
        }
        let now = chrono::Utc::now();
        let mut map = HashMap::new();
        for (organization, persons) in by_org {
            let found =
                crate::privacy::access::access_to(&self.db, &persons, organization, now).await?;
            for (person, access) in found {
                map.insert(
                    PersonAccessOf {
                        person,
                        organization,
                    },
                    access,
                );
            }
        }
        Ok(map)
    }
}

impl Loader<SuccessionsOfOrganization> for DbLoader {
    type Value = Vec<organization_succession::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[SuccessionsOfOrganization],
    ) -> LoadResult<SuccessionsOfOrganization, Self::Value> {
        let keys = ids(keys);
        let wanted: std::collections::HashSet<Uuid> = keys.iter().copied().collect();
        let rows = organization_succession::Entity::find()
            .filter(
                organization_succession::Column::PredecessorId
                    .is_in(keys.clone())
                    .or(organization_succession::Column::SuccessorId.is_in(keys.clone())),
            )
            .order_by_asc(organization_succession::Column::EffectiveOn)
            .all(&self.db)
            .await?;
        let mut map: HashMap<SuccessionsOfOrganization, Self::Value> = HashMap::new();
        for row in rows {
            for side in [row.predecessor_id, row.successor_id] {
                if wanted.contains(&side) {
                    map.entry(SuccessionsOfOrganization(side))
                        .or_default()
                        .push(row.clone());
                }
            }
        }
        Ok(map)
    }
}

impl Loader<RerouteOfReferral> for DbLoader {
    type Value = referral::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[RerouteOfReferral]) -> LoadResult<RerouteOfReferral, Self::Value> {
        let rows = referral::Entity::find()
            .filter(referral::Column::ReroutedFromId.is_in(ids(keys)))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| Some((RerouteOfReferral(row.rerouted_from_id?), row)))
            .collect())
    }
}

/// A loader that hands the keys' ids to a service function answering `(id, value)`
/// pairs for them (`$function(db, &ids, extra...)`), one batch per request.
macro_rules! delegated {
    ($(#[$doc:meta])* $key:ident => $value:ty, $function:path $(, $extra:expr)*) => {
        impl Loader<$key> for DbLoader {
            type Value = $value;
            type Error = Arc<DbErr>;

            $(#[$doc])*
            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Self::Value> {
                let found = $function(&self.db, &ids(keys) $(, $extra)*).await?;
                Ok(found.into_iter().map(|(id, value)| ($key(id), value)).collect())
            }
        }
    };
}

delegated!(
    /// By [`crate::territory::service::municipalities_by_territory`].
    MunicipalitiesOfTerritory => Vec<territory::Model>,
    crate::territory::service::municipalities_by_territory
);
delegated!(
    /// By [`crate::territory::service::groupings_of_services`] (one statement).
    GroupingsOfService => Vec<territory::Model>,
    crate::territory::service::groupings_of_services,
    chrono::Utc::now().date_naive()
);
delegated!(
    /// By [`crate::person::assessment::of_persons`] (two statements).
    AssessmentsOfPerson => Vec<crate::person::assessment::Assessment>,
    crate::person::assessment::of_persons
);
delegated!(
    /// By [`crate::taxonomy::service::service_types_of`].
    ServiceTypesOfNeed => Vec<term::Model>,
    crate::taxonomy::service::service_types_of
);
delegated!(
    /// By [`crate::translation::service::of_subjects`].
    TranslationsOf => Vec<entity::translation::Model>,
    crate::translation::service::of_subjects
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// An operation that, at each poll, runs the next step of `steps`: wake itself
    /// (`true`) or not, and return `Pending`; it keeps its last waker.
    fn operation(steps: Vec<bool>, kept: Arc<Mutex<Option<Waker>>>) -> impl Future<Output = ()> {
        let mut steps = steps.into_iter();
        std::future::poll_fn(move |cx| {
            *kept.lock().expect("not poisoned") = Some(cx.waker().clone());
            match steps.next() {
                Some(true) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Some(false) => Poll::Pending,
                None => Poll::Ready(()),
            }
        })
    }

    #[test]
    fn an_operation_parks_only_when_its_poll_ended_and_nothing_woke_it() {
        let parking = Arc::new(Parking::default());
        let kept = Arc::new(Mutex::new(None));
        let mut watched = Watch(Arc::clone(&parking))
            .operation(operation(vec![true, false, false], Arc::clone(&kept)));
        let mut watched = Pin::new(&mut watched);
        let outer = futures_util::task::noop_waker();
        let mut cx = TaskContext::from_waker(&outer);
        assert_eq!(parking.parks(), 0, "not parked before its first poll");

        // A round that woke itself (a list resolving a few items at a time): not parked.
        assert!(watched.as_mut().poll(&mut cx).is_pending());
        assert_eq!(parking.parks(), 0);

        // A round that waits for something else: parked.
        assert!(watched.as_mut().poll(&mut cx).is_pending());
        assert_eq!(parking.parks(), 1);

        // Woken from outside (a batch or a statement done), polled, parked again.
        let waker = kept.lock().expect("not poisoned").clone().expect("a waker");
        waker.wake_by_ref();
        assert!(parking.woken.load(Ordering::Acquire));
        assert!(watched.as_mut().poll(&mut cx).is_pending());
        assert_eq!(parking.parks(), 2);
        assert!(watched.as_mut().poll(&mut cx).is_ready());
        assert_eq!(parking.parks(), 2, "a finished operation does not park");
    }
}
