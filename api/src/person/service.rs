//! People: an organization's own records of them (registration, changes, listing)
//! and which records a caller sees. Personal values never reach errors, logs or the
//! audit log.

use super::domain::{self, Contacts};
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::Viewer;
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::privacy::access::{self, Access};
use crate::territory::domain::IstatCode;
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{NaiveDate, Utc};
use entity::enums::{ContactChannel, Gender};
use entity::person;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

/// The organization the caller acts for on people: an OPERATOR or ORG_ADMIN of it, or a
/// machine client of it with the `persons:write` scope. Everyone else is refused.
pub fn acting_organization(viewer: &Viewer) -> AppResult<Uuid> {
    crate::privacy::access::working_organization(viewer)
}

/// Loads a person the caller's organization sees, with how it sees it. An unknown id
/// and one it may not see are the same NOT_FOUND.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn get_visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<(person::Model, Access)> {
    let organization = acting_organization(viewer)?;
    let access = access::access_of(db, id, organization)
        .await?
        .ok_or(AppError::NotFound("person"))?;
    Ok((concurrency::get::<person::Entity>(db, id).await?, access))
}

/// Loads the caller's organization's own record of a person (changes, consents,
/// erasure act on it only). NOT_FOUND when the caller does not see the person,
/// FORBIDDEN when it sees it only as a referral's receiver.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn get_own(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<(person::Model, Uuid)> {
    let organization = acting_organization(viewer)?;
    let (row, access) = get_visible(db, viewer, id).await?;
    if access == Access::Owner {
        Ok((row, organization))
    } else {
        Err(AppError::Forbidden(
            "only the organization that registered this record may change it".to_owned(),
        ))
    }
}

/// The person if the caller sees it, None otherwise (for `node(id:)`).
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<person::Model>> {
    let Ok(organization) = acting_organization(viewer) else {
        return Ok(None);
    };
    Ok(person::Entity::find_by_id(id)
        .filter(access::person_visible(organization, Utc::now()))
        .one(db)
        .await?)
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct PersonQuery {
    /// Exactly this codice fiscale (matched through its keyed hash).
    pub codice_fiscale: Option<String>,
}

fn person_sort() -> Sort<person::Entity> {
    Sort::by(
        person::Column::CreatedAt,
        person::Column::Id,
        true,
        |row: &person::Model| Cursor::new(SortKey::Time(row.created_at), row.id),
    )
}

/// Lists the people the caller's organization sees, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    viewer: &Viewer,
    query: &PersonQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<person::Model>, u64)> {
    let organization = acting_organization(viewer)?;
    let mut select =
        person::Entity::find().filter(access::person_visible(organization, Utc::now()));
    if let Some(code) = &query.codice_fiscale {
        let normal = code.trim().to_ascii_uppercase();
        select =
            select.filter(person::Column::CodiceFiscaleHash.eq(protection.fingerprint(&normal)?));
    }
    pagination::list(db, select, &person_sort(), window, with_total).await
}

/// A person's data as given to `registerPerson` / `updatePerson`.
#[derive(Clone, Debug, Default)]
pub struct PersonData {
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Gender.
    pub gender: Option<Gender>,
    /// ISO 3166-1 alpha-2 citizenship.
    pub citizenship: Option<String>,
    /// ISTAT code of the municipality of residence.
    pub residence_municipality_istat_code: Option<String>,
    /// ISO 639-1 codes.
    pub languages: Option<Vec<String>>,
    /// Contacts.
    pub contacts: Option<Contacts>,
    /// Preferred channel.
    pub contact_channel: Option<ContactChannel>,
}

/// Validated values, ready to store (None = not given).
struct CheckedData {
    given_name: Option<String>,
    family_name: Option<String>,
    birth_date: Option<NaiveDate>,
    gender: Option<Gender>,
    citizenship: Option<Option<String>>,
    municipality: Option<Option<Uuid>>,
    languages: Option<String>,
    contacts: Option<Contacts>,
    contact_channel: Option<ContactChannel>,
}

