//! GraphQL types of working groups and meetings.
//!
//! What everyone reads is the network's public summary: the group, its members, its
//! meetings' dates, statuses and agendas. A meeting's place and link, attendance,
//! minutes and actions are null unless the caller may read the group's details
//! ([`service::may_read_details`]).

use super::{service, topics};
use crate::auth::Viewer;
use crate::context::ContextExt;
use crate::error::{AppResult, GqlResult};
use crate::graphql::enums::mirror_enum;
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::graphql::scalars::{Date, Timestamp};
use crate::loaders::{
    ActionsOfMeeting, AttendanceOfMeeting, Loaders, MeetingActionById, MeetingById,
    MeetingsOfWorkingGroup, MembersOfWorkingGroup, OrganizationById, TermByCode, TerritoryById,
    TopicsOfMeeting, WorkingGroupById,
};
use crate::organization::types::Organization;
use crate::statistics::types::StatisticsCount;
use crate::taxonomy::types::Term;
use crate::territory::types::Territory;
use async_graphql::{Context, ID, Object, SimpleObject};
use entity::{enums::Taxonomy, term, working_group_member};
use entity::{meeting, meeting_action, meeting_attendance, meeting_topic, working_group};
use std::collections::HashMap;
use uuid::Uuid;

mirror_enum!(
    /// Whether a working group still meets.
    WorkingGroupStatus => entity::enums::WorkingGroupStatus {
        /// The group meets.
        Active,
        /// The group has ended its work.
        Closed,
    }
);

mirror_enum!(
    /// An organization's part in a working group.
    WorkingGroupRole => entity::enums::WorkingGroupRole {
        /// Leads the group: its administrators manage it.
        Lead,
        /// Takes part in the group.
        Member,
        /// Follows the group without taking part in its decisions.
        Observer,
    }
);

mirror_enum!(
    /// Where a meeting stands.
    MeetingStatus => entity::enums::MeetingStatus {
        /// Scheduled.
        Planned,
        /// Took place; attendance, minutes and actions are recorded.
        Held,
        /// Called off.
        Cancelled,
    }
);

mirror_enum!(
    /// What a meeting decided or set someone to do.
    MeetingActionKind => entity::enums::MeetingActionKind {
        /// A decision of the group.
        Decision,
        /// Something an organization is to do.
        Action,
    }
);

mirror_enum!(
    /// Where a decision or action of a meeting stands.
    MeetingActionStatus => entity::enums::MeetingActionStatus {
        /// To be done.
        Open,
        /// Done.
        Done,
        /// Given up.
        Dropped,
    }
);

/// True when the caller may read the details of the group `group`.
async fn details_visible(ctx: &Context<'_>, group: Uuid) -> GqlResult<bool> {
    let viewer = ctx.viewer()?;
    if viewer.is_anonymous() {
        return Ok(false);
    }
    let members: Vec<working_group_member::Model> =
        ctx.loaders()?.all(MembersOfWorkingGroup(group)).await?;
    let members: Vec<Uuid> = members.iter().map(|m| m.organization_id).collect();
    Ok(service::may_read_details(viewer, &members))
}

