//! Working group mutations: the group and its members, meetings (schedule, change,
//! cancel, record as held) and the follow-up of their actions. Managed by the lead
//! organization's administrators and the regional administration.

use super::service::{
    self, Attendance, GroupChanges, MeetingChanges, MeetingRecord, Membership, NewAction, NewGroup,
    NewMeeting, NewTopic, Participant,
};
use super::types::{
    Meeting, MeetingAction, MeetingActionKind, MeetingActionStatus, WorkingGroup, WorkingGroupRole,
    WorkingGroupStatus,
};
use crate::error::{AppResult, GqlResult};
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::relay::{NodeKind, expect_id, expect_opt_id};
use crate::graphql::scalars::{Date, Timestamp};
use async_graphql::{Context, ID, InputObject, Object};

/// An organization taking part in a working group.
#[derive(InputObject)]
pub struct WorkingGroupMemberInput {
    /// The organization.
    pub organization: ID,
    /// Its role: MEMBER or OBSERVER (LEAD is the lead organization's).
    pub role: WorkingGroupRole,
}

/// A new working group; its lead becomes a member with role LEAD.
#[derive(InputObject)]
pub struct CreateWorkingGroupInput {
    /// Name (at most 200 characters).
    pub name: String,
    /// What the group is for (at most 4,000 characters).
    pub purpose: Option<String>,
    /// The hub area, zone or region the group works for.
    pub territory: ID,
    /// The organization that leads the group.
    pub lead: ID,
    /// First day of the group's work.
    pub starts_on: Option<Date>,
    /// Last day; not before `startsOn`.
    pub ends_on: Option<Date>,
    /// Other member organizations (at most 100).
    #[graphql(default)]
    pub members: Vec<WorkingGroupMemberInput>,
}

/// Changes a working group; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateWorkingGroupInput {
    /// The group.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// New name.
    pub name: Option<String>,
    /// New purpose; an empty string clears it.
    pub purpose: Option<String>,
    /// New first day.
    pub starts_on: Option<Date>,
    /// New last day.
    pub ends_on: Option<Date>,
    /// ACTIVE, or CLOSED when the group ends its work.
    pub status: Option<WorkingGroupStatus>,
}

/// Adds an organization to a working group, or changes its role.
#[derive(InputObject)]
pub struct SetWorkingGroupMemberInput {
    /// The group.
    pub working_group: ID,
    /// The organization.
    pub organization: ID,
    /// Its role: MEMBER or OBSERVER.
    pub role: WorkingGroupRole,
}

/// Removes an organization from a working group (not its lead).
#[derive(InputObject)]
pub struct RemoveWorkingGroupMemberInput {
    /// The group.
    pub working_group: ID,
    /// The organization.
    pub organization: ID,
}

/// One item of an agenda.
#[derive(InputObject)]
pub struct MeetingTopicInput {
    /// Title (at most 200 characters).
    pub title: String,
    /// Details (at most 4,000 characters).
    pub description: Option<String>,
    /// The code of the NEED term the topic comes from (see `WorkingGroup` needs).
    pub need: Option<String>,
}

/// A new meeting of a working group, PLANNED.
#[derive(InputObject)]
pub struct ScheduleMeetingInput {
    /// The group (ACTIVE).
    pub working_group: ID,
    /// When the meeting starts.
    pub starts_at: Timestamp,
    /// Where (an address or a room; at most 500 characters).
    pub place: Option<String>,
    /// A link to join remotely (http or https).
    pub link: Option<String>,
    /// The agenda, in order (at most 100 topics).
    #[graphql(default)]
    pub topics: Vec<MeetingTopicInput>,
}

/// Changes a PLANNED meeting; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateMeetingInput {
    /// The meeting.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// New start.
    pub starts_at: Option<Timestamp>,
    /// New place; an empty string clears it.
    pub place: Option<String>,
    /// New link; an empty string clears it.
    pub link: Option<String>,
    /// A new agenda, replacing the old one.
    pub topics: Option<Vec<MeetingTopicInput>>,
}

/// Cancels a PLANNED meeting.
#[derive(InputObject)]
pub struct CancelMeetingInput {
    /// The meeting.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
}

/// A member of an organization's staff at a meeting (never a person served).
#[derive(InputObject)]
pub struct ParticipantInput {
    /// Name (at most 200 characters).
    pub name: String,
    /// Role or job title (at most 200 characters).
    pub role: Option<String>,
}

/// An organization present at a meeting.
#[derive(InputObject)]
pub struct MeetingAttendanceInput {
    /// The organization.
    pub organization: ID,
    /// Its staff present (at most 100).
    #[graphql(default)]
    pub participants: Vec<ParticipantInput>,
}

