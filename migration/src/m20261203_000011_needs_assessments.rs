//! Needs assessments: an organization's record of what a person it holds needs, with a
//! severity per need, the target groups the person belongs to and encrypted notes.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{entity_table, fk, index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut assessment = entity_table("needs_assessment");
        assessment
            .col(uuid(n("person_id")))
            .col(uuid(n("organization_id")))
            .col(string_len(n("assessor"), 200))
            .col(date(n("assessed_on")))
            // Target group codes, space-separated (like `referral.needs`).
            .col(string_len(n("target_groups"), 1000).default(""))
            // Encrypted like other free text: `<key id>:<base64(nonce || ciphertext)>`.
            .col(text_null(n("notes_enc")))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "needs_assessment",
                "person_id",
                "person",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "needs_assessment",
                "organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(assessment).await?;
        m.create_index(index(
            "needs_assessment",
            &["person_id", "assessed_on"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(n("assessed_need"))
                .col(uuid(n("assessment_id")))
                .col(string_len(n("need_code"), 64))
                .col(string_len(n("severity"), 16))
                .primary_key(Index::create().col(n("assessment_id")).col(n("need_code")))
                .foreign_key(&mut fk(
                    "assessed_need",
                    "assessment_id",
                    "needs_assessment",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["assessed_need", "needs_assessment"] {
            m.drop_table(Table::drop().table(n(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
