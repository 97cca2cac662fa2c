//! The `plan_action` table: an action of an individual plan, a service of some
//! organization serving one of the plan's goals, followed through the referral that
//! started it.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "plan_action")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub plan_id: Uuid,
    pub goal_id: Uuid,
    pub service_id: Uuid,
    /// The service's provider, which performs the action.
    pub organization_id: Uuid,
    /// What is to be done (encrypted).
    pub description_enc: Option<String>,
    pub starts_on: Option<Date>,
    pub ends_on: Option<Date>,
    pub status: PlanActionStatus,
    pub outcome: Option<Outcome>,
    /// The referral that started it (the latest one, after a reroute or a new try).
    pub referral_id: Option<Uuid>,
    /// Optimistic-concurrency version, bumped by every change.
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