/// A decision or action by id, for `node(id:)`: only for who may read its group's
/// details; absent otherwise.
pub async fn action_node(
    loaders: &Loaders,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<MeetingAction>> {
    let Some(action) = loaders.0.load_one(MeetingActionById(id)).await? else {
        return Ok(None);
    };
    let Some(meeting) = loaders.0.load_one(MeetingById(action.meeting_id)).await? else {
        return Ok(None);
    };
    let members = loaders
        .0
        .load_one(MembersOfWorkingGroup(meeting.working_group_id))
        .await?
        .unwrap_or_default();
    let members: Vec<Uuid> = members.iter().map(|m| m.organization_id).collect();
    Ok(service::may_read_details(viewer, &members).then(|| action.into()))
}

/// A local working group of the network: organizations of a hub area, a zone or the
/// region meeting on topics that come from the needs that emerge.
#[derive(Clone, Debug)]
pub struct WorkingGroup(pub working_group::Model);

impl From<working_group::Model> for WorkingGroup {
    fn from(model: working_group::Model) -> Self {
        Self(model)
    }
}

/// A local working group of the network: organizations of a hub area, a zone or the
/// region meeting on topics that come from the needs that emerge.
#[Object]
impl WorkingGroup {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::WorkingGroup, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What the group is for.
    async fn purpose(&self) -> Option<&str> {
        self.0.purpose.as_deref()
    }
    /// The hub area, zone or region the group works for.
    async fn territory(&self, ctx: &Context<'_>) -> GqlResult<Option<Territory>> {
        ctx.loaders()?.one(TerritoryById(self.0.territory_id)).await
    }
    /// The organization that leads the group; its administrators manage it.
    async fn lead(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.lead_organization_id))
            .await
    }
    /// Active or closed.
    async fn status(&self) -> WorkingGroupStatus {
        self.0.status.into()
    }
    /// First day of the group's work.
    async fn starts_on(&self) -> Option<Date> {
        self.0.starts_on.map(Date)
    }
    /// Last day of the group's work.
    async fn ends_on(&self) -> Option<Date> {
        self.0.ends_on.map(Date)
    }
    /// The member organizations, the lead included, in the order they joined.
    async fn members(&self, ctx: &Context<'_>) -> GqlResult<Vec<WorkingGroupMember>> {
        ctx.loaders()?.all(MembersOfWorkingGroup(self.0.id)).await
    }
    /// The group's meetings, by start.
    async fn meetings(&self, ctx: &Context<'_>) -> GqlResult<Vec<Meeting>> {
        ctx.loaders()?.all(MeetingsOfWorkingGroup(self.0.id)).await
    }
    /// True when the caller may read the details of the group's meetings (place,
    /// link, attendance, minutes, actions): its members and the regional administration.
    async fn viewer_can_read_details(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        details_visible(ctx, self.0.id).await
    }
    /// Topics the group could take up, from the needs that emerge in its territory
    /// (its municipalities; every one for the region): for each need, the people
    /// living there now with it recorded in an assessment and those referred for it in
    /// the last `months` months, and the municipalities no active service addressing
    /// it covers. Counts of people from 1 to k − 1 (`MELT_STATISTICS_K`) are withheld,
    /// as in the regional statistics; no person is ever named. Needs without people
    /// or gaps are left out; ordered by people assessed, then referred (withheld
    /// counts as 0), then uncovered municipalities, then code. Null for callers who
    /// may not read the group's details (see `viewerCanReadDetails`); `months` outside
    /// 1 to 60 is BAD_USER_INPUT.
    async fn suggested_topics(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = 12,
            desc = "How many months to look back for assessments and referrals, 1 to 60, up to today (UTC); 12 when omitted or null."
        )]
        months: Option<i32>,
    ) -> GqlResult<Option<Vec<SuggestedTopic>>> {
        let today = chrono::Utc::now().date_naive();
        let months = months.unwrap_or(topics::DEFAULT_MONTHS);
        let since = topics::window_start(months, today)?;
        if !details_visible(ctx, self.0.id).await? {
            return Ok(None);
        }
        let loaders = ctx.loaders()?;
        let territory = TerritoryById(self.0.territory_id);
        if loaders.0.load_one(territory).await?.is_none() {
            return Ok(None);
        }
        let key = topics::NeedTalliesOf {
            group: self.0.id,
            since,
            today,
        };
        let tallies = loaders.0.load_one(key).await?.unwrap_or_default();
        let k = u64::from(ctx.settings()?.statistics_k);
        let suggestions = topics::suggest(tallies, k);
        let terms: HashMap<String, term::Model> = loaders
            .terms::<term::Model>(Taxonomy::Need, suggestions.iter().map(|s| s.code.as_str()))
            .await?
            .into_iter()
            .map(|t| (t.code.clone(), t))
            .collect();
        let count = |value: Option<u64>| StatisticsCount {
            count: value.map(|v| i32::try_from(v).unwrap_or(i32::MAX)),
            suppressed: value.is_none(),
        };
        Ok(Some(
            suggestions
                .into_iter()
                .filter_map(|s| {
                    let need = terms.get(&s.code)?.clone();
                    Some(SuggestedTopic {
                        need: Term(need),
                        people_assessed: count(s.assessed),
                        people_referred: count(s.referred),
                        uncovered_municipalities: i32::try_from(s.uncovered).unwrap_or(i32::MAX),
                        municipalities: i32::try_from(s.municipalities).unwrap_or(i32::MAX),
                        on_agenda: s.on_agenda,
                    })
                })
                .collect(),
        ))
    }
    /// When the record was created.
    async fn created_at(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
    /// When the group, its members or its meetings last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// A need that could become a topic of a working group: how many people of its
/// territory it concerns and where no service addresses it. Aggregates only, with the
/// k-anonymity of the regional statistics.
#[derive(SimpleObject, Clone)]
pub struct SuggestedTopic {
    /// The need (NEED term).
    pub need: Term,
    /// Distinct people living in the territory (their municipality of residence now)
    /// with an assessment of the period recording the need: two organizations' records
    /// of one person (same codice fiscale) count once; erased people are left out.
    /// Withheld from 1 to k − 1.
    pub people_assessed: StatisticsCount,
    /// Distinct people living in the territory with a referral naming the need sent
    /// in the period, counted the same way. Withheld from 1 to k − 1.
    pub people_referred: StatisticsCount,
    /// Municipalities of the territory that no ACTIVE service of a service type
    /// addressing the need (`Term.serviceTypes`) covers.
    pub uncovered_municipalities: i32,
    /// Municipalities of the territory.
    pub municipalities: i32,
    /// True when a topic of one of the group's meetings (not cancelled) already comes
    /// from this need.
    pub on_agenda: bool,
}

crate::connection!(
    WorkingGroupConnection,
    WorkingGroupEdge,
    WorkingGroup,
    "working groups"
);

/// An organization's part in a working group.
#[derive(Clone, Debug)]
pub struct WorkingGroupMember(pub working_group_member::Model);

impl From<working_group_member::Model> for WorkingGroupMember {
    fn from(model: working_group_member::Model) -> Self {
        Self(model)
    }
}

/// An organization's part in a working group.
#[Object]
impl WorkingGroupMember {
    /// The organization.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.organization_id))
            .await
    }
    /// Its role in the group.
    async fn role(&self) -> WorkingGroupRole {
        self.0.role.into()
    }
    /// When it joined (or its role last changed).
    async fn since(&self) -> Timestamp {
        Timestamp(self.0.created_at)
    }
}

