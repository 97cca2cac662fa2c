//! Identity and management: optimistic-concurrency versions, machine credentials and
//! the audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::n;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables whose rows are changed through mutations and carry a `row_version`.
const VERSIONED: &[&str] = &[
    "territory",
    "organization",
    "location",
    "contact",
    "term",
    "service",
    "protocol",
    "signatory",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in VERSIONED {
            m.alter_table(
                Table::alter()
                    .table(n(table))
                    .add_column(integer(n("row_version")).default(1))
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(n("api_client"))
                .col(pk_uuid(n("id")))
                .col(uuid(n("organization_id")))
                .col(string_len(n("name"), 200))
                .col(text(n("scopes")))
                .col(text(n("secret_hash")))
                .col(timestamp_with_time_zone_null(n("secret_rotated_at")))
                .col(timestamp_with_time_zone_null(n("revoked_at")))
                .col(timestamp_with_time_zone_null(n("last_used_at")))
                .col(string_len(n("created_by"), 200))
                .col(integer(n("row_version")).default(1))
                .col(timestamp_with_time_zone(n("created_at")))
                .col(timestamp_with_time_zone(n("updated_at")))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_api_client_organization_id")
                        .from(n("api_client"), n("organization_id"))
                        .to(n("organization"), n("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_api_client_organization_id")
                .table(n("api_client"))
                .col(n("organization_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(n("audit_event"))
                .col(pk_uuid(n("id")))
                .col(timestamp_with_time_zone(n("occurred_at")))
                .col(string_len(n("actor_subject"), 200))
                .col(string_len(n("actor_kind"), 16))
                .col(uuid_null(n("actor_organization_id")))
                .col(string_len(n("operation"), 100))
                .col(string_len(n("object_type"), 50))
                .col(uuid(n("object_id")))
                .col(json_null(n("before")))
                .col(json_null(n("after")))
                .col(string_len_null(n("request_id"), 64))
                .to_owned(),
        )
        .await?;
        for cols in [
            &["occurred_at", "id"][..],
            &["actor_subject"][..],
            &["actor_organization_id"][..],
            &["object_id"][..],
        ] {
            let mut index = Index::create();
            index
                .name(format!("ix_audit_event_{}", cols.join("_")))
                .table(n("audit_event"));
            for col in cols {
                index.col(n(col));
            }
            m.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(n("audit_event")).to_owned())
            .await?;
        m.drop_table(Table::drop().table(n("api_client")).to_owned())
            .await?;
        for table in VERSIONED {
            m.alter_table(
                Table::alter()
                    .table(n(table))
                    .drop_column(n("row_version"))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
