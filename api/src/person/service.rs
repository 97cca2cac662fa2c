//! People: registration, changes, reads with their access log, export and erasure, key
//! rotation. Personal values never reach errors, logs or the audit log.

use super::access::{self, Access};
use super::domain::{self, Contacts};
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::{Role, Viewer, ViewerKind, scopes};
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::referral::lifecycle;
use crate::territory::domain::IstatCode;
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{ContactChannel, Gender, ReferralStatus};
use entity::{consent, consent_recipient, person, person_access};
use entity::{referral, referral_event};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

/// The organization the caller acts for on people: an OPERATOR or ORG_ADMIN of it, or a
/// machine client of it with the `persons:write` scope. Everyone else is refused.
pub fn acting_organization(viewer: &Viewer) -> AppResult<Uuid> {
    let allowed = match viewer.kind {
        ViewerKind::User => viewer.has_role(Role::Operator) || viewer.has_role(Role::OrgAdmin),
        ViewerKind::Client => viewer.has_scope(scopes::PERSONS_WRITE),
        ViewerKind::Anonymous => false,
    };
    match viewer.organization {
        Some(organization) if allowed => Ok(organization),
        _ => Err(policy::deny(
            viewer,
            "only operators and administrators of an organization (or its clients with `persons:write`) may work on people",
        )),
    }
}

/// Loads a person (any organization's) or fails with NOT_FOUND.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<person::Model> {
    person::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("person"))
}

/// Loads a person the caller's organization sees, with how it sees it. An unknown id
/// and one it may not see are the same NOT_FOUND.
pub async fn get_visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<(person::Model, Access)> {
    let organization = acting_organization(viewer)?;
    let access = access::access_of(db, id, organization)
        .await?
        .ok_or(AppError::NotFound("person"))?;
    Ok((get(db, id).await?, access))
}

/// Loads the caller's organization's own record of a person (changes, consents,
/// erasure act on it only). NOT_FOUND when the caller does not see the person,
/// FORBIDDEN when it sees it only as a referral's receiver.
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

/// An access-log row for a read of `fields` of `person` by `actor`.
pub fn access_entry(
    actor: &Actor,
    person: Uuid,
    fields: &str,
    purpose: &str,
) -> person_access::ActiveModel {
    person_access::ActiveModel {
        id: Set(Uuid::now_v7()),
        occurred_at: Set(Utc::now()),
        actor_subject: Set(actor.viewer.subject.clone()),
        actor_organization_id: Set(actor.viewer.organization),
        person_id: Set(person),
        fields: Set(fields.to_owned()),
        purpose: Set(purpose.to_owned()),
        request_id: Set(actor.request_id.clone()),
    }
}

/// Decrypts one personal field of a person the caller was found to see.
pub fn decrypt_field(
    protection: &DataProtection,
    row: &person::Model,
    field: PersonalField,
) -> AppResult<Option<String>> {
    field
        .stored(row)
        .map(|value| protection.decrypt(value))
        .transpose()
}

/// Appends a row to the access log.
pub async fn log_access(
    db: &impl ConnectionTrait,
    actor: &Actor,
    person: Uuid,
    fields: &str,
    purpose: &str,
) -> AppResult<()> {
    access_entry(actor, person, fields, purpose)
        .insert(db)
        .await?;
    Ok(())
}

/// Which personal field to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonalField {
    /// The codice fiscale.
    CodiceFiscale,
    /// The given name.
    GivenName,
    /// The family name.
    FamilyName,
    /// The contacts (JSON).
    Contacts,
}

impl PersonalField {
    /// The kind of value, for the sharing rule of [`access`].
    pub fn kind(self) -> access::Field {
        match self {
            Self::CodiceFiscale => access::Field::CodiceFiscale,
            Self::GivenName | Self::FamilyName => access::Field::Names,
            Self::Contacts => access::Field::Contacts,
        }
    }