/// A meeting of a working group.
#[derive(Clone, Debug)]
pub struct Meeting(pub meeting::Model);

impl From<meeting::Model> for Meeting {
    fn from(model: meeting::Model) -> Self {
        Self(model)
    }
}

impl Meeting {
    async fn details(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        details_visible(ctx, self.0.working_group_id).await
    }
}

/// A meeting of a working group. Its date, status and agenda are public; its place,
/// link, attendance, minutes and actions are null unless the caller acts for a member
/// of the group or is the regional administration.
#[Object]
impl Meeting {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Meeting, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// The working group.
    async fn working_group(&self, ctx: &Context<'_>) -> GqlResult<Option<WorkingGroup>> {
        ctx.loaders()?
            .one(WorkingGroupById(self.0.working_group_id))
            .await
    }
    /// When the meeting starts.
    async fn starts_at(&self) -> Timestamp {
        Timestamp(self.0.starts_at)
    }
    /// Planned, held or cancelled.
    async fn status(&self) -> MeetingStatus {
        self.0.status.into()
    }
    /// The agenda, in order.
    async fn topics(&self, ctx: &Context<'_>) -> GqlResult<Vec<MeetingTopic>> {
        ctx.loaders()?.all(TopicsOfMeeting(self.0.id)).await
    }
    /// Where the meeting takes place; null for callers outside the group.
    async fn place(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self
            .details(ctx)
            .await?
            .then(|| self.0.place.clone())
            .flatten())
    }
    /// The link to join remotely; null for callers outside the group.
    async fn link(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        Ok(self
            .details(ctx)
            .await?
            .then(|| self.0.link.clone())
            .flatten())
    }
    /// Where the minutes are published; null for callers outside the group.
    async fn minutes_url(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        let url = self.0.minutes_url.clone();
        Ok(self.details(ctx).await?.then_some(url).flatten())
    }
    /// SHA-256 of the minutes, hex; null for callers outside the group.
    async fn minutes_sha256(&self, ctx: &Context<'_>) -> GqlResult<Option<String>> {
        let hash = self.0.minutes_sha256.clone();
        Ok(self.details(ctx).await?.then_some(hash).flatten())
    }
    /// The organizations present and their staff; null for callers outside the group.
    async fn attendance(&self, ctx: &Context<'_>) -> GqlResult<Option<Vec<MeetingAttendance>>> {
        if !self.details(ctx).await? {
            return Ok(None);
        }
        Ok(Some(
            ctx.loaders()?.all(AttendanceOfMeeting(self.0.id)).await?,
        ))
    }
    /// Decisions and actions taken; null for callers outside the group.
    async fn actions(&self, ctx: &Context<'_>) -> GqlResult<Option<Vec<MeetingAction>>> {
        if !self.details(ctx).await? {
            return Ok(None);
        }
        Ok(Some(ctx.loaders()?.all(ActionsOfMeeting(self.0.id)).await?))
    }
    /// When the record was last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// One item of a meeting's agenda.
