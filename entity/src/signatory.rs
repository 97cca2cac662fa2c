//! The `signatory` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "signatory")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub protocol_id: Uuid,
    pub organization_id: Uuid,
    pub role: SignatoryRole,
    pub status: SignatoryStatus,
    pub invited_at: Option<DateTimeUtc>,
    pub signed_at: Option<DateTimeUtc>,
    pub signed_by_name: Option<String>,
    pub signed_by_title: Option<String>,
    pub withdrawn_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version, bumped by every change.
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
