//! Working groups of the network and their meetings: a group belongs to a territory
//! (hub area, zone or the region), is led by one organization and has member
//! organizations; its meetings have an agenda of topics, attendance by organization
//! (with the staff who took part), minutes (a document reference and its hash) and the
//! decisions and actions taken, with owners and due dates.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{entity_table, fk, index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut group = entity_table("working_group");
        group
            .col(string_len(n("name"), 200))
            .col(string_len(n("search_name"), 200))
            .col(text_null(n("purpose")))
            .col(uuid(n("territory_id")))
            .col(uuid(n("lead_organization_id")))
            .col(string_len(n("status"), 16))
            .col(date_null(n("starts_on")))
            .col(date_null(n("ends_on")))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "working_group",
                "territory_id",
                "territory",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "working_group",
                "lead_organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(group).await?;
        // The list's order, alone and after each of its filters.
        for cols in [
            &["search_name", "id"][..],
            &["territory_id", "search_name", "id"],
            &["lead_organization_id", "search_name", "id"],
            &["status", "search_name", "id"],
        ] {
            m.create_index(index("working_group", cols, false)).await?;
        }

        let mut member = Table::create();
        member
            .table(n("working_group_member"))
            .col(uuid(n("working_group_id")))
            .col(uuid(n("organization_id")))
            .col(string_len(n("role"), 16))
            .col(timestamp_with_time_zone(n("created_at")))
            .primary_key(
                Index::create()
                    .col(n("working_group_id"))
                    .col(n("organization_id")),
            )
            .foreign_key(&mut fk(
                "working_group_member",
                "working_group_id",
                "working_group",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "working_group_member",
                "organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(member.to_owned()).await?;
        // "Groups of this organization".
        m.create_index(index(
            "working_group_member",
            &["organization_id", "working_group_id"],
            false,
        ))
        .await?;

        let mut meeting = entity_table("meeting");
        meeting
            .col(uuid(n("working_group_id")))
            .col(timestamp_with_time_zone(n("starts_at")))
            .col(string_len(n("status"), 16))
            .col(string_len_null(n("place"), 500))
            .col(string_len_null(n("link"), 500))
            .col(string_len_null(n("minutes_url"), 500))
            .col(string_len_null(n("minutes_sha256"), 64))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "meeting",
                "working_group_id",
                "working_group",
                ForeignKeyAction::Cascade,
            ));
        m.create_table(meeting).await?;
        m.create_index(index("meeting", &["working_group_id", "starts_at"], false))
            .await?;

        let mut topic = Table::create();
        topic
            .table(n("meeting_topic"))
            .col(pk_uuid(n("id")))
            .col(uuid(n("meeting_id")))
            .col(integer(n("position")))
            .col(string_len(n("title"), 200))
            .col(text_null(n("description")))
            // A NEED code of the taxonomy when the topic comes from an emerging need.
            .col(string_len_null(n("need_code"), 64))
            .foreign_key(&mut fk(
                "meeting_topic",
                "meeting_id",
                "meeting",
                ForeignKeyAction::Cascade,
            ));
        m.create_table(topic.to_owned()).await?;
        m.create_index(index("meeting_topic", &["meeting_id", "position"], false))
            .await?;

        let mut attendance = Table::create();
        attendance
            .table(n("meeting_attendance"))
            .col(uuid(n("meeting_id")))
            .col(uuid(n("organization_id")))
            // The staff who took part, as JSON: [{"name": …, "role": …}].
            .col(text(n("participants")))
            .primary_key(
                Index::create()
                    .col(n("meeting_id"))
                    .col(n("organization_id")),
            )
            .foreign_key(&mut fk(
                "meeting_attendance",
                "meeting_id",
                "meeting",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "meeting_attendance",
                "organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(attendance.to_owned()).await?;

        let mut action = entity_table("meeting_action");
        action
            .col(uuid(n("meeting_id")))
            .col(string_len(n("kind"), 16))
            .col(text(n("description")))
            .col(uuid_null(n("owner_organization_id")))
            .col(date_null(n("due_on")))
            .col(string_len(n("status"), 16))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "meeting_action",
                "meeting_id",
                "meeting",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "meeting_action",
                "owner_organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(action).await?;
        m.create_index(index(
            "meeting_action",
            &["meeting_id", "created_at"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "meeting_action",
            "meeting_attendance",
            "meeting_topic",
            "meeting",
            "working_group_member",
            "working_group",
        ] {
            m.drop_table(Table::drop().table(n(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
