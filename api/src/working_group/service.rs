//! Working groups and their meetings: who may read what, the list, and the changes
//! (by the lead organization's administrators and the regional administration).
//!
//! The rule of what is public: a group, its members, its meetings' dates, statuses and
//! agendas are the network's public summary; a meeting's place and link, attendance,
//! minutes and actions are read only by the group's member organizations and the
//! regional administration ([`may_read_details`]).

use crate::audit::service::{self as audit, Actor, log_with};
use crate::auth::policy;
use crate::auth::viewer::{Role, Viewer, ViewerKind};
use crate::concurrency;
use crate::error::AppResult;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{
    MeetingActionKind, MeetingActionStatus, MeetingStatus, Taxonomy, TerritoryKind,
    WorkingGroupRole, WorkingGroupStatus,
};
use entity::{
    meeting, meeting_action, meeting_attendance, meeting_topic, organization, term, territory,
    working_group, working_group_member,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// Longest name of a group and title of a topic.
const NAME_MAX: usize = 200;
/// Longest purpose, topic description or action description.
const TEXT_MAX: usize = 4000;
/// Longest place of a meeting.
const PLACE_MAX: usize = 500;
/// Most members, topics, attending organizations, participants or actions in one input.
const LIST_MAX: usize = 100;

/// True when `viewer` reads the details of a group whose member organizations are
/// `members`: the regional administration, or anyone acting for a member.
pub fn may_read_details(viewer: &Viewer, members: &[Uuid]) -> bool {
    if viewer.kind == ViewerKind::User && viewer.has_role(Role::RegionalAdmin) {
        return true;
    }
    viewer.kind != ViewerKind::Anonymous
        && viewer
            .organization
            .is_some_and(|organization| members.contains(&organization))
}

/// The regional administration, or an administrator of the group's lead organization.
fn require_manager(viewer: &Viewer, lead: Uuid) -> AppResult<()> {
    if policy::require_regional_admin(viewer).is_ok() {
        return Ok(());
    }
    policy::require_org_admin(viewer, lead)
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct GroupQuery {
    /// Only groups of this territory.
    pub territory: Option<Uuid>,
    /// Only groups this organization is a member of (the lead included).
    pub organization: Option<Uuid>,
    /// Only groups led by this organization.
    pub lead: Option<Uuid>,
    /// Only these statuses.
    pub statuses: Vec<WorkingGroupStatus>,
    /// Name contains this text (case and accents ignored).
    pub search: Option<String>,
    /// The order reversed.
    pub descending: bool,
}

/// Lists working groups by name.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    query: &GroupQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<working_group::Model>, u64)> {
    let mut select = working_group::Entity::find();
    if let Some(territory) = query.territory {
        select = select.filter(working_group::Column::TerritoryId.eq(territory));
    }
    if let Some(lead) = query.lead {
        select = select.filter(working_group::Column::LeadOrganizationId.eq(lead));
    }
    if let Some(organization) = query.organization {
        select = select.filter(
            working_group::Column::Id.in_subquery(
                Query::select()
                    .column(working_group_member::Column::WorkingGroupId)
                    .from(working_group_member::Entity)
                    .and_where(working_group_member::Column::OrganizationId.eq(organization))
                    .to_owned(),
            ),
        );
    }
    if !query.statuses.is_empty() {
        select = select.filter(working_group::Column::Status.is_in(query.statuses.clone()));
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(&melt_text::fold(search));
        select = select.filter(
            Expr::col(working_group::Column::SearchName).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    let sort = Sort::by(
        working_group::Column::SearchName,
        working_group::Column::Id,
        query.descending,
        |row: &working_group::Model| Cursor::new(SortKey::Text(row.search_name.clone()), row.id),
    );
    pagination::list(db, select, &sort, window, with_total).await
}

/// An organization's part in a new or changed group.
#[derive(Clone, Copy, Debug)]
pub struct Membership {
    /// The organization.
    pub organization: Uuid,
    /// Its role (LEAD is the lead's alone).
    pub role: WorkingGroupRole,
}

/// Values of a new working group.
#[derive(Clone, Debug)]
pub struct NewGroup {
    /// Name.
    pub name: String,
    /// What the group is for.
    pub purpose: Option<String>,
    /// A hub area, a zone or the region.
    pub territory: Uuid,
    /// The lead organization.
    pub lead: Uuid,
    /// First day.
    pub starts_on: Option<NaiveDate>,
    /// Last day.
    pub ends_on: Option<NaiveDate>,
    /// Other member organizations.
    pub members: Vec<Membership>,
}

/// Checks the territory of a group: a hub area, a zone or the region.
async fn check_territory(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    territory: Uuid,
) -> AppResult<()> {
    match territory::Entity::find_by_id(territory).one(db).await? {
        None => v.add("territory", FieldErrorCode::NotFound, "no such territory"),
        Some(t)
            if !matches!(
                t.kind,
                TerritoryKind::HubArea | TerritoryKind::Zone | TerritoryKind::Region
            ) =>
        {
            v.add(
                "territory",
                FieldErrorCode::Invalid,
                "must be a hub area, a zone or the region",
            );
        }
        Some(_) => {}
    }
    Ok(())
}

/// The ids among `ids` that name no organization.
async fn missing_organizations(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> AppResult<HashSet<Uuid>> {
    let ids: HashSet<Uuid> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(ids);
    }
    let found: HashSet<Uuid> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect();
    Ok(ids.difference(&found).copied().collect())
}

/// The member organizations of a group, as stored.
pub async fn members_of(
    db: &impl ConnectionTrait,
    group: Uuid,
) -> AppResult<Vec<working_group_member::Model>> {
    Ok(working_group_member::Entity::find()
        .filter(working_group_member::Column::WorkingGroupId.eq(group))
        .all(db)
        .await?)
}

/// Creates a working group with its lead (role LEAD) and members. The regional
/// administration for any lead; an organization's administrators for a group their
/// organization leads.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewGroup,
) -> AppResult<Checked<working_group::Model>> {
    require_manager(&actor.viewer, input.lead)?;
    let mut v = Validator::default();
    let name = v.name("name", &input.name, NAME_MAX);
    let purpose = v.optional_text("purpose", input.purpose.as_deref(), TEXT_MAX);
    v.ordered(
        "endsOn",
        input.starts_on,
        input.ends_on,
        "must not be before startsOn",
    );
    check_territory(db, &mut v, input.territory).await?;
    if input.members.len() > LIST_MAX {
        v.add(
            "members",
            FieldErrorCode::TooLong,
            format!("at most {LIST_MAX} members"),
        );
    }
    let missing = missing_organizations(
        db,
        std::iter::once(input.lead).chain(input.members.iter().map(|m| m.organization)),
    )
    .await?;
    if missing.contains(&input.lead) {
        v.add("lead", FieldErrorCode::NotFound, "no such organization");
    }
    let mut seen = HashSet::from([input.lead]);
    for (i, member) in input.members.iter().enumerate() {
        let field = format!("members.{i}.organization");
        if missing.contains(&member.organization) {
            v.add(&field, FieldErrorCode::NotFound, "no such organization");
        } else if !seen.insert(member.organization) {
            v.add(&field, FieldErrorCode::Taken, "is already a member");
        }
        if member.role == WorkingGroupRole::Lead {
            v.add(
                &format!("members.{i}.role"),
                FieldErrorCode::Invalid,
                "LEAD is the lead organization's role; give `lead`",
            );
        }
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let created = working_group::ActiveModel {
        id: Set(Uuid::now_v7()),
        search_name: Set(melt_text::fold(&name)),
        name: Set(name),
        purpose: Set(purpose),
        territory_id: Set(input.territory),
        lead_organization_id: Set(input.lead),
        status: Set(WorkingGroupStatus::Active),
        starts_on: Set(input.starts_on),
        ends_on: Set(input.ends_on),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let lead = Membership {
        organization: input.lead,
        role: WorkingGroupRole::Lead,
    };
    let rows: Vec<working_group_member::ActiveModel> = std::iter::once(lead)
        .chain(input.members.iter().copied())
        .map(|m| working_group_member::ActiveModel {
            working_group_id: Set(created.id),
            organization_id: Set(m.organization),
            role: Set(m.role),
            created_at: Set(now),
        })
        .collect();
    working_group_member::Entity::insert_many(rows)
        .exec(db)
        .await?;
    let members = members_json(&members_of(db, created.id).await?);
    log_with::<working_group::Entity>(
        db,
        actor,
        "createWorkingGroup",
        None,
        &created,
        ("members", members),
    )
    .await?;
    Ok(Ok(created))
}

fn members_json(members: &[working_group_member::Model]) -> serde_json::Value {
    serde_json::json!(
        members
            .iter()
            .map(|m| serde_json::json!({"organization": m.organization_id, "role": m.role}))
            .collect::<Vec<_>>()
    )
}

/// What a change of a group changes; omitted values stay.
#[derive(Clone, Debug, Default)]
pub struct GroupChanges {
    /// New name.
    pub name: Option<String>,
    /// New purpose; blank clears it.
    pub purpose: Option<String>,
    /// New first day.
    pub starts_on: Option<NaiveDate>,
    /// New last day.
    pub ends_on: Option<NaiveDate>,
    /// New status.
    pub status: Option<WorkingGroupStatus>,
}

/// Changes a group's name, purpose, dates or status.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected: i32,
    changes: GroupChanges,
) -> AppResult<Checked<working_group::Model>> {
    let before = concurrency::get::<working_group::Entity>(db, id).await?;
    require_manager(&actor.viewer, before.lead_organization_id)?;
    let mut v = Validator::default();
    let mut row: working_group::ActiveModel = Default::default();
    if let Some(name) = &changes.name {
        let name = v.name("name", name, NAME_MAX);
        row.search_name = Set(melt_text::fold(&name));
        row.name = Set(name);
    }
    if let Some(purpose) = &changes.purpose {
        row.purpose = Set(v.optional_text("purpose", Some(purpose), TEXT_MAX));
    }
    let starts_on = changes.starts_on.or(before.starts_on);
    let ends_on = changes.ends_on.or(before.ends_on);
    v.ordered("endsOn", starts_on, ends_on, "must not be before startsOn");
    row.starts_on = Set(starts_on);
    row.ends_on = Set(ends_on);
    if let Some(status) = changes.status {
        row.status = Set(status);
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let after =
        concurrency::update::<working_group::Entity, _>(db, row, &before, Some(expected)).await?;
    audit::log::<working_group::Entity>(
        db,
        actor,
        "updateWorkingGroup",
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(Ok(after))
}

/// Adds an organization to a group, or changes its role. The lead keeps LEAD.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_member(
    db: &impl ConnectionTrait,
    actor: &Actor,
    group: Uuid,
    member: Membership,
) -> AppResult<Checked<working_group::Model>> {
    let before = concurrency::get::<working_group::Entity>(db, group).await?;
    require_manager(&actor.viewer, before.lead_organization_id)?;
    let mut v = Validator::default();
    if !missing_organizations(db, [member.organization])
        .await?
        .is_empty()
    {
        v.add(
            "organization",
            FieldErrorCode::NotFound,
            "no such organization",
        );
    } else if member.organization == before.lead_organization_id {
        v.add(
            "organization",
            FieldErrorCode::InvalidState,
            "is the lead organization; its role is LEAD",
        );
    }
    if member.role == WorkingGroupRole::Lead {
        v.add(
            "role",
            FieldErrorCode::Invalid,
            "LEAD is the lead organization's role",
        );
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    working_group_member::Entity::delete_many()
        .filter(working_group_member::Column::WorkingGroupId.eq(group))
        .filter(working_group_member::Column::OrganizationId.eq(member.organization))
        .exec(db)
        .await?;
    working_group_member::ActiveModel {
        working_group_id: Set(group),
        organization_id: Set(member.organization),
        role: Set(member.role),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    members_changed(db, actor, "setWorkingGroupMember", &before).await
}

/// Removes an organization from a group; the lead cannot be removed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove_member(
    db: &impl ConnectionTrait,
    actor: &Actor,
    group: Uuid,
    organization: Uuid,
) -> AppResult<Checked<working_group::Model>> {
    let before = concurrency::get::<working_group::Entity>(db, group).await?;
    require_manager(&actor.viewer, before.lead_organization_id)?;
    let mut v = Validator::default();
    if organization == before.lead_organization_id {
        v.add(
            "organization",
            FieldErrorCode::InvalidState,
            "is the lead organization, which cannot leave its group",
        );
        return Ok(Err(v.finish()));
    }
    let removed = working_group_member::Entity::delete_many()
        .filter(working_group_member::Column::WorkingGroupId.eq(group))
        .filter(working_group_member::Column::OrganizationId.eq(organization))
        .exec(db)
        .await?;
    if removed.rows_affected == 0 {
        v.add(
            "organization",
            FieldErrorCode::NotFound,
            "is not a member of the group",
        );
        return Ok(Err(v.finish()));
    }
    members_changed(db, actor, "removeWorkingGroupMember", &before).await
}

/// Stamps the group as changed and records its members after a change of them.
async fn members_changed(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    before: &working_group::Model,
) -> AppResult<Checked<working_group::Model>> {
    concurrency::touch::<working_group::Entity>(db, before.id).await?;
    let after = concurrency::get::<working_group::Entity>(db, before.id).await?;
    let members = members_json(&members_of(db, before.id).await?);
    log_with::<working_group::Entity>(
        db,
        actor,
        operation,
        Some(before),
        &after,
        ("members", members),
    )
    .await?;
    Ok(Ok(after))
}

/// One item of an agenda.
#[derive(Clone, Debug)]
pub struct NewTopic {
    /// Title.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// The NEED code the topic comes from.
    pub need: Option<String>,
}

/// Values of a new meeting.
#[derive(Clone, Debug)]
pub struct NewMeeting {
    /// The group.
    pub group: Uuid,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// Where (an address or a room).
    pub place: Option<String>,
    /// A link to join it remotely.
    pub link: Option<String>,
    /// The agenda, in order.
    pub topics: Vec<NewTopic>,
}

/// Checks an agenda: titles, descriptions and need codes of the NEED taxonomy.
async fn check_topics(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    topics: &[NewTopic],
) -> AppResult<Vec<NewTopic>> {
    if topics.len() > LIST_MAX {
        v.add(
            "topics",
            FieldErrorCode::TooLong,
            format!("at most {LIST_MAX} topics"),
        );
        return Ok(Vec::new());
    }
    let codes: Vec<String> = topics.iter().filter_map(|t| t.need.clone()).collect();
    let known: HashSet<String> = if codes.is_empty() {
        HashSet::new()
    } else {
        term::Entity::find()
            .filter(term::Column::Taxonomy.eq(Taxonomy::Need))
            .filter(term::Column::Code.is_in(codes))
            .all(db)
            .await?
            .into_iter()
            .map(|t| t.code)
            .collect()
    };
    let mut checked = Vec::with_capacity(topics.len());
    for (i, topic) in topics.iter().enumerate() {
        let title = v.name(&format!("topics.{i}.title"), &topic.title, NAME_MAX);
        let description = v.optional_text(
            &format!("topics.{i}.description"),
            topic.description.as_deref(),
            TEXT_MAX,
        );
        if let Some(need) = &topic.need
            && !known.contains(need)
        {
            v.add(
                &format!("topics.{i}.need"),
                FieldErrorCode::NotFound,
                "no such NEED term",
            );
        }
        checked.push(NewTopic {
            title,
            description,
            need: topic.need.clone(),
        });
    }
    Ok(checked)
}

/// Replaces a meeting's agenda.
async fn write_topics(
    db: &impl ConnectionTrait,
    meeting: Uuid,
    topics: &[NewTopic],
) -> AppResult<()> {
    meeting_topic::Entity::delete_many()
        .filter(meeting_topic::Column::MeetingId.eq(meeting))
        .exec(db)
        .await?;
    if topics.is_empty() {
        return Ok(());
    }
    let rows = topics
        .iter()
        .zip(1..)
        .map(|(t, position)| meeting_topic::ActiveModel {
            id: Set(Uuid::now_v7()),
            meeting_id: Set(meeting),
            position: Set(position),
            title: Set(t.title.clone()),
            description: Set(t.description.clone()),
            need_code: Set(t.need.clone()),
        });
    meeting_topic::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

fn topics_json(topics: &[NewTopic]) -> serde_json::Value {
    serde_json::json!(
        topics
            .iter()
            .map(|t| serde_json::json!({"title": t.title, "need": t.need}))
            .collect::<Vec<_>>()
    )
}

/// Schedules a meeting of a group, with its agenda. The group's managers only; a CLOSED
/// group meets no more.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn schedule_meeting(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewMeeting,
) -> AppResult<Checked<meeting::Model>> {
    let group = concurrency::get::<working_group::Entity>(db, input.group).await?;
    require_manager(&actor.viewer, group.lead_organization_id)?;
    let mut v = Validator::default();
    if group.status == WorkingGroupStatus::Closed {
        v.add(
            "workingGroup",
            FieldErrorCode::InvalidState,
            "the working group is CLOSED",
        );
    }
    let place = v.optional_name("place", input.place.as_deref(), PLACE_MAX);
    let link = v.url("link", input.link.as_deref());
    let topics = check_topics(db, &mut v, &input.topics).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let created = meeting::ActiveModel {
        id: Set(Uuid::now_v7()),
        working_group_id: Set(group.id),
        starts_at: Set(input.starts_at),
        status: Set(MeetingStatus::Planned),
        place: Set(place),
        link: Set(link),
        minutes_url: Set(None),
        minutes_sha256: Set(None),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    write_topics(db, created.id, &topics).await?;
    concurrency::touch::<working_group::Entity>(db, group.id).await?;
    log_with::<meeting::Entity>(
        db,
        actor,
        "scheduleMeeting",
        None,
        &created,
        ("topics", topics_json(&topics)),
    )
    .await?;
    Ok(Ok(created))
}

/// What a change of a planned meeting changes; omitted values stay.
#[derive(Clone, Debug, Default)]
pub struct MeetingChanges {
    /// New start.
    pub starts_at: Option<DateTime<Utc>>,
    /// New place; blank clears it.
    pub place: Option<String>,
    /// New link; blank clears it.
    pub link: Option<String>,
    /// A new agenda, replacing the old one.
    pub topics: Option<Vec<NewTopic>>,
    /// True: the meeting is cancelled.
    pub cancel: bool,
}

/// The group of a meeting, checking that the caller manages it.
async fn managed_group(
    db: &impl ConnectionTrait,
    actor: &Actor,
    group: Uuid,
) -> AppResult<working_group::Model> {
    let group = concurrency::get::<working_group::Entity>(db, group).await?;
    require_manager(&actor.viewer, group.lead_organization_id)?;
    Ok(group)
}

/// The meeting `id` for a change by a manager of its group: refused (userErrors) unless
/// it is PLANNED; `change` says what is done, for the message.
async fn planned_meeting(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    change: &str,
) -> AppResult<Checked<meeting::Model>> {
    let meeting = concurrency::get::<meeting::Entity>(db, id).await?;
    managed_group(db, actor, meeting.working_group_id).await?;
    let mut v = Validator::default();
    if meeting.status != MeetingStatus::Planned {
        let message = format!("only a PLANNED meeting can be {change}");
        v.add("id", FieldErrorCode::InvalidState, message);
    }
    Ok(v.into_result(meeting))
}

/// Changes a PLANNED meeting: when, where, its agenda, or cancels it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update_meeting(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected: i32,
    changes: MeetingChanges,
) -> AppResult<Checked<meeting::Model>> {
    let before = match planned_meeting(db, actor, id, "changed").await? {
        Ok(meeting) => meeting,
        Err(errors) => return Ok(Err(errors)),
    };
    let mut v = Validator::default();
    let mut row: meeting::ActiveModel = Default::default();
    if let Some(starts_at) = changes.starts_at {
        row.starts_at = Set(starts_at);
    }
    if let Some(place) = &changes.place {
        row.place = Set(v.optional_name("place", Some(place), PLACE_MAX));
    }
    if let Some(link) = &changes.link {
        row.link = Set(v.url("link", Some(link)));
    }
    let topics = match &changes.topics {
        Some(topics) => Some(check_topics(db, &mut v, topics).await?),
        None => None,
    };
    if changes.cancel {
        row.status = Set(MeetingStatus::Cancelled);
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let after = concurrency::update::<meeting::Entity, _>(db, row, &before, Some(expected)).await?;
    let operation = if changes.cancel {
        "cancelMeeting"
    } else {
        "updateMeeting"
    };
    match &topics {
        Some(topics) => {
            write_topics(db, id, topics).await?;
            let topics = ("topics", topics_json(topics));
            log_with::<meeting::Entity>(db, actor, operation, Some(&before), &after, topics)
                .await?;
        }
        None => {
            audit::log::<meeting::Entity>(db, actor, operation, Some(&before), Some(&after))
                .await?;
        }
    }
    concurrency::touch::<working_group::Entity>(db, before.working_group_id).await?;
    Ok(Ok(after))
}

/// A staff member who took part in a meeting (never a person served).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Participant {
    /// Name.
    pub name: String,
    /// Role or job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// An organization present at a meeting, with its staff.
#[derive(Clone, Debug)]
pub struct Attendance {
    /// The organization.
    pub organization: Uuid,
    /// Its staff present.
    pub participants: Vec<Participant>,
}

/// A decision or action recorded at a meeting.
#[derive(Clone, Debug)]
pub struct NewAction {
    /// Decision or action.
    pub kind: MeetingActionKind,
    /// What was decided or is to be done.
    pub description: String,
    /// The organization that owns it.
    pub owner: Option<Uuid>,
    /// When it is due.
    pub due_on: Option<NaiveDate>,
}

/// What was recorded of a meeting that took place.
#[derive(Clone, Debug)]
pub struct MeetingRecord {
    /// Who attended.
    pub attendance: Vec<Attendance>,
    /// Where the minutes are published.
    pub minutes_url: Option<String>,
    /// SHA-256 of the minutes.
    pub minutes_sha256: Option<String>,
    /// Decisions and actions.
    pub actions: Vec<NewAction>,
}

/// Parses the stored participants of an attendance row.
pub fn participants(row: &meeting_attendance::Model) -> Vec<Participant> {
    serde_json::from_str(&row.participants).unwrap_or_default()
}

/// Checks an attendance list: existing organizations, once each; participants' names.
async fn check_attendance(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    attendance: &[Attendance],
) -> AppResult<Vec<Attendance>> {
    if attendance.len() > LIST_MAX {
        v.add(
            "attendance",
            FieldErrorCode::TooLong,
            format!("at most {LIST_MAX} organizations"),
        );
        return Ok(Vec::new());
    }
    let missing = missing_organizations(db, attendance.iter().map(|a| a.organization)).await?;
    let mut seen = HashSet::new();
    let mut checked = Vec::with_capacity(attendance.len());
    for (i, a) in attendance.iter().enumerate() {
        let field = format!("attendance.{i}.organization");
        if missing.contains(&a.organization) {
            v.add(&field, FieldErrorCode::NotFound, "no such organization");
        } else if !seen.insert(a.organization) {
            v.add(&field, FieldErrorCode::Taken, "is listed twice");
        }
        if a.participants.len() > LIST_MAX {
            v.add(
                &format!("attendance.{i}.participants"),
                FieldErrorCode::TooLong,
                format!("at most {LIST_MAX} participants"),
            );
            continue;
        }
        let participants = a
            .participants
            .iter()
            .enumerate()
            .map(|(j, p)| Participant {
                name: v.name(
                    &format!("attendance.{i}.participants.{j}.name"),
                    &p.name,
                    NAME_MAX,
                ),
                role: v.optional_name(
                    &format!("attendance.{i}.participants.{j}.role"),
                    p.role.as_deref(),
                    NAME_MAX,
                ),
            })
            .collect();
        checked.push(Attendance {
            organization: a.organization,
            participants,
        });
    }
    Ok(checked)
}

/// Checks the decisions and actions of a meeting.
async fn check_actions(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    actions: &[NewAction],
) -> AppResult<Vec<NewAction>> {
    if actions.len() > LIST_MAX {
        v.add(
            "actions",
            FieldErrorCode::TooLong,
            format!("at most {LIST_MAX} actions"),
        );
        return Ok(Vec::new());
    }
    let missing = missing_organizations(db, actions.iter().filter_map(|a| a.owner)).await?;
    let mut checked = Vec::with_capacity(actions.len());
    for (i, a) in actions.iter().enumerate() {
        let description = v.text(
            &format!("actions.{i}.description"),
            &a.description,
            TEXT_MAX,
        );
        if a.owner.is_some_and(|owner| missing.contains(&owner)) {
            v.add(
                &format!("actions.{i}.owner"),
                FieldErrorCode::NotFound,
                "no such organization",
            );
        }
        checked.push(NewAction {
            description,
            ..a.clone()
        });
    }
    Ok(checked)
}

/// Records a PLANNED meeting as HELD: who attended (organizations and their staff),
/// the minutes (a document and its hash) and the decisions and actions taken.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record_meeting(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected: i32,
    record: MeetingRecord,
) -> AppResult<Checked<meeting::Model>> {
    let before = match planned_meeting(db, actor, id, "recorded as held").await? {
        Ok(meeting) => meeting,
        Err(errors) => return Ok(Err(errors)),
    };
    let mut v = Validator::default();
    if before.starts_at > Utc::now() {
        v.add(
            "id",
            FieldErrorCode::InvalidState,
            "the meeting has not started yet",
        );
    }
    let minutes_url = v.url("minutesUrl", record.minutes_url.as_deref());
    let minutes_sha256 = v.optional_sha256("minutesSha256", record.minutes_sha256.as_deref());
    if minutes_url.is_some() != minutes_sha256.is_some() {
        v.add(
            "minutesSha256",
            FieldErrorCode::Required,
            "minutes need both their URL and their SHA-256",
        );
    }
    let attendance = check_attendance(db, &mut v, &record.attendance).await?;
    let actions = check_actions(db, &mut v, &record.actions).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let row = meeting::ActiveModel {
        status: Set(MeetingStatus::Held),
        minutes_url: Set(minutes_url),
        minutes_sha256: Set(minutes_sha256),
        ..Default::default()
    };
    let after = concurrency::update::<meeting::Entity, _>(db, row, &before, Some(expected)).await?;
    if !attendance.is_empty() {
        let rows = attendance.iter().map(|a| meeting_attendance::ActiveModel {
            meeting_id: Set(id),
            organization_id: Set(a.organization),
            participants: Set(serde_json::to_string(&a.participants).unwrap_or_default()),
        });
        meeting_attendance::Entity::insert_many(rows)
            .exec(db)
            .await?;
    }
    let now = Utc::now();
    for action in &actions {
        meeting_action::ActiveModel {
            id: Set(Uuid::now_v7()),
            meeting_id: Set(id),
            kind: Set(action.kind),
            description: Set(action.description.clone()),
            owner_organization_id: Set(action.owner),
            due_on: Set(action.due_on),
            status: Set(MeetingActionStatus::Open),
            row_version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    concurrency::touch::<working_group::Entity>(db, before.working_group_id).await?;
    // Staff names stay out of the audit log: it records who attended by organization.
    let recorded = serde_json::json!({
        "attendance": attendance.iter().map(|a| a.organization).collect::<Vec<_>>(),
        "actions": actions.len(),
    });
    log_with::<meeting::Entity>(
        db,
        actor,
        "recordMeeting",
        Some(&before),
        &after,
        ("recorded", recorded),
    )
    .await?;
    Ok(Ok(after))
}

/// Moves an action of a meeting to DONE, DROPPED or back to OPEN: the group's managers,
/// or an administrator or operator of the organization that owns the action.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_action_status(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected: i32,
    status: MeetingActionStatus,
) -> AppResult<Checked<meeting_action::Model>> {
    let before = concurrency::get::<meeting_action::Entity>(db, id).await?;
    let meeting = concurrency::get::<meeting::Entity>(db, before.meeting_id).await?;
    let group = concurrency::get::<working_group::Entity>(db, meeting.working_group_id).await?;
    let viewer = &actor.viewer;
    let owner = viewer.kind == ViewerKind::User
        && before.owner_organization_id.is_some()
        && viewer.organization == before.owner_organization_id
        && (viewer.has_role(Role::OrgAdmin) || viewer.has_role(Role::Operator));
    if !owner {
        require_manager(viewer, group.lead_organization_id)?;
    }
    let row = meeting_action::ActiveModel {
        status: Set(status),
        ..Default::default()
    };
    let after =
        concurrency::update::<meeting_action::Entity, _>(db, row, &before, Some(expected)).await?;
    audit::log::<meeting_action::Entity>(
        db,
        actor,
        "setMeetingActionStatus",
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(Ok(after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(kind: ViewerKind, roles: &[Role], organization: Option<Uuid>) -> Viewer {
        Viewer {
            kind,
            roles: roles.to_vec(),
            organization,
            ..Viewer::anonymous()
        }
    }

    #[test]
    fn only_members_and_the_regional_administration_read_a_groups_details() {
        let (member, outsider) = (Uuid::now_v7(), Uuid::now_v7());
        let members = [member];
        let operator = viewer(ViewerKind::User, &[Role::Operator], Some(member));
        let client = viewer(ViewerKind::Client, &[], Some(member));
        let other = viewer(ViewerKind::User, &[Role::OrgAdmin], Some(outsider));
        let region = viewer(ViewerKind::User, &[Role::RegionalAdmin], None);
        assert!(may_read_details(&operator, &members));
        assert!(may_read_details(&client, &members));
        assert!(may_read_details(&region, &members));
        assert!(!may_read_details(&other, &members));
        assert!(!may_read_details(&Viewer::anonymous(), &members));
    }

    #[test]
    fn a_group_is_managed_by_its_leads_administrators_and_the_region_only() {
        let lead = Uuid::now_v7();
        let admin = viewer(ViewerKind::User, &[Role::OrgAdmin], Some(lead));
        let operator = viewer(ViewerKind::User, &[Role::Operator], Some(lead));
        let client = viewer(ViewerKind::Client, &[], Some(lead));
        let region = viewer(ViewerKind::User, &[Role::RegionalAdmin], None);
        let other = viewer(ViewerKind::User, &[Role::OrgAdmin], Some(Uuid::now_v7()));
        assert!(require_manager(&admin, lead).is_ok());
        assert!(require_manager(&region, lead).is_ok());
        assert!(require_manager(&operator, lead).is_err());
        assert!(require_manager(&client, lead).is_err());
        assert!(require_manager(&other, lead).is_err());
    }
}
