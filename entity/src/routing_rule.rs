//! The `routing_rule` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "routing_rule")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// Null: region-wide.
    pub protocol_id: Option<Uuid>,
    pub need_code: String,
    pub min_severity: Severity,
    /// SERVICE_TYPE codes, space-separated.
    pub service_types: String,
    pub territory_id: Option<Uuid>,
    pub target_group: Option<String>,
    pub min_age: Option<i32>,
    pub max_age: Option<i32>,
    pub mode: RoutingMode,
    pub max_proposals: i32,
    pub priority: i32,
    pub valid_from: Option<Date>,
    pub valid_to: Option<Date>,
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
