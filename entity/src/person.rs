//! The `person` table.

#[allow(unused_imports)]
use crate::enums::*;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "person")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Encrypted codice fiscale (`<key id>:<base64>`); never serialized.
    #[serde(skip_serializing)]
    pub codice_fiscale_enc: Option<String>,
    /// HMAC-SHA-256 of the normalised codice fiscale, for matching.
    #[serde(skip_serializing)]
    pub codice_fiscale_hash: Option<String>,
    /// Encrypted given name; never serialized.
    #[serde(skip_serializing)]
    pub given_name_enc: Option<String>,
    /// Encrypted family name; never serialized.
    #[serde(skip_serializing)]
    pub family_name_enc: Option<String>,
    /// Encrypted contacts (JSON); never serialized.
    #[serde(skip_serializing)]
    pub contacts_enc: Option<String>,
    pub birth_date: Option<Date>,
    pub gender: Option<Gender>,
    pub citizenship: Option<String>,
    pub residence_municipality_id: Option<Uuid>,
    /// Space-separated ISO 639-1 codes.
    pub languages: String,
    pub contact_channel: ContactChannel,
    pub registered_by_organization_id: Uuid,
    pub erased_at: Option<DateTimeUtc>,
    pub row_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
