//! The `tombstone` table: what left a reader's view (deleted, hidden, erased), so a
//! mirror can drop its copy. Ids and codes only, never personal values.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "tombstone")]
pub struct Model {
    /// Monotonic position: tombstones commit in this order.
    #[sea_orm(primary_key)]
    pub position: i64,
    /// Public id (the cursor's tie-break).
    pub id: Uuid,
    /// GraphQL type of the subject, e.g. `Service`.
    pub subject_type: String,
    pub subject_id: Uuid,
    /// The one organization that may read it; `None`: everyone.
    pub organization_id: Option<Uuid>,
    /// Why the subject left the view, e.g. `DELETED`.
    pub reason: String,
    pub removed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
