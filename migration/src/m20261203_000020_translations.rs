//! Translations of the directory's text: the name, description, eligibility,
//! application process and fees of a service, and the text of organizations, sites and
//! taxonomy terms, in any ISO 639-1 language. The Italian text stays in its own table
//! (it is the original and the fallback); a `translation` row holds one object's text
//! in one other language, each field null where it is not translated.
//!
//! One table for the four kinds of object: `subject_type` names the GraphQL type
//! (`Service`, `Organization`, `Location`, `Term`) and `subject_id` its row (ids are
//! UUIDs, unique across tables). No foreign key can point at four tables, so the API
//! deletes a site's translations with the site (services, organizations and terms are
//! never deleted). The unique index on `(subject_id, language)` is also the one the
//! batched reads of a page's translations use.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{drop_index, entity_table, index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut table = entity_table("translation");
        table
            .col(string_len(n("subject_type"), 32))
            .col(uuid(n("subject_id")))
            .col(string_len(n("language"), 8))
            .col(string_len_null(n("name"), 300))
            .col(string_len_null(n("alternate_name"), 300))
            .col(text_null(n("description")))
            .col(text_null(n("eligibility_description")))
            .col(text_null(n("fees_description")))
            .col(text_null(n("application_process")))
            .col(integer(n("row_version")).default(1));
        m.create_table(table).await?;
        m.create_index(index("translation", &["subject_id", "language"], true))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(drop_index("translation", &["subject_id", "language"]))
            .await?;
        m.drop_table(Table::drop().table(n("translation")).to_owned())
            .await?;
        Ok(())
    }
}