async fn check_data(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    data: PersonData,
    creating: bool,
) -> AppResult<CheckedData> {
    let given_name = match (data.given_name, creating) {
        (Some(name), _) => Some(v.name("givenName", &name, 200)),
        (None, true) => {
            v.add("givenName", FieldErrorCode::Required, "must not be blank");
            None
        }
        (None, false) => None,
    };
    let family_name = match (data.family_name, creating) {
        (Some(name), _) => Some(v.name("familyName", &name, 200)),
        (None, true) => {
            v.add("familyName", FieldErrorCode::Required, "must not be blank");
            None
        }
        (None, false) => None,
    };
    if let Some(date) = data.birth_date
        && date > Utc::now().date_naive()
    {
        v.add(
            "birthDate",
            FieldErrorCode::OutOfRange,
            "must not be in the future",
        );
    }
    let citizenship = data.citizenship.map(|c| {
        let c = c.trim().to_owned();
        if c.is_empty() {
            None
        } else {
            if !domain::is_country_code(&c) {
                v.add(
                    "citizenship",
                    FieldErrorCode::Invalid,
                    "must be an ISO 3166-1 alpha-2 code (two upper-case letters)",
                );
            }
            Some(c)
        }
    });
    let municipality = match data.residence_municipality_istat_code {
        None => None,
        Some(code) if code.trim().is_empty() => Some(None),
        Some(code) => match IstatCode::parse(&code) {
            Err(_) => {
                v.add(
                    "residenceMunicipalityIstatCode",
                    FieldErrorCode::Invalid,
                    "is not an ISTAT municipality code (six digits)",
                );
                None
            }
            Ok(code) => match crate::territory::service::municipality_by_code(db, &code).await? {
                Some(row) => Some(Some(row.id)),
                None => {
                    v.add(
                        "residenceMunicipalityIstatCode",
                        FieldErrorCode::NotFound,
                        "no municipality has this ISTAT code",
                    );
                    None
                }
            },
        },
    };
    let languages = match data.languages {
        None => None,
        Some(codes) => {
            let mut out: Vec<String> = Vec::new();
            for (i, code) in codes.iter().enumerate() {
                let code = code.trim().to_ascii_lowercase();
                if !domain::is_language_code(&code) {
                    v.add(
                        &format!("languages.{i}"),
                        FieldErrorCode::Invalid,
                        "must be an ISO 639-1 code (two letters)",
                    );
                } else if !out.contains(&code) {
                    out.push(code);
                }
            }
            // Read back as LANGUAGE terms: a code without one is refused.
            crate::taxonomy::service::check_codes(
                db,
                v,
                "languages",
                entity::enums::Taxonomy::Language,
                &out,
            )
            .await?;
            Some(out.join(" "))
        }
    };
    let contacts = data.contacts.map(|c| Contacts {
        email: v.email("contacts.email", c.email.as_deref()),
        phone: v.optional_text("contacts.phone", c.phone.as_deref(), 32),
        address: v.optional_text("contacts.address", c.address.as_deref(), 500),
    });
    Ok(CheckedData {
        given_name,
        family_name,
        birth_date: data.birth_date,
        gender: data.gender,
        citizenship,
        municipality,
        languages,
        contacts,
        contact_channel: data.contact_channel,
    })
}

fn encrypt_contacts(protection: &DataProtection, contacts: &Contacts) -> AppResult<Option<String>> {
    if contacts.is_empty() {
        return Ok(None);
    }
    let json = serde_json::to_string(contacts).map_err(AppError::internal)?;
    protection.encrypt(&json).map(Some)
}

/// What `registerPerson` did.
#[derive(Clone, Debug)]
pub struct Registered {
    /// The organization's record of the person (new, or the one it registered before).
    pub person: person::Model,
    /// True when the organization itself had registered this codice fiscale before
    /// (nothing changed). Records of other organizations play no part.
    pub already_registered: bool,
}

/// The record `organization` keeps of the codice fiscale with keyed hash `hash`.
async fn own_record(
    db: &impl ConnectionTrait,
    organization: Uuid,
    hash: &str,
) -> AppResult<Option<person::Model>> {
    Ok(person::Entity::find()
        .filter(person::Column::RegisteredByOrganizationId.eq(organization))
        .filter(person::Column::CodiceFiscaleHash.eq(hash))
        .one(db)
        .await?)
}

/// What the audit log keeps of a change to a person: ids and the names of the fields
/// changed, never their values.
fn audit_fields(fields: &[&str]) -> serde_json::Value {
    json!({ "fields": fields })
}

