//! The `needs_assessment` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "needs_assessment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The assessing organization's own record of the person.
    pub person_id: Uuid,
    /// The assessing organization.
    pub organization_id: Uuid,
    /// The operator (or partner system) that assessed.
    pub assessor: String,
    pub assessed_on: Date,
    /// TARGET_GROUP term codes, space-separated.
    pub target_groups: String,
    /// Encrypted notes.
    pub notes_enc: Option<String>,
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
