//! The `need_service_type` link table: a service type that addresses a need.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "need_service_type")]
pub struct Model {
    /// The NEED term.
    #[sea_orm(primary_key, auto_increment = false)]
    pub need_term_id: Uuid,
    /// The SERVICE_TYPE term.
    #[sea_orm(primary_key, auto_increment = false)]
    pub service_type_term_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The service type.
    #[sea_orm(
        belongs_to = "super::term::Entity",
        from = "Column::ServiceTypeTermId",
        to = "super::term::Column::Id"
    )]
    ServiceType,
}

impl Related<super::term::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ServiceType.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
