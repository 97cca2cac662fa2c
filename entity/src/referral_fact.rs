//! The `referral_fact` table: one row per sent referral with the coded facts the
//! regional statistics aggregate (period, territory, kinds, state, reasons, outcome,
//! durations), kept in the transaction of every transition. No personal values.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "referral_fact")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub referral_id: Uuid,
    /// Month the referral was sent, as `year * 12 + month - 1` (UTC); its quarter is
    /// `sent_month / 3`.
    pub sent_month: i32,
    /// The person's municipality of residence when the referral was sent.
    pub municipality_id: Uuid,
    /// Its province.
    pub province_id: Option<Uuid>,
    pub service_id: Uuid,
    pub sender_kind: OrganizationKind,
    pub receiver_kind: OrganizationKind,
    pub status: ReferralStatus,
    /// The REJECTION_REASON code, once rejected.
    pub rejection_reason: Option<String>,
    pub declined_by: Option<DeclinedBy>,
    pub outcome: Option<Outcome>,
    /// Was accepted at some point.
    pub accepted: bool,
    /// Whole minutes from sending to the receiver's first answer (received, accepted or
    /// rejected).
    pub receipt_minutes: Option<i32>,
    /// Whole minutes from sending to acceptance.
    pub acceptance_minutes: Option<i32>,
    /// Whole minutes from sending to completion.
    pub completion_minutes: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