    /// The GraphQL field name, as logged.
    pub fn name(self) -> &'static str {
        match self {
            Self::CodiceFiscale => "codiceFiscale",
            Self::GivenName => "givenName",
            Self::FamilyName => "familyName",
            Self::Contacts => "contacts",
        }
    }

    fn stored(self, row: &person::Model) -> Option<&String> {
        match self {
            Self::CodiceFiscale => row.codice_fiscale_enc.as_ref(),
            Self::GivenName => row.given_name_enc.as_ref(),
            Self::FamilyName => row.family_name_enc.as_ref(),
            Self::Contacts => row.contacts_enc.as_ref(),
        }
    }
}

/// Decrypts the contacts JSON.
pub fn decode_contacts(protection: &DataProtection, stored: &str) -> AppResult<Contacts> {
    serde_json::from_str(&protection.decrypt(stored)?).map_err(AppError::internal)
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct PersonQuery {
    /// Exactly this codice fiscale (matched through its keyed hash).
    pub codice_fiscale: Option<String>,
}

fn person_sort() -> Sort<person::Entity> {
    Sort {
        column: person::Column::CreatedAt,
        id: person::Column::Id,
        descending: true,
        cursor: |row| Cursor {
            key: SortKey::Time(row.created_at),
            id: row.id,
        },
    }
}

/// Lists the people the caller's organization sees, newest first.
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
    let languages = data.languages.map(|codes| {
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
        out.join(" ")
    });
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
    let row = get(db, id).await?;
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
pub async fn update(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
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
    let after = versioned_update(db, row, &before, expected_version).await?;
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

/// Saves `row` if nobody changed the person since `before` was read.
async fn versioned_update(
    db: &impl ConnectionTrait,
    mut row: person::ActiveModel,
    before: &person::Model,
    expected_version: Option<i32>,
) -> AppResult<person::Model> {
    concurrency::check_expected(expected_version, before.row_version)?;
    row.row_version = Set(before.row_version + 1);
    row.updated_at = Set(Utc::now());
    concurrency::update::<person::Entity, _>(db, row, before, None).await
}

/// Erases the caller's organization's own record of a person irreversibly (its
/// OPERATOR or ORG_ADMIN, or its client with `persons:write`). Idempotent.
pub async fn erase(db: &impl ConnectionTrait, actor: &Actor, person: Uuid) -> AppResult<()> {
    let (row, _) = get_own(db, &actor.viewer, person).await?;
    erase_row(db, actor, row, "erasePerson").await.map(|_| ())
}

/// Erases and returns the person (used by `erasePerson`).
pub async fn erase_and_get(
    db: &impl ConnectionTrait,
    actor: &Actor,
    person: Uuid,
) -> AppResult<person::Model> {
    erase(db, actor, person).await?;
    get(db, person).await
}

/// Removes every personal value of a record: the person's identifiers, names, contacts,
/// birth date, gender, citizenship, languages and residence, and all free text of its
/// referrals, their events and its consents (with the request digests and idempotency
/// keys that could stand for them). What stays is coded and anonymous: states, dates,
/// services, need codes, reason codes, outcomes.
pub(crate) async fn erase_row(
    db: &impl ConnectionTrait,
    actor: &Actor,
    before: person::Model,
    operation: &str,
) -> AppResult<bool> {
    if before.erased_at.is_some() {
        return Ok(false);
    }
    let mut row: person::ActiveModel = before.clone().into();
    row.codice_fiscale_enc = Set(None);
    row.codice_fiscale_hash = Set(None);
    row.given_name_enc = Set(None);
    row.family_name_enc = Set(None);
    row.contacts_enc = Set(None);
    row.birth_date = Set(None);
    row.gender = Set(None);
    row.citizenship = Set(None);
    row.residence_municipality_id = Set(None);
    row.languages = Set(String::new());
    row.contact_channel = Set(ContactChannel::DoNotContact);
    row.erased_at = Set(Some(Utc::now()));
    versioned_update(db, row, &before, None).await?;
    let referrals = Query::select()
        .column(referral::Column::Id)
        .from(referral::Entity)
        .and_where(Expr::col(referral::Column::PersonId).eq(before.id))
        .to_owned();
    referral_event::Entity::update_many()
        .col_expr(
            referral_event::Column::ReasonText,
            Expr::value(Option::<String>::None),
        )
        .filter(referral_event::Column::ReferralId.in_subquery(referrals))
        .exec(db)
        .await?;
    referral::Entity::update_many()
        .col_expr(referral::Column::Reason, Expr::value(String::new()))
        .col_expr(
            referral::Column::RequestHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            referral::Column::IdempotencyKey,
            Expr::value(Option::<String>::None),
        )
        .filter(referral::Column::PersonId.eq(before.id))
        .exec(db)
        .await?;
    consent::Entity::update_many()
        .col_expr(consent::Column::Evidence, Expr::value(String::new()))
        .col_expr(consent::Column::Purpose, Expr::value(String::new()))
        .filter(consent::Column::PersonId.eq(before.id))
        .exec(db)
        .await?;
    audit::record(
        db,
        actor,
        Change::<(), _> {
            operation,
            object_type: "Person",
            object_id: before.id,
            before: None,
            after: Some(&json!({ "erased": true })),
        },
    )
    .await?;
    Ok(true)
}

/// The actor of background jobs.
pub fn system_actor() -> Actor {
    Actor {
        viewer: Viewer {
            kind: ViewerKind::Client,
            subject: "system".to_owned(),
            organization: None,
            roles: Vec::new(),
            scopes: Vec::new(),
            name: None,
        },
        request_id: None,
    }
}

/// Retention: erases every person not yet erased who has referrals, all of them in a
/// final state and none changed in the last `months` months. Returns how many.
pub async fn erase_retained(
    db: &impl ConnectionTrait,
    months: u32,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let cutoff = now
        .checked_sub_months(chrono::Months::new(months))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("retention period out of range")))?;
    let open: Vec<ReferralStatus> = ReferralStatus::iter()
        .filter(|s| !lifecycle::is_final(*s))
        .collect();
    let with_referrals = Query::select()
        .column(referral::Column::PersonId)
        .from(referral::Entity)
        .to_owned();
    let kept = Query::select()
        .column(referral::Column::PersonId)
        .from(referral::Entity)
        .cond_where(
            sea_orm::Condition::any()
                .add(Expr::col(referral::Column::Status).is_in(open))
                .add(Expr::col(referral::Column::UpdatedAt).gte(cutoff)),
        )
        .to_owned();
    let rows = person::Entity::find()
        .filter(person::Column::ErasedAt.is_null())
        .filter(person::Column::Id.in_subquery(with_referrals))
        .filter(person::Column::Id.not_in_subquery(kept))
        .all(db)
        .await?;
    let actor = system_actor();
    let mut erased = 0;
    for row in rows {
        if erase_row(db, &actor, row, "erasePerson").await? {
            erased += 1;
        }
    }
    Ok(erased)
}

