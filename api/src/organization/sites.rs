//! An organization's own sites (locations) and contact points: created, changed and
//! deleted by its administrator or by a machine client with `organization:write`.

use crate::audit::service::{self as audit, Actor};
use crate::auth::policy;
use crate::auth::viewer::scopes;
use crate::concurrency::{self, Versioned};
use crate::error::AppResult;
use crate::territory::domain::IstatCode;
use crate::validation::{Checked, FieldErrorCode, Validator};
use entity::{contact, location, organization, service_at_location};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait,
    IntoActiveModel, QueryFilter,
};
use uuid::Uuid;

/// Resolves the ISTAT code of a municipality; a malformed code is INVALID and an unknown
/// one NOT_FOUND on `field`.
pub async fn resolve_municipality(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    field: &str,
    raw: &str,
) -> AppResult<Option<Uuid>> {
    let Ok(code) = IstatCode::parse(raw) else {
        v.add(
            field,
            FieldErrorCode::Invalid,
            "is not an ISTAT municipality code (six digits, e.g. 050026)",
        );
        return Ok(None);
    };
    let found = crate::territory::service::municipality_by_code(db, &code).await?;
    if found.is_none() {
        v.add(
            field,
            FieldErrorCode::NotFound,
            format!("no municipality has ISTAT code {}", code.as_str()),
        );
    }
    Ok(found.map(|m| m.id))
}

/// Checks an optional Italian postal code (CAP): five digits; blank becomes None.
fn postal_code(v: &mut Validator, field: &str, value: Option<&str>) -> Option<String> {
    let value = value.map(str::trim).filter(|p| !p.is_empty())?;
    if value.len() != 5 || !value.bytes().all(|b| b.is_ascii_digit()) {
        v.add(field, FieldErrorCode::Invalid, "must be five digits");
    }
    Some(value.to_owned())
}

/// Checks a pair of coordinates: latitude −90..90, longitude −180..180, both or neither.
fn coordinates(v: &mut Validator, latitude: Option<f64>, longitude: Option<f64>) {
    for (field, value, max) in [
        ("latitude", latitude, 90.0),
        ("longitude", longitude, 180.0),
    ] {
        if value.is_some_and(|value: f64| !(-max..=max).contains(&value)) {
            let message = format!("must be between -{max} and {max}");
            v.add(field, FieldErrorCode::OutOfRange, message);
        }
    }
    if latitude.is_some() != longitude.is_some() {
        let missing = if latitude.is_none() {
            "latitude"
        } else {
            "longitude"
        };
        let message = "latitude and longitude go together";
        v.add(missing, FieldErrorCode::Required, message);
    }
}

/// The tables of an organization's own rows: its sites and contact points.
trait Owned:
    Versioned<
        Model: serde::Serialize + IntoActiveModel<Self::ActiveModel>,
        ActiveModel: ActiveModelTrait<Entity = Self> + ActiveModelBehavior + Send,
    >
{
    /// The organization a row belongs to.
    fn owner(row: &Self::Model) -> Uuid;
    /// A new row of `organization`, at version 1.
    fn new_row(organization: Uuid) -> Self::ActiveModel;
}

macro_rules! owned {
    ($($table:ident),+) => {$(
        impl Owned for $table::Entity {
            fn owner(row: &$table::Model) -> Uuid {
                row.organization_id
            }
            fn new_row(organization: Uuid) -> $table::ActiveModel {
                let now = chrono::Utc::now();
                $table::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    organization_id: Set(organization),
                    row_version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
            }
        }
    )+};
}

owned!(location, contact);

/// Fails with FORBIDDEN unless the caller may change `organization`'s sites and
/// contacts: its administrator, or a machine client of it with `organization:write`.
fn require_write(actor: &Actor, organization: Uuid) -> AppResult<()> {
    policy::require_org_write(&actor.viewer, organization, scopes::ORGANIZATION_WRITE)
}

/// The row `id` of `E`, when the caller may change it.
async fn writable<E: Owned>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<E::Model> {
    let row = concurrency::get::<E>(db, id).await?;
    require_write(actor, E::owner(&row))?;
    Ok(row)
}

/// Adds a row of `E` to `organization`, with the fields `fill` validates into it.
async fn create<E: Owned>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    organization: Uuid,
    fill: impl AsyncFnOnce(&mut Validator, &mut E::ActiveModel) -> AppResult<()>,
) -> AppResult<Checked<E::Model>> {
    concurrency::get::<organization::Entity>(db, organization).await?;
    require_write(actor, organization)?;
    let mut row = E::new_row(organization);
    let mut v = Validator::default();
    fill(&mut v, &mut row).await?;
    super::save::<E>(db, actor, operation, v, row, None).await
}

