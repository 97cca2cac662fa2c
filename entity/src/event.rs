//! The `event` table: the outbox.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "event")]
pub struct Model {
    /// Monotonic position: events commit in this order.
    #[sea_orm(primary_key)]
    pub position: i64,
    /// Public id (the `webhook-id` of deliveries).
    pub id: Uuid,
    /// Type, e.g. `referral.sent`.
    pub event_type: String,
    /// GraphQL type of the subject, e.g. `Referral`.
    pub subject_type: String,
    pub subject_id: Uuid,
    /// Readable by anyone (catalogue, protocols); else by its audience only.
    pub public: bool,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
