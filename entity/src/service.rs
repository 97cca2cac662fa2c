//! The `service` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;
use sea_orm::{FromQueryResult, QueryResult, QuerySelect};

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

/// The columns a list reads when its selection shows nothing else: what names a
/// service, its status and the keys it is ordered and paged by. None can be `NULL`, and
/// none is a long text.
pub const HEAD: [Column; 9] = [
    Column::Id,
    Column::OrganizationId,
    Column::Name,
    Column::SearchName,
    Column::Status,
    Column::DeliveryMode,
    Column::RowVersion,
    Column::CreatedAt,
    Column::UpdatedAt,
];

/// `select` reading only the [`HEAD`] columns, for [`Head`].
pub fn head_only(select: Select<Entity>) -> Select<Entity> {
    select.select_only().columns(HEAD)
}

/// A service row read [`head_only`]: its [`HEAD`] columns as stored, the others empty
/// (`''`, `NULL`). It is not the stored row: whoever shows another column reads the row
/// again. Decoding only these columns spares the rest of the row's bytes and the
/// message SeaORM formats for every `NULL` it decodes.
#[derive(Clone, Debug)]
pub struct Head(pub Model);

impl FromQueryResult for Head {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self(Model {
            id: row.try_get(pre, Column::Id.as_str())?,
            organization_id: row.try_get(pre, Column::OrganizationId.as_str())?,
            name: row.try_get(pre, Column::Name.as_str())?,
            search_name: row.try_get(pre, Column::SearchName.as_str())?,
            search_text: String::new(),
            alternate_name: None,
            description: String::new(),
            status: row.try_get(pre, Column::Status.as_str())?,
            eligibility_description: None,
            minimum_age: None,
            maximum_age: None,
            fees_description: None,
            application_process: None,
            url: None,
            email: None,
            delivery_mode: row.try_get(pre, Column::DeliveryMode.as_str())?,
            funding: None,
            open_places: None,
            waitlist_length: None,
            typical_wait_days: None,
            capacity_updated_at: None,
            row_version: row.try_get(pre, Column::RowVersion.as_str())?,
            created_at: row.try_get(pre, Column::CreatedAt.as_str())?,
            updated_at: row.try_get(pre, Column::UpdatedAt.as_str())?,
        }))
    }
}

impl From<Head> for Model {
    fn from(head: Head) -> Self {
        head.0
    }
}

impl AsRef<Model> for Head {
    fn as_ref(&self) -> &Model {
        &self.0
    }
}

impl AsRef<Model> for Model {
    fn as_ref(&self) -> &Model {
        self
    }
}