/// Changes the row `id` of `E` read at `expected`, with the fields `fill` validates.
async fn update<E: Owned>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    (id, expected): (Uuid, i32),
    fill: impl AsyncFnOnce(&mut Validator, &mut E::ActiveModel) -> AppResult<()>,
) -> AppResult<Checked<E::Model>> {
    let before = writable::<E>(db, actor, id).await?;
    let mut row = before.clone().into_active_model();
    let mut v = Validator::default();
    fill(&mut v, &mut row).await?;
    super::save::<E>(db, actor, operation, v, row, Some((&before, expected))).await
}

/// Deletes the row `id` of `E` read at `expected`, unless `refuse` records user errors.
async fn delete<E: Owned>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    (id, expected): (Uuid, i32),
    refuse: impl AsyncFnOnce(&mut Validator) -> AppResult<()>,
) -> AppResult<Checked<Uuid>> {
    let before = writable::<E>(db, actor, id).await?;
    let (_, version) = E::id_and_version(&before);
    concurrency::check_expected(Some(expected), version)?;
    let mut v = Validator::default();
    refuse(&mut v).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let result = E::delete_many()
        .filter(E::id_column().eq(id))
        .filter(E::version_column().eq(version))
        .exec(db)
        .await?;
    concurrency::check_updated(result.rows_affected)?;
    audit::log::<E>(db, actor, operation, Some(&before), None).await?;
    Ok(Ok(id))
}

/// Values of a site. On create `name`, `address` and the municipality are required;
/// on update omitted fields stay as they are and an empty postal code clears it.
#[derive(Clone, Debug, Default)]
pub struct LocationFields {
    /// Name of the site.
    pub name: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// Postal code (CAP), five digits.
    pub postal_code: Option<String>,
    /// ISTAT code of the municipality.
    pub municipality_istat_code: Option<String>,
    /// Latitude (WGS 84); given together with the longitude.
    pub latitude: Option<f64>,
    /// Longitude (WGS 84); given together with the latitude.
    pub longitude: Option<f64>,
}

/// Validates `fields` into `row`; `creating` makes name, address and municipality
/// required.
async fn apply_location_fields(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    row: &mut location::ActiveModel,
    fields: LocationFields,
    creating: bool,
) -> AppResult<()> {
    if creating || fields.name.is_some() {
        row.name = Set(v.name("name", fields.name.as_deref().unwrap_or_default(), 300));
    }
    if creating || fields.address.is_some() {
        let address = fields.address.as_deref().unwrap_or_default();
        row.address = Set(v.text("address", address, 300));
    }
    if creating || fields.postal_code.is_some() {
        row.postal_code = Set(postal_code(v, "postalCode", fields.postal_code.as_deref()));
    }
    match fields.municipality_istat_code.as_deref() {
        Some(code) => {
            let found = resolve_municipality(db, v, "municipalityIstatCode", code).await?;
            if let Some(id) = found {
                row.municipality_id = Set(id);
            }
        }
        None if creating => v.add(
            "municipalityIstatCode",
            FieldErrorCode::Required,
            "the municipality is required",
        ),
        None => {}
    }
    coordinates(v, fields.latitude, fields.longitude);
    if creating || fields.latitude.is_some() || fields.longitude.is_some() {
        row.latitude = Set(fields.latitude);
        row.longitude = Set(fields.longitude);
    }
    Ok(())
}

/// Adds a site to an organization.
#[tracing::instrument(level = "debug", skip(db, actor, fields))]
pub async fn create_location(
    db: &impl ConnectionTrait,
    actor: &Actor,
    organization: Uuid,
    fields: LocationFields,
) -> AppResult<Checked<location::Model>> {
    create::<location::Entity>(db, actor, "createLocation", organization, async |v, row| {
        apply_location_fields(db, v, row, fields, true).await
    })
    .await
}

/// Changes a site. Only given fields change.
#[tracing::instrument(level = "debug", skip(db, actor, fields))]
pub async fn update_location(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    fields: LocationFields,
) -> AppResult<Checked<location::Model>> {
    let target = (id, expected_version);
    update::<location::Entity>(db, actor, "updateLocation", target, async |v, row| {
        apply_location_fields(db, v, row, fields, false).await
    })
    .await
}

/// Deletes a site; refused (INVALID_STATE) while a service is delivered there.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn delete_location(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<Uuid>> {
    let target = (id, expected_version);
    let deleted = delete::<location::Entity>(db, actor, "deleteLocation", target, async |v| {
        let in_use = service_at_location::Entity::find()
            .filter(service_at_location::Column::LocationId.eq(id))
            .one(db)
            .await?
            .is_some();
        if in_use {
            v.add(
                "id",
                FieldErrorCode::InvalidState,
                "services are delivered at this site: move them elsewhere first",
            );
        }
        Ok(())
    })
    .await?;
    if let Ok(id) = &deleted {
        // Its translations go with it (no foreign key can name the site).
        crate::translation::service::delete_all_of(db, *id).await?;
        // A mirror of the directory drops the site: a public tombstone, with the delete.
        let subject = (crate::graphql::relay::NodeKind::Location, *id);
        let (reason, audience) = (
            crate::sync::service::Reason::Deleted,
            crate::events::service::Audience::Public,
        );
        crate::sync::service::record(db, subject, reason, audience).await?;
    }
    Ok(deleted)
}