/// Re-encrypts every encrypted value not encrypted with the current key, and encrypts
/// free text written in plaintext before it was protected, 500 rows at a time. Returns
/// the number of rows changed.
pub async fn rotate_data(db: &impl ConnectionTrait, protection: &DataProtection) -> AppResult<u64> {
    let mut changed = 0;
    let mut last: Option<Uuid> = None;
    loop {
        let mut select = person::Entity::find()
            .order_by_asc(person::Column::Id)
            .limit(500);
        if let Some(last) = last {
            select = select.filter(person::Column::Id.gt(last));
        }
        let rows = select.all(db).await?;
        let Some(tail) = rows.last() else {
            break;
        };
        last = Some(tail.id);
        for row in rows {
            let mut dirty = false;
            let mut again = |value: &Option<String>| -> AppResult<Option<String>> {
                match value {
                    Some(stored) if !protection.is_current(stored) => {
                        dirty = true;
                        protection.encrypt(&protection.decrypt(stored)?).map(Some)
                    }
                    other => Ok(other.clone()),
                }
            };
            let cf = again(&row.codice_fiscale_enc)?;
            let given = again(&row.given_name_enc)?;
            let family = again(&row.family_name_enc)?;
            let contacts = again(&row.contacts_enc)?;
            if dirty {
                person::Entity::update_many()
                    .col_expr(person::Column::CodiceFiscaleEnc, Expr::value(cf))
                    .col_expr(person::Column::GivenNameEnc, Expr::value(given))
                    .col_expr(person::Column::FamilyNameEnc, Expr::value(family))
                    .col_expr(person::Column::ContactsEnc, Expr::value(contacts))
                    .filter(person::Column::Id.eq(row.id))
                    .exec(db)
                    .await?;
                changed += 1;
            }
        }
    }
    changed += rotate_text::<referral::Entity>(
        db,
        protection,
        referral::Column::Id,
        referral::Column::Reason,
    )
    .await?;
    changed += rotate_text::<referral_event::Entity>(
        db,
        protection,
        referral_event::Column::Id,
        referral_event::Column::ReasonText,
    )
    .await?;
    changed += rotate_text::<consent::Entity>(
        db,
        protection,
        consent::Column::Id,
        consent::Column::Evidence,
    )
    .await?;
    Ok(changed)
}