/// A decision or action taken at a meeting.
#[derive(InputObject)]
pub struct MeetingActionInput {
    /// Decision or action.
    pub kind: MeetingActionKind,
    /// What was decided or is to be done (at most 4,000 characters).
    pub description: String,
    /// The organization that owns it.
    pub owner: Option<ID>,
    /// When it is due.
    pub due_on: Option<Date>,
}

/// Records a PLANNED meeting that has started as HELD.
#[derive(InputObject)]
pub struct RecordMeetingInput {
    /// The meeting.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// The organizations present, with their staff (at most 100).
    #[graphql(default)]
    pub attendance: Vec<MeetingAttendanceInput>,
    /// Where the minutes are published (http or https); with `minutesSha256`.
    pub minutes_url: Option<String>,
    /// SHA-256 of the minutes: 64 hexadecimal digits; with `minutesUrl`.
    pub minutes_sha256: Option<String>,
    /// Decisions and actions taken (at most 100).
    #[graphql(default)]
    pub actions: Vec<MeetingActionInput>,
}

/// Moves a decision or action of a meeting to another status.
#[derive(InputObject)]
pub struct SetMeetingActionStatusInput {
    /// The action.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// The new status.
    pub status: MeetingActionStatus,
}

payload! {
    CreateWorkingGroupPayload("createWorkingGroup") { working_group: WorkingGroup, "The new group" }
    UpdateWorkingGroupPayload("updateWorkingGroup") {
        working_group: WorkingGroup, "The group after the change"
    }
    SetWorkingGroupMemberPayload("setWorkingGroupMember") {
        working_group: WorkingGroup, "The group after the change"
    }
    RemoveWorkingGroupMemberPayload("removeWorkingGroupMember") {
        working_group: WorkingGroup, "The group after the change"
    }
    ScheduleMeetingPayload("scheduleMeeting") { meeting: Meeting, "The new meeting" }
    UpdateMeetingPayload("updateMeeting") { meeting: Meeting, "The meeting after the change" }
    CancelMeetingPayload("cancelMeeting") { meeting: Meeting, "The meeting after the change" }
    RecordMeetingPayload("recordMeeting") { meeting: Meeting, "The meeting as held" }
    SetMeetingActionStatusPayload("setMeetingActionStatus") {
        action: MeetingAction, "The action after the change"
    }
}

fn organization(id: &ID) -> AppResult<uuid::Uuid> {
    expect_id(id, NodeKind::Organization)
}

fn topics(input: Vec<MeetingTopicInput>) -> Vec<NewTopic> {
    input
        .into_iter()
        .map(|t| NewTopic {
            title: t.title,
            description: t.description,
            need: t.need,
        })
        .collect()
}

/// Working group mutations.
#[derive(Default)]
pub struct WorkingGroupMutations;

#[Object]
impl WorkingGroupMutations {
    /// Creates a working group led by `lead`, ACTIVE. REGIONAL_ADMIN, or an ORG_ADMIN of
    /// the lead organization.
    async fn create_working_group(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateWorkingGroupInput,
    ) -> GqlResult<CreateWorkingGroupPayload> {
        let members = input
            .members
            .iter()
            .map(|m| {
                Ok(Membership {
                    organization: organization(&m.organization)?,
                    role: m.role.into(),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        let new = NewGroup {
            name: input.name,
            purpose: input.purpose,
            territory: expect_id(&input.territory, NodeKind::Territory)?,
            lead: organization(&input.lead)?,
            starts_on: input.starts_on.map(|d| d.0),
            ends_on: input.ends_on.map(|d| d.0),
            members,
        };
        mutate(ctx, async |db, actor| service::create(db, actor, new).await).await
    }

    /// Changes a working group's name, purpose, dates or status. REGIONAL_ADMIN, or an
    /// ORG_ADMIN of the lead organization.
    async fn update_working_group(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateWorkingGroupInput,
    ) -> GqlResult<UpdateWorkingGroupPayload> {
        let id = expect_id(&input.id, NodeKind::WorkingGroup)?;
        let changes = GroupChanges {
            name: input.name,
            purpose: input.purpose,
            starts_on: input.starts_on.map(|d| d.0),
            ends_on: input.ends_on.map(|d| d.0),
            status: input.status.map(Into::into),
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::update(db, actor, id, expected, changes).await
        })
        .await
    }

    /// Adds an organization to a working group or changes its role. REGIONAL_ADMIN, or
    /// an ORG_ADMIN of the lead organization.
    async fn set_working_group_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: SetWorkingGroupMemberInput,
    ) -> GqlResult<SetWorkingGroupMemberPayload> {
        let group = expect_id(&input.working_group, NodeKind::WorkingGroup)?;
        let member = Membership {
            organization: organization(&input.organization)?,
            role: input.role.into(),
        };
        mutate(ctx, async |db, actor| {
            service::set_member(db, actor, group, member).await
        })
        .await
    }

    /// Removes an organization from a working group; the lead stays. REGIONAL_ADMIN, or
    /// an ORG_ADMIN of the lead organization.
    async fn remove_working_group_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RemoveWorkingGroupMemberInput,
    ) -> GqlResult<RemoveWorkingGroupMemberPayload> {
        let group = expect_id(&input.working_group, NodeKind::WorkingGroup)?;
        let member = organization(&input.organization)?;
        mutate(ctx, async |db, actor| {
            service::remove_member(db, actor, group, member).await
        })
        .await
    }

    /// Schedules a meeting of an ACTIVE working group with its agenda. REGIONAL_ADMIN,
    /// or an ORG_ADMIN of the lead organization.
    async fn schedule_meeting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: ScheduleMeetingInput,
    ) -> GqlResult<ScheduleMeetingPayload> {
        let new = NewMeeting {
            group: expect_id(&input.working_group, NodeKind::WorkingGroup)?,
            starts_at: input.starts_at.into(),
            place: input.place,
            link: input.link,
            topics: topics(input.topics),
        };
        mutate(ctx, async |db, actor| {
            service::schedule_meeting(db, actor, new).await
        })
        .await
    }

