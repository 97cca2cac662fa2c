//! The `referral` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "referral")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: Uuid,
    pub sender_organization_id: Uuid,
    pub sender_operator: String,
    pub receiver_service_id: Uuid,
    pub receiver_organization_id: Uuid,
    pub protocol_id: Option<Uuid>,
    /// Space-separated NEED term codes.
    pub needs: String,
    pub reason: String,
    pub priority: Priority,
    pub due_at: Option<DateTimeUtc>,
    pub consent_id: Option<Uuid>,
    pub channel: ReferralChannel,
    pub rerouted_from_id: Option<Uuid>,
    /// The routing rule that created it (channel AUTOMATED_RULE).
    pub routing_rule_id: Option<Uuid>,
    pub status: ReferralStatus,
    pub outcome: Option<Outcome>,
    /// When it was sent (null while a draft, and for drafts cancelled unsent).
    pub sent_at: Option<DateTimeUtc>,
    /// Until when its receiver may read it and its person once it ended (null while
    /// open).
    pub receiver_access_until: Option<DateTimeUtc>,
    /// Sent to a service with no open place: waits for one.
    pub waitlisted: bool,
    /// Accepted while the service counted its places: holds one until it ends.
    pub holds_place: bool,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
