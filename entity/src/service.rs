//! The `service` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;
use sea_orm::{Iterable, QuerySelect};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "service")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub search_name: String,
    pub search_text: String,
    pub alternate_name: Option<String>,
    pub description: String,
    pub status: ServiceStatus,
    pub eligibility_description: Option<String>,
    pub minimum_age: Option<i32>,
    pub maximum_age: Option<i32>,
    pub fees_description: Option<String>,
    pub application_process: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
    pub delivery_mode: DeliveryMode,
    pub funding: Option<String>,
    pub open_places: Option<i32>,
    pub waitlist_length: Option<i32>,
    pub typical_wait_days: Option<i32>,
    pub capacity_updated_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version, bumped by every change.
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Whether `column` is one of the long texts (`search_text`, `description`,
/// `eligibility_description`, `fees_description`, `application_process`, `funding`:
/// most of a row's bytes).
fn is_long_text(column: Column) -> bool {
    matches!(
        column,
        Column::SearchText
            | Column::Description
            | Column::EligibilityDescription
            | Column::FeesDescription
            | Column::ApplicationProcess
            | Column::Funding
    )
}

/// `select` reading every column but the long texts ([`is_long_text`]), which come
/// back as `''` (not `NULL`: SeaORM formats an error message for every `NULL` it
/// decodes): for readers that never show them. A row read so is not the stored row;
/// whoever shows one of its long texts reads the row again.
pub fn without_long_texts(select: Select<Entity>) -> Select<Entity> {
    let mut select = select.select_only();
    for column in Column::iter() {
        select = if is_long_text(column) {
            select.column_as(Expr::cust("''"), column.as_str())
        } else {
            select.column(column)
        };
    }
    select
}