#[derive(Clone, Debug)]
pub struct MeetingTopic(pub meeting_topic::Model);

impl From<meeting_topic::Model> for MeetingTopic {
    fn from(model: meeting_topic::Model) -> Self {
        Self(model)
    }
}

/// One item of a meeting's agenda.
#[Object]
impl MeetingTopic {
    /// Position in the agenda, from 1.
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Details.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The need (NEED term) the topic comes from, when it does.
    async fn need(&self, ctx: &Context<'_>) -> GqlResult<Option<Term>> {
        let Some(code) = &self.0.need_code else {
            return Ok(None);
        };
        ctx.loaders()?
            .one(TermByCode(Taxonomy::Need, code.clone()))
            .await
    }
}

/// An organization present at a meeting.
#[derive(Clone, Debug)]
pub struct MeetingAttendance(pub meeting_attendance::Model);

impl From<meeting_attendance::Model> for MeetingAttendance {
    fn from(model: meeting_attendance::Model) -> Self {
        Self(model)
    }
}

/// A member of an organization's staff who took part in a meeting (never a person
/// served).
#[derive(SimpleObject, Clone, Debug)]
pub struct Participant {
    /// Name.
    pub name: String,
    /// Role or job title.
    pub role: Option<String>,
}

/// An organization present at a meeting.
#[Object]
impl MeetingAttendance {
    /// The organization.
    async fn organization(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        ctx.loaders()?
            .one(OrganizationById(self.0.organization_id))
            .await
    }
    /// Its staff present.
    async fn participants(&self) -> Vec<Participant> {
        service::participants(&self.0)
            .into_iter()
            .map(|p| Participant {
                name: p.name,
                role: p.role,
            })
            .collect()
    }
}

/// A decision or action taken at a meeting.
#[derive(Clone, Debug)]
pub struct MeetingAction(pub meeting_action::Model);

impl From<meeting_action::Model> for MeetingAction {
    fn from(model: meeting_action::Model) -> Self {
        Self(model)
    }
}

/// A decision or action taken at a meeting, with its owner and due date.
#[Object]
impl MeetingAction {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::MeetingAction, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// The meeting that took it.
    async fn meeting(&self, ctx: &Context<'_>) -> GqlResult<Option<Meeting>> {
        ctx.loaders()?.one(MeetingById(self.0.meeting_id)).await
    }
    /// Decision or action.
    async fn kind(&self) -> MeetingActionKind {
        self.0.kind.into()
    }
    /// What was decided or is to be done.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The organization that owns it.
    async fn owner(&self, ctx: &Context<'_>) -> GqlResult<Option<Organization>> {
        let Some(owner) = self.0.owner_organization_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(OrganizationById(owner)).await
    }
    /// When it is due.
    async fn due_on(&self) -> Option<Date> {
        self.0.due_on.map(Date)
    }
    /// Open, done or dropped.
    async fn status(&self) -> MeetingActionStatus {
        self.0.status.into()
    }
    /// When the record was last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}
