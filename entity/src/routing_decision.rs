//! The `routing_decision` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "routing_decision")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub rule_id: Uuid,
    pub assessment_id: Uuid,
    pub person_id: Uuid,
    /// The assessing (sending) organization.
    pub organization_id: Uuid,
    pub need_code: String,
    pub mode: RoutingMode,
    pub outcome: RoutingOutcome,
    pub reason: Option<String>,
    /// JSON: the services considered.
    pub considered: String,
    /// Space-separated ids of the referrals created.
    pub referral_ids: String,
    pub decided_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