/// Values of a contact point. On create `name` is required; on update omitted fields
/// stay as they are and an empty string clears an optional field.
#[derive(Clone, Debug, Default)]
pub struct ContactFields {
    /// Name of the office or person.
    pub name: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// Validates `fields` into `row`; `creating` makes the name required.
fn apply_contact_fields(
    v: &mut Validator,
    row: &mut contact::ActiveModel,
    fields: ContactFields,
    creating: bool,
) {
    if creating || fields.name.is_some() {
        row.name = Set(v.name("name", fields.name.as_deref().unwrap_or_default(), 200));
    }
    if creating || fields.title.is_some() {
        row.title = Set(v.optional_name("title", fields.title.as_deref(), 200));
    }
    if creating || fields.department.is_some() {
        let department = fields.department.as_deref();
        row.department = Set(v.optional_text("department", department, 200));
    }
    if creating || fields.email.is_some() {
        row.email = Set(v.email("email", fields.email.as_deref()));
    }
    if creating || fields.phone.is_some() {
        row.phone = Set(v.optional_text("phone", fields.phone.as_deref(), 32));
    }
}

/// Adds a contact point to an organization.
#[tracing::instrument(level = "debug", skip(db, actor, fields))]
pub async fn create_contact(
    db: &impl ConnectionTrait,
    actor: &Actor,
    organization: Uuid,
    fields: ContactFields,
) -> AppResult<Checked<contact::Model>> {
    let created =
        create::<contact::Entity>(db, actor, "createContact", organization, async |v, row| {
            apply_contact_fields(v, row, fields, true);
            Ok(())
        })
        .await?;
    contact_changed(db, &created, organization).await?;
    Ok(created)
}

/// An organization's contacts are part of it as readers see it: a change of one is a
/// change of the organization (`updatedAt`), when it was made.
async fn contact_changed<T>(
    db: &impl ConnectionTrait,
    result: &Checked<T>,
    organization: Uuid,
) -> AppResult<()> {
    if result.is_ok() {
        concurrency::touch::<organization::Entity>(db, organization).await?;
    }
    Ok(())
}

/// Changes a contact point. Only given fields change.
#[tracing::instrument(level = "debug", skip(db, actor, fields))]
pub async fn update_contact(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    fields: ContactFields,
) -> AppResult<Checked<contact::Model>> {
    let target = (id, expected_version);
    let updated = update::<contact::Entity>(db, actor, "updateContact", target, async |v, row| {
        apply_contact_fields(v, row, fields, false);
        Ok(())
    })
    .await?;
    if let Ok(row) = &updated {
        concurrency::touch::<organization::Entity>(db, row.organization_id).await?;
    }
    Ok(updated)
}

/// Deletes a contact point.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn delete_contact(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<Uuid>> {
    let target = (id, expected_version);
    let organization = concurrency::get::<contact::Entity>(db, id)
        .await?
        .organization_id;
    let deleted =
        delete::<contact::Entity>(db, actor, "deleteContact", target, async |_| Ok(())).await?;
    contact_changed(db, &deleted, organization).await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postal_codes_are_five_digits() {
        let mut v = Validator::default();
        assert_eq!(
            postal_code(&mut v, "postalCode", Some(" 56121 ")),
            Some("56121".into())
        );
        assert_eq!(postal_code(&mut v, "postalCode", Some("  ")), None);
        assert!(v.is_ok());
        postal_code(&mut v, "postalCode", Some("5612"));
        postal_code(&mut v, "postalCode", Some("5612a"));
        assert_eq!(v.finish().len(), 2);
    }

    #[test]
    fn coordinates_are_in_range_and_come_in_pairs() {
        let mut v = Validator::default();
        coordinates(&mut v, Some(43.7), Some(10.4));
        coordinates(&mut v, None, None);
        assert!(v.is_ok());
        coordinates(&mut v, Some(91.0), Some(10.0));
        coordinates(&mut v, Some(43.0), None);
        coordinates(&mut v, Some(43.0), Some(-181.0));
        let fields: Vec<Vec<String>> = v.finish().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec![
                vec!["input".to_owned(), "latitude".to_owned()],
                vec!["input".to_owned(), "longitude".to_owned()],
                vec!["input".to_owned(), "longitude".to_owned()],
            ]
        );
    }
}
