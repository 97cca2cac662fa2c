//! Incremental sync: tombstones, and the indexes of the "changed since" filters and
//! orders.
//!
//! A tombstone tells a mirror that something it may hold is gone from its view: a site
//! deleted, a service that left the active catalogue, a referral whose personal text
//! was erased or whose receiver's reading period ended. It has a monotonic position
//! (written in the transaction of the removal, in commit order like the outbox), the
//! subject's type and id, the one organization entitled to see it (NULL: everyone),
//! a reason and the time. No personal values.
//!
//! Every list that a mirror reads "changed since" is ordered by `(updated_at, id)`
//! within the rows the list always restricts to (the inbox and the outbox by their
//! organization), so each page after a cursor seeks in an index.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{drop_index, index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Indexes `(table, columns)` this migration adds.
const INDEXES: &[(&str, &[&str])] = &[
    ("organization", &["updated_at", "id"]),
    ("protocol", &["updated_at", "id"]),
    ("location", &["updated_at", "id"]),
    ("location", &["name", "id"]),
    ("location", &["organization_id", "name", "id"]),
    (
        "referral",
        &["receiver_organization_id", "updated_at", "id"],
    ),
    ("referral", &["sender_organization_id", "updated_at", "id"]),
    // The job that writes the tombstones of ended reading periods.
    ("referral", &["receiver_access_until"]),
];

/// The index a new one makes redundant (its prefix).
const SUPERSEDED: (&str, &[&str]) = ("location", &["organization_id"]);

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(n("tombstone"))
                .col(big_pk_auto(n("position")))
                .col(uuid_uniq(n("id")))
                .col(string_len(n("subject_type"), 32))
                .col(uuid(n("subject_id")))
                .col(uuid_null(n("organization_id")))
                .col(string_len(n("reason"), 32))
                .col(timestamp_with_time_zone(n("removed_at")))
                .to_owned(),
        )
        .await?;
        // The feed's order, alone (public tombstones and the caller's organization's
        // are one OR over it), by subject type, and by organization.
        m.create_index(index("tombstone", &["position", "id"], true))
            .await?;
        for cols in [
            &["subject_type", "position", "id"][..],
            &["organization_id", "position", "id"],
            &["subject_id"],
            &["reason", "removed_at"],
        ] {
            m.create_index(index("tombstone", cols, false)).await?;
        }
        for (table, cols) in INDEXES {
            m.create_index(index(table, cols, false)).await?;
        }
        let (table, cols) = SUPERSEDED;
        m.drop_index(drop_index(table, cols)).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let (table, cols) = SUPERSEDED;
        m.create_index(index(table, cols, false)).await?;
        for (table, cols) in INDEXES {
            m.drop_index(drop_index(table, cols)).await?;
        }
        m.drop_table(Table::drop().table(n("tombstone")).to_owned())
            .await
    }
}