    /// Changes a PLANNED meeting: when, where, its agenda. REGIONAL_ADMIN, or an
    /// ORG_ADMIN of the lead organization.
    async fn update_meeting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateMeetingInput,
    ) -> GqlResult<UpdateMeetingPayload> {
        let id = expect_id(&input.id, NodeKind::Meeting)?;
        let changes = MeetingChanges {
            starts_at: input.starts_at.map(Into::into),
            place: input.place,
            link: input.link,
            topics: input.topics.map(topics),
            cancel: false,
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::update_meeting(db, actor, id, expected, changes).await
        })
        .await
    }

    /// Cancels a PLANNED meeting. REGIONAL_ADMIN, or an ORG_ADMIN of the lead
    /// organization.
    async fn cancel_meeting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CancelMeetingInput,
    ) -> GqlResult<CancelMeetingPayload> {
        let id = expect_id(&input.id, NodeKind::Meeting)?;
        let changes = MeetingChanges {
            cancel: true,
            ..MeetingChanges::default()
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::update_meeting(db, actor, id, expected, changes).await
        })
        .await
    }

    /// Records a PLANNED meeting that has started as HELD: attendance, minutes,
    /// decisions and actions. REGIONAL_ADMIN, or an ORG_ADMIN of the lead organization.
    async fn record_meeting(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RecordMeetingInput,
    ) -> GqlResult<RecordMeetingPayload> {
        let id = expect_id(&input.id, NodeKind::Meeting)?;
        let attendance = input
            .attendance
            .into_iter()
            .map(|a| {
                Ok(Attendance {
                    organization: organization(&a.organization)?,
                    participants: a
                        .participants
                        .into_iter()
                        .map(|p| Participant {
                            name: p.name,
                            role: p.role,
                        })
                        .collect(),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        let actions = input
            .actions
            .into_iter()
            .map(|a| {
                Ok(NewAction {
                    kind: a.kind.into(),
                    description: a.description,
                    owner: expect_opt_id(a.owner.as_ref(), NodeKind::Organization)?,
                    due_on: a.due_on.map(|d| d.0),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        let record = MeetingRecord {
            attendance,
            minutes_url: input.minutes_url,
            minutes_sha256: input.minutes_sha256,
            actions,
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::record_meeting(db, actor, id, expected, record).await
        })
        .await
    }

    /// Moves a decision or action of a meeting to OPEN, DONE or DROPPED. REGIONAL_ADMIN,
    /// an ORG_ADMIN of the lead organization, or an ORG_ADMIN or OPERATOR of the
    /// organization that owns the action.
    async fn set_meeting_action_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: SetMeetingActionStatusInput,
    ) -> GqlResult<SetMeetingActionStatusPayload> {
        let id = expect_id(&input.id, NodeKind::MeetingAction)?;
        let (expected, status) = (input.expected_version, input.status.into());
        mutate(ctx, async |db, actor| {
            service::set_action_status(db, actor, id, expected, status).await
        })
        .await
    }
}
