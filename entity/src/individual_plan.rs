//! The `individual_plan` table: a person's individual plan (piano individualizzato),
//! held by the organization that leads the pathway, on its own record of the person.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "individual_plan")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The lead organization's own record of the person.
    pub person_id: Uuid,
    /// The organization that leads the pathway.
    pub lead_organization_id: Uuid,
    pub status: PlanStatus,
    pub starts_on: Date,
    pub closed_on: Option<Date>,
    /// Why it was closed (encrypted).
    pub closing_note_enc: Option<String>,
    /// The day the person signed the plan.
    pub agreement_signed_on: Option<Date>,
    /// The evidence of the person's agreement, a document reference (encrypted).
    pub agreement_evidence_enc: Option<String>,
    /// Optimistic-concurrency version, bumped by every change of the plan or its parts.
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
