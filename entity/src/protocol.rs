//! The `protocol` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "protocol")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub title: String,
    pub search_name: String,
    pub version: i32,
    pub description: Option<String>,
    pub valid_from: Option<Date>,
    pub valid_to: Option<Date>,
    pub document_url: Option<String>,
    pub document_sha256: Option<String>,
    pub response_time_days: i32,
    pub status: ProtocolStatus,
    pub supersedes_id: Option<Uuid>,
    /// Optimistic-concurrency version, bumped by every change.
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
