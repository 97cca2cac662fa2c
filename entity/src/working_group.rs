//! The `working_group` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "working_group")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// The name folded for ordering and search.
    pub search_name: String,
    pub purpose: Option<String>,
    /// A hub area, a zone or the region.
    pub territory_id: Uuid,
    pub lead_organization_id: Uuid,
    pub status: WorkingGroupStatus,
    pub starts_on: Option<Date>,
    pub ends_on: Option<Date>,
    /// Optimistic-concurrency version, bumped by every change.
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
