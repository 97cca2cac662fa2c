//! Webhooks: an organization's endpoints with the event types they want, their
//! signing secrets (several while a rotation overlaps), one delivery per event and
//! endpoint with its state and next attempt, and the log of attempts.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{entity_table, fk, index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            entity_table("webhook_endpoint")
                .col(uuid(n("organization_id")))
                .col(string_len(n("url"), 2048))
                .col(string_len_null(n("description"), 500))
                .col(text(n("event_types")))
                .col(string_len(n("status"), 16))
                .col(string_len_null(n("disabled_reason"), 500))
                .col(timestamp_with_time_zone_null(n("disabled_at")))
                .col(integer(n("consecutive_failures")).default(0))
                .col(big_integer(n("cursor_position")).default(0))
                .col(integer(n("row_version")).default(1))
                .foreign_key(&mut fk(
                    "webhook_endpoint",
                    "organization_id",
                    "organization",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        // An organization's endpoints in creation order; the dispatcher's active ones.
        m.create_index(index(
            "webhook_endpoint",
            &["organization_id", "created_at", "id"],
            false,
        ))
        .await?;
        m.create_index(index("webhook_endpoint", &["status", "id"], false))
            .await?;
        m.create_table(
            Table::create()
                .table(n("webhook_secret"))
                .col(pk_uuid(n("id")))
                .col(uuid(n("endpoint_id")))
                .col(text(n("secret")))
                .col(timestamp_with_time_zone(n("created_at")))
                .col(timestamp_with_time_zone_null(n("expires_at")))
                .foreign_key(&mut fk(
                    "webhook_secret",
                    "endpoint_id",
                    "webhook_endpoint",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "webhook_secret",
            &["endpoint_id", "created_at"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(n("webhook_delivery"))
                .col(pk_uuid(n("id")))
                .col(uuid(n("endpoint_id")))
                .col(big_integer(n("event_position")))
                .col(uuid(n("event_id")))
                .col(string_len(n("event_type"), 64))
                .col(string_len(n("subject_type"), 32))
                .col(uuid(n("subject_id")))
                .col(timestamp_with_time_zone(n("occurred_at")))
                .col(string_len(n("state"), 16))
                .col(integer(n("attempts")).default(0))
                .col(timestamp_with_time_zone(n("next_attempt_at")))
                .col(timestamp_with_time_zone_null(n("lease_until")))
                .col(timestamp_with_time_zone(n("created_at")))
                .col(timestamp_with_time_zone_null(n("last_attempt_at")))
                .col(integer_null(n("last_status")))
                .col(timestamp_with_time_zone_null(n("delivered_at")))
                .foreign_key(&mut fk(
                    "webhook_delivery",
                    "endpoint_id",
                    "webhook_endpoint",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        // One delivery per event and endpoint; the log of an endpoint by position.
        m.create_index(index(
            "webhook_delivery",
            &["endpoint_id", "event_position"],
            true,
        ))
        .await?;
        // Due deliveries, and the earlier pending ones of the same subject (order).
        m.create_index(index(
            "webhook_delivery",
            &["state", "next_attempt_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "webhook_delivery",
            &["endpoint_id", "subject_id", "state", "event_position"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(n("webhook_attempt"))
                .col(pk_uuid(n("id")))
                .col(uuid(n("delivery_id")))
                .col(timestamp_with_time_zone(n("attempted_at")))
                .col(integer_null(n("status_code")))
                .col(string_len_null(n("error"), 500))
                .col(integer(n("latency_ms")))
                .foreign_key(&mut fk(
                    "webhook_attempt",
                    "delivery_id",
                    "webhook_delivery",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "webhook_attempt",
            &["delivery_id", "attempted_at"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "webhook_attempt",
            "webhook_delivery",
            "webhook_secret",
            "webhook_endpoint",
        ] {
            m.drop_table(Table::drop().table(n(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
