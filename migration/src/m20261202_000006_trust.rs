//! Trust: each organization's record of a person is its own, referrals remember when
//! they were sent and until when their receiver may read the person, and free text about
//! people is encrypted (wider columns where PostgreSQL bounds their length).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::tables::{drop_index, index, link_table, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Referral states after which the receiver's access runs out.
const FINAL: &[&str] = &["COMPLETED", "REJECTED", "FAILED", "CANCELLED", "EXPIRED"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        // One record per organization and codice fiscale: the hash links records only
        // for de-duplication and statistics.
        m.drop_index(drop_index("person", &["codice_fiscale_hash"]))
            .await?;
        m.create_index(index(
            "person",
            &["registered_by_organization_id", "codice_fiscale_hash"],
            true,
        ))
        .await?;
        m.create_index(
            Index::create()
                .name("ix_person_hash")
                .table(n("person"))
                .col(n("codice_fiscale_hash"))
                .to_owned(),
        )
        .await?;
        // Links gave a second organization the first one's record: they go.
        m.drop_table(Table::drop().table(n("person_link")).to_owned())
            .await?;

        m.alter_table(
            Table::alter()
                .table(n("referral"))
                .add_column(timestamp_with_time_zone_null(n("sent_at")))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(n("referral"))
                .add_column(timestamp_with_time_zone_null(n("receiver_access_until")))
                .to_owned(),
        )
        .await?;
        // Sent referrals: the time of their SEND event.
        let sent = Query::select()
            .expr(Expr::col((n("referral_event"), n("occurred_at"))).max())
            .from(n("referral_event"))
            .and_where(
                Expr::col((n("referral_event"), n("referral_id"))).equals((n("referral"), n("id"))),
            )
            .and_where(Expr::col((n("referral_event"), n("action"))).eq("SEND"))
            .to_owned();
        db.execute(
            &Query::update()
                .table(n("referral"))
                .value(
                    n("sent_at"),
                    SimpleExpr::SubQuery(None, Box::new(sent.into_sub_query_statement())),
                )
                .to_owned(),
        )
        .await?;
        // Referrals that ended before this migration: their receiver's access ends at
        // once (the period did not exist then).
        db.execute(
            &Query::update()
                .table(n("referral"))
                .value(n("receiver_access_until"), Expr::col(n("updated_at")))
                .and_where(Expr::col(n("status")).is_in(FINAL.iter().copied()))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "referral",
            &["receiver_organization_id", "sent_at"],
            false,
        ))
        .await?;

        // An organization's auditor reads the access log of its own reads.
        m.create_index(index("person_access", &["actor_organization_id"], false))
            .await?;

        // The audit log never stores personal values: earlier entries about people kept
        // them in `before`/`after`; only the fact of the change stays.
        db.execute(
            &Query::update()
                .table(n("audit_event"))
                .value(n("before"), Expr::cust("NULL"))
                .value(n("after"), Expr::cust("NULL"))
                .and_where(Expr::col(n("object_type")).eq("Person"))
                .to_owned(),
        )
        .await?;

        // Encrypted free text is longer than its plaintext: PostgreSQL bounds these
        // columns' length, SQLite does not.
        if m.get_database_backend() == DatabaseBackend::Postgres {
            for (table, column) in [("consent", "evidence"), ("consent", "purpose")] {
                m.alter_table(
                    Table::alter()
                        .table(n(table))
                        .modify_column(ColumnDef::new(n(column)).text().not_null())
                        .to_owned(),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(drop_index("person_access", &["actor_organization_id"]))
            .await?;
        m.drop_index(drop_index(
            "referral",
            &["receiver_organization_id", "sent_at"],
        ))
        .await?;
        for column in ["receiver_access_until", "sent_at"] {
            m.alter_table(
                Table::alter()
                    .table(n("referral"))
                    .drop_column(n(column))
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(link_table(
            "person_link",
            ("person_id", "person"),
            ("organization_id", "organization"),
        ))
        .await?;
        m.create_index(index("person_link", &["organization_id"], false))
            .await?;
        for name in [
            "ix_person_hash",
            "ix_person_registered_by_organization_id_codice_fiscale_hash",
        ] {
            m.drop_index(Index::drop().name(name).table(n("person")).to_owned())
                .await?;
        }
        m.create_index(index("person", &["codice_fiscale_hash"], true))
            .await?;
        Ok(())
    }
}