/// Records a person for `organization`: its own record, whatever other organizations
/// hold for the same codice fiscale (they are neither read nor revealed). Registering
/// the same codice fiscale again returns the organization's existing record; two
/// concurrent registrations end with one record.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn register(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    organization_id: Uuid,
    codice_fiscale: &str,
    data: PersonData,
) -> AppResult<Checked<Registered>> {
    if acting_organization(&actor.viewer)? != organization_id {
        return Err(policy::deny(
            &actor.viewer,
            "only the organization itself may register people for it",
        ));
    }
    let mut v = Validator::default();
    let code = domain::personal_codice_fiscale(codice_fiscale);
    if code.is_none() {
        v.add(
            "codiceFiscale",
            FieldErrorCode::Invalid,
            "must be a personal codice fiscale: 16 characters with a right check character",
        );
    }
    let checked = check_data(db, &mut v, data, true).await?;
    let Some(code) = code else {
        return Ok(Err(v.finish()));
    };
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let hash = protection.fingerprint(&code)?;
    if let Some(existing) = own_record(db, organization_id, &hash).await? {
        return Ok(Ok(Registered {
            person: existing,
            already_registered: true,
        }));
    }
    let mut fields = vec!["codiceFiscale", "givenName", "familyName"];
    let optional = [
        ("contacts", checked.contacts.is_some()),
        ("birthDate", checked.birth_date.is_some()),
        ("gender", checked.gender.is_some()),
        ("citizenship", checked.citizenship.is_some()),
        ("residenceMunicipality", checked.municipality.is_some()),
        ("languages", checked.languages.is_some()),
        ("contactChannel", checked.contact_channel.is_some()),
    ];
    fields.extend(optional.iter().filter(|(_, given)| *given).map(|(f, _)| *f));
    let now = Utc::now();
    let id = Uuid::now_v7();
    let encrypt = |value: Option<String>| value.map(|v| protection.encrypt(&v)).transpose();
    let row = person::ActiveModel {
        id: Set(id),
        codice_fiscale_enc: Set(Some(protection.encrypt(&code)?)),
        codice_fiscale_hash: Set(Some(hash.clone())),
        given_name_enc: Set(encrypt(checked.given_name)?),
        family_name_enc: Set(encrypt(checked.family_name)?),
        contacts_enc: Set(match &checked.contacts {
            Some(c) => encrypt_contacts(protection, c)?,
            None => None,
        }),
        birth_date: Set(checked.birth_date),
        gender: Set(checked.gender),
        citizenship: Set(checked.citizenship.flatten()),
        residence_municipality_id: Set(checked.municipality.flatten()),
        languages: Set(checked.languages.unwrap_or_default()),
        contact_channel: Set(checked.contact_channel.unwrap_or(ContactChannel::Email)),
        registered_by_organization_id: Set(organization_id),
        erased_at: Set(None),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    // A concurrent registration of the same codice fiscale by the same organization
    // makes this insert a no-op (the unique index on organization and hash); the
    // winner's record is then returned.
    let inserted = person::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                person::Column::RegisteredByOrganizationId,
                person::Column::CodiceFiscaleHash,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 0 {
        let existing = own_record(db, organization_id, &hash)
            .await?
            .ok_or_else(|| {
                AppError::Conflict("the person was registered concurrently; retry".to_owned())
            })?;
        return Ok(Ok(Registered {
            person: existing,
            already_registered: true,
        }));
    }
    let row = concurrency::get::<person::Entity>(db, id).await?;
    audit::record(
        db,
        actor,
        Change::<(), _> {
            operation: "registerPerson",
            object_type: "Person",
            object_id: row.id,
            before: None,
            after: Some(&audit_fields(&fields)),
        },
    )
    .await?;
    Ok(Ok(Registered {
        person: row,
        already_registered: false,
    }))
}

/// Changes the caller's organization's own record of a person. Given fields change;
/// an empty citizenship or municipality code clears it.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn update(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    data: PersonData,
) -> AppResult<Checked<person::Model>> {
    let (before, _) = get_own(db, &actor.viewer, id).await?;
    let mut v = Validator::default();
    if before.erased_at.is_some() {
        v.add(
            "id",
            FieldErrorCode::InvalidState,
            "the person's data was erased",
        );
        return Ok(Err(v.finish()));
    }
    let checked = check_data(db, &mut v, data, false).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut fields = Vec::new();
    let mut row: person::ActiveModel = before.clone().into();
    if let Some(name) = checked.given_name {
        row.given_name_enc = Set(Some(protection.encrypt(&name)?));
        fields.push("givenName");
    }
    if let Some(name) = checked.family_name {
        row.family_name_enc = Set(Some(protection.encrypt(&name)?));
        fields.push("familyName");
    }
    if let Some(contacts) = &checked.contacts {
        row.contacts_enc = Set(encrypt_contacts(protection, contacts)?);
        fields.push("contacts");
    }
    if let Some(date) = checked.birth_date {
        row.birth_date = Set(Some(date));
        fields.push("birthDate");
    }
    if let Some(gender) = checked.gender {
        row.gender = Set(Some(gender));
        fields.push("gender");
    }
    if let Some(citizenship) = checked.citizenship {
        row.citizenship = Set(citizenship);
        fields.push("citizenship");
    }
    if let Some(municipality) = checked.municipality {
        row.residence_municipality_id = Set(municipality);
        fields.push("residenceMunicipality");
    }
    if let Some(languages) = checked.languages {
        row.languages = Set(languages);
        fields.push("languages");
    }
    if let Some(channel) = checked.contact_channel {
        row.contact_channel = Set(channel);
        fields.push("contactChannel");
    }
    let after =
        concurrency::update::<person::Entity, _>(db, row, &before, Some(expected_version)).await?;
    audit::record(
        db,
        actor,
        Change::<(), _> {
            operation: "updatePerson",
            object_type: "Person",
            object_id: id,
            before: None,
            after: Some(&audit_fields(&fields)),
        },
    )
    .await?;
    Ok(Ok(after))
}
