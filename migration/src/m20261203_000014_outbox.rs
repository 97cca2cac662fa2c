//! The outbox: every change that matters to another party is an event, written in the
//! transaction of the change, with a monotonic position, its type, its subject, and
//! either public or the organizations entitled to see it. No personal values.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(n("event"))
                .col(big_pk_auto(n("position")))
                .col(uuid_uniq(n("id")))
                .col(string_len(n("event_type"), 64))
                .col(string_len(n("subject_type"), 32))
                .col(uuid(n("subject_id")))
                .col(boolean(n("public")).default(false))
                .col(timestamp_with_time_zone(n("occurred_at")))
                .to_owned(),
        )
        .await?;
        // The feed's order (position, then id as every list's tie-break), alone, for the
        // public events and by type.
        m.create_index(index("event", &["position", "id"], true))
            .await?;
        for cols in [
            &["public", "position", "id"][..],
            &["event_type", "position", "id"],
        ] {
            m.create_index(index("event", cols, false)).await?;
        }
        m.create_table(
            Table::create()
                .table(n("event_audience"))
                .col(uuid(n("organization_id")))
                .col(big_integer(n("position")))
                .primary_key(Index::create().col(n("organization_id")).col(n("position")))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_event_audience_position")
                        .from(n("event_audience"), n("position"))
                        .to(n("event"), n("position"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["event_audience", "event"] {
            m.drop_table(Table::drop().table(n(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
