//! The `translation` table: the text of a service, organization, site or taxonomy term
//! in one language other than Italian (null where a field is not translated).

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "translation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// GraphQL type of the translated object: `Service`, `Organization`, `Location` or
    /// `Term`.
    pub subject_type: String,
    pub subject_id: Uuid,
    /// ISO 639-1 code, lower case.
    pub language: String,
    /// Name (a term's label).
    pub name: Option<String>,
    pub alternate_name: Option<String>,
    pub description: Option<String>,
    pub eligibility_description: Option<String>,
    pub fees_description: Option<String>,
    pub application_process: Option<String>,
    /// Optimistic-concurrency version, bumped by every change.
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
