//! The `territory` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "territory")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: TerritoryKind,
    pub code: String,
    pub name: String,
    pub search_name: String,
    pub parent_id: Option<Uuid>,
    pub cadastral_code: Option<String>,
    pub abbreviation: Option<String>,
    pub valid_from: Option<Date>,
    pub valid_to: Option<Date>,
    /// Optimistic-concurrency version, bumped by every change.
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