/// The free text of `text` in every row of `E`, encrypted with the current key: values
/// of older keys are re-encrypted, plaintext from before encryption is encrypted.
async fn rotate_text<E: EntityTrait>(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    id: E::Column,
    text: E::Column,
) -> AppResult<u64> {
    let mut changed = 0;
    let mut last: Option<Uuid> = None;
    loop {
        let mut select = E::find()
            .select_only()
            .column(id)
            .column(text)
            .order_by_asc(id)
            .limit(500);
        if let Some(last) = last {
            select = select.filter(id.gt(last));
        }
        let rows: Vec<(Uuid, Option<String>)> = select.into_tuple().all(db).await?;
        let Some((tail, _)) = rows.last() else {
            break;
        };
        last = Some(*tail);
        for (row, value) in rows {
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            let plain = match protection.decrypt(&value) {
                Ok(_) if protection.is_current(&value) => continue,
                Ok(plain) => plain,
                // Plaintext from before free text was encrypted.
                Err(_) => value,
            };
            E::update_many()
                .col_expr(text, Expr::value(protection.encrypt(&plain)?))
                .filter(id.eq(row))
                .exec(db)
                .await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The record's personal values the caller may read, decrypted, for exports.
fn export_person(
    protection: &DataProtection,
    row: &person::Model,
    access: Access,
) -> AppResult<serde_json::Value> {
    let shared = |field: access::Field| access.shares(field);
    let decrypt = |value: &Option<String>, field: access::Field| {
        value
            .as_ref()
            .filter(|_| shared(field))
            .map(|v| protection.decrypt(v))
            .transpose()
    };
    let contacts = row
        .contacts_enc
        .as_ref()
        .filter(|_| shared(access::Field::Contacts))
        .map(|c| decode_contacts(protection, c))
        .transpose()?;
    Ok(json!({
        "id": row.id,
        "codiceFiscale": decrypt(&row.codice_fiscale_enc, access::Field::CodiceFiscale)?,
        "givenName": decrypt(&row.given_name_enc, access::Field::Names)?,
        "familyName": decrypt(&row.family_name_enc, access::Field::Names)?,
        "contacts": contacts,
        "birthDate": row.birth_date.filter(|_| shared(access::Field::BirthDate)),
        "gender": row.gender.filter(|_| shared(access::Field::Gender)),
        "citizenship": row.citizenship.as_ref().filter(|_| shared(access::Field::Citizenship)),
        "residenceMunicipalityId": row.residence_municipality_id.filter(|_| shared(access::Field::Residence)),
        "languages": if shared(access::Field::Languages) {
            row.languages.split_whitespace().collect::<Vec<_>>()
        } else {
            Vec::new()
        },
        "contactChannel": row.contact_channel,
        "registeredByOrganizationId": row.registered_by_organization_id,
        "erasedAt": row.erased_at,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }))
}

/// A consent as exported: its evidence decrypted.
fn export_consent(
    protection: &DataProtection,
    row: &consent::Model,
    recipients: &[consent_recipient::Model],
) -> AppResult<serde_json::Value> {
    let to: Vec<Uuid> = recipients
        .iter()
        .filter(|r| r.consent_id == row.id)
        .map(|r| r.organization_id)
        .collect();
    Ok(json!({
        "id": row.id,
        "purpose": row.purpose,
        "legalBasis": row.legal_basis,
        "protocolId": row.protocol_id,
        "grantedAt": row.granted_at,
        "expiresAt": row.expires_at,
        "withdrawnAt": row.withdrawn_at,
        "evidenceKind": row.evidence_kind,
        "evidence": protection.decrypt_text(&row.evidence)?,
        "recordedByOrganizationId": row.recorded_by_organization_id,
        "recipientOrganizationIds": to,
    }))
}

/// A referral as exported, with its events: free text decrypted.
fn export_referral(
    protection: &DataProtection,
    row: &referral::Model,
    events: &[referral_event::Model],
) -> AppResult<serde_json::Value> {
    let events = events
        .iter()
        .filter(|e| e.referral_id == row.id)
        .map(|e| {
            Ok(json!({
                "id": e.id,
                "occurredAt": e.occurred_at,
                "actorSubject": e.actor_subject,
                "actorKind": e.actor_kind,
                "actorOrganizationId": e.actor_organization_id,
                "action": e.action,
                "fromStatus": e.from_status,
                "toStatus": e.to_status,
                "reasonCode": e.reason_code,
                "reasonText": e.reason_text.as_deref().map(|t| protection.decrypt_text(t)).transpose()?,
                "declinedBy": e.declined_by,
                "outcome": e.outcome,
            }))
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(json!({
        "id": row.id,
        "status": row.status,
        "senderOrganizationId": row.sender_organization_id,
        "senderOperator": row.sender_operator,
        "receiverServiceId": row.receiver_service_id,
        "receiverOrganizationId": row.receiver_organization_id,
        "protocolId": row.protocol_id,
        "needs": row.needs.split_whitespace().collect::<Vec<_>>(),
        "reason": protection.decrypt_text(&row.reason)?,
        "priority": row.priority,
        "dueAt": row.due_at,
        "consentId": row.consent_id,
        "channel": row.channel,
        "reroutedFromId": row.rerouted_from_id,
        "outcome": row.outcome,
        "sentAt": row.sent_at,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "events": events,
    }))
}

/// What `organization` holds about one record, seen with `access`: the record (its
/// shared fields for a receiver), its consents (owner only), the referrals it sent or
/// received of the record with their events, and the access-log entries of its own
/// reads. `organization: None` (a data subject's request) takes everything.
pub(crate) async fn holdings(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    row: &person::Model,
    access: Access,
    organization: Option<Uuid>,
) -> AppResult<serde_json::Value> {
    let consents = if access.shares(access::Field::Consents) {
        let rows = consent::Entity::find()
            .filter(consent::Column::PersonId.eq(row.id))
            .order_by_asc(consent::Column::GrantedAt)
            .all(db)
            .await?;
        let recipients = consent_recipient::Entity::find()
            .filter(consent_recipient::Column::ConsentId.is_in(rows.iter().map(|c| c.id)))
            .all(db)
            .await?;
        rows.iter()
            .map(|c| export_consent(protection, c, &recipients))
            .collect::<AppResult<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let mut referrals = referral::Entity::find().filter(referral::Column::PersonId.eq(row.id));
    let mut accesses =
        person_access::Entity::find().filter(person_access::Column::PersonId.eq(row.id));
    if let Some(organization) = organization {
        referrals = referrals.filter(access::referral_readable(organization, Utc::now()));
        accesses = accesses.filter(person_access::Column::ActorOrganizationId.eq(organization));
    }
    let referrals = referrals
        .order_by_asc(referral::Column::CreatedAt)
        .all(db)
        .await?;
    let events = referral_event::Entity::find()
        .filter(referral_event::Column::ReferralId.is_in(referrals.iter().map(|r| r.id)))
        .order_by_asc(referral_event::Column::OccurredAt)
        .all(db)
        .await?;
    let referrals = referrals
        .iter()
        .map(|r| export_referral(protection, r, &events))
        .collect::<AppResult<Vec<_>>>()?;
    let accesses = accesses
        .order_by_asc(person_access::Column::OccurredAt)
        .all(db)
        .await?;
    Ok(json!({
        "person": export_person(protection, row, access)?,
        "consents": consents,
        "referrals": referrals,
        "accessLog": accesses,
    }))
}

/// What the caller's organization holds about a person it sees (the right of access
/// and portability, answered by one organization): see [`holdings`]. Logged in the
/// access log.
pub async fn export(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    id: Uuid,
) -> AppResult<serde_json::Value> {
    let (row, access) = get_visible(db, &actor.viewer, id).await?;
    let organization = acting_organization(&actor.viewer)?;
    log_access(db, actor, id, &domain::PERSONAL_FIELDS.join(","), "export").await?;
    holdings(db, protection, &row, access, Some(organization)).await
}

/// What to list in the access log.
#[derive(Clone, Debug, Default)]
pub struct AccessQuery {
    /// Only reads of this person.
    pub person: Option<Uuid>,
    /// Only reads by this token subject.
    pub actor: Option<String>,
    /// Only reads by callers acting for this organization.
    pub organization: Option<Uuid>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
}

fn access_sort() -> Sort<person_access::Entity> {
    Sort {
        column: person_access::Column::OccurredAt,
        id: person_access::Column::Id,
        descending: true,
        cursor: |row| Cursor {
            key: SortKey::Time(row.occurred_at),
            id: row.id,
        },
    }
}

/// Lists reads of personal data, newest first (AUDITOR only; see the scope below).
pub async fn access_log(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    query: &AccessQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<person_access::Model>, u64)> {
    let auditor = viewer.kind == ViewerKind::User && viewer.has_role(Role::Auditor);
    if !auditor {
        return Err(policy::deny(
            viewer,
            "only auditors may read the access log",
        ));
    }
    let mut select = person_access::Entity::find();
    // An organization's auditor sees its own reads and the reads of its own records;
    // an auditor of no organization (the region's) sees every read. Entries hold ids
    // and field names, never values.
    if let Some(organization) = viewer.organization {
        let own_records = Query::select()
            .column(person::Column::Id)
            .from(person::Entity)
            .and_where(Expr::col(person::Column::RegisteredByOrganizationId).eq(organization))
            .to_owned();
        select = select.filter(
            sea_orm::Condition::any()
                .add(person_access::Column::ActorOrganizationId.eq(organization))
                .add(person_access::Column::PersonId.in_subquery(own_records)),
        );
    }
    if let Some(person) = query.person {
        select = select.filter(person_access::Column::PersonId.eq(person));
    }
    if let Some(actor) = &query.actor {
        select = select.filter(person_access::Column::ActorSubject.eq(actor.clone()));
    }
    if let Some(organization) = query.organization {
        select = select.filter(person_access::Column::ActorOrganizationId.eq(organization));
    }
    if let Some(from) = query.from {
        select = select.filter(person_access::Column::OccurredAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(person_access::Column::OccurredAt.lt(to));
    }
    pagination::list(db, select, &access_sort(), window, with_total).await
}
