//! People: registration, changes, reads with their access log, export and erasure, key
//! rotation. Personal values never reach errors, logs or the audit log.

use super::access;
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
use entity::{consent, consent_recipient, organization, person, person_access, person_link};
use entity::{referral, referral_event};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
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
            "only operators and administrators of an organization involved with the person may do this",
        )),
    }
}

/// Loads a person or fails with NOT_FOUND.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<person::Model> {
    person::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("person"))
}

/// Refuses callers whose organization is not involved with the person.
pub async fn authorize(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    person: Uuid,
) -> AppResult<Uuid> {
    let organization = acting_organization(viewer)?;
    if access::is_involved(db, person, organization).await? {
        Ok(organization)
    } else {
        Err(policy::deny(
            viewer,
            "only organizations involved with the person may see or change it",
        ))
    }
}

/// The person if the caller may see it, None otherwise (for `node(id:)`).
pub async fn visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<person::Model>> {
    let Ok(organization) = acting_organization(viewer) else {
        return Ok(None);
    };
    Ok(person::Entity::find_by_id(id)
        .filter(access::involved_with(organization))
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

/// Decrypts one personal field of a person the caller was found to be involved with.
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

/// Lists the people involved with the caller's organization, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    viewer: &Viewer,
    query: &PersonQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<person::Model>, u64)> {
    let organization = acting_organization(viewer)?;
    let mut select = person::Entity::find().filter(access::involved_with(organization));
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
        (Some(name), _) => Some(v.text("givenName", &name, 200)),
        (None, true) => {
            v.add("givenName", FieldErrorCode::Required, "must not be blank");
            None
        }
        (None, false) => None,
    };
    let family_name = match (data.family_name, creating) {
        (Some(name), _) => Some(v.text("familyName", &name, 200)),
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
    /// The person (new or already known).
    pub person: person::Model,
    /// True when the codice fiscale was already registered: the organization was
    /// linked to the existing person and nothing else changed.
    pub already_registered: bool,
}

/// Registers a person for `organization`, or links the organization to the person
/// already registered with the same codice fiscale.
pub async fn register(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    organization_id: Uuid,
    codice_fiscale: &str,
    data: PersonData,
) -> AppResult<Checked<Registered>> {
    organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
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
    let existing = person::Entity::find()
        .filter(person::Column::CodiceFiscaleHash.eq(hash.clone()))
        .one(db)
        .await?;
    if let Some(existing) = existing {
        let already = access::is_involved(db, existing.id, organization_id).await?;
        if !already {
            person_link::ActiveModel {
                person_id: Set(existing.id),
                organization_id: Set(organization_id),
                created_at: Set(Utc::now()),
            }
            .insert(db)
            .await?;
            audit::record(
                db,
                actor,
                Change::<(), _> {
                    operation: "registerPerson",
                    object_type: "Person",
                    object_id: existing.id,
                    before: None,
                    after: Some(&json!({ "linkedOrganizationId": organization_id })),
                },
            )
            .await?;
        }
        return Ok(Ok(Registered {
            person: existing,
            already_registered: true,
        }));
    }
    let now = Utc::now();
    let encrypt = |value: Option<String>| value.map(|v| protection.encrypt(&v)).transpose();
    let row = person::ActiveModel {
        id: Set(Uuid::now_v7()),
        codice_fiscale_enc: Set(Some(protection.encrypt(&code)?)),
        codice_fiscale_hash: Set(Some(hash)),
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
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        actor,
        Change::<(), _> {
            operation: "registerPerson",
            object_type: "Person",
            object_id: row.id,
            before: None,
            after: Some(&row),
        },
    )
    .await?;
    Ok(Ok(Registered {
        person: row,
        already_registered: false,
    }))
}

/// Changes a person's data (involved organizations only). Given fields change; an
/// empty citizenship or municipality code clears it.
pub async fn update(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
    data: PersonData,
) -> AppResult<Checked<person::Model>> {
    let before = get(db, id).await?;
    authorize(db, &actor.viewer, id).await?;
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
    let mut row: person::ActiveModel = before.clone().into();
    if let Some(name) = checked.given_name {
        row.given_name_enc = Set(Some(protection.encrypt(&name)?));
    }
    if let Some(name) = checked.family_name {
        row.family_name_enc = Set(Some(protection.encrypt(&name)?));
    }
    if let Some(contacts) = &checked.contacts {
        row.contacts_enc = Set(encrypt_contacts(protection, contacts)?);
    }
    if let Some(date) = checked.birth_date {
        row.birth_date = Set(Some(date));
    }
    if let Some(gender) = checked.gender {
        row.gender = Set(Some(gender));
    }
    if let Some(citizenship) = checked.citizenship {
        row.citizenship = Set(citizenship);
    }
    if let Some(municipality) = checked.municipality {
        row.residence_municipality_id = Set(municipality);
    }
    if let Some(languages) = checked.languages {
        row.languages = Set(languages);
    }
    if let Some(channel) = checked.contact_channel {
        row.contact_channel = Set(channel);
    }
    let after = versioned_update(db, row, &before, expected_version).await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "updatePerson",
            object_type: "Person",
            object_id: id,
            before: Some(&before),
            after: Some(&after),
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
    concurrency::guarded_update(
        db,
        row,
        (person::Column::Id, before.id),
        (person::Column::RowVersion, before.row_version),
    )
    .await?;
    get(db, before.id).await
}

/// Erases a person's personal data irreversibly (an involved organization's OPERATOR
/// or ORG_ADMIN, or its client with `persons:write`). Idempotent.
pub async fn erase(db: &impl ConnectionTrait, actor: &Actor, person: Uuid) -> AppResult<()> {
    let row = get(db, person).await?;
    authorize(db, &actor.viewer, person).await?;
    erase_row(db, actor, row).await.map(|_| ())
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

async fn erase_row(
    db: &impl ConnectionTrait,
    actor: &Actor,
    before: person::Model,
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
    row.erased_at = Set(Some(Utc::now()));
    let after = versioned_update(db, row, &before, None).await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "erasePerson",
            object_type: "Person",
            object_id: before.id,
            before: Some(&before),
            after: Some(&after),
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
        if erase_row(db, &actor, row).await? {
            erased += 1;
        }
    }
    Ok(erased)
}

/// Re-encrypts every encrypted value not encrypted with the current key, 500 rows at a
/// time. Returns the number of rows changed.
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
    Ok(changed)
}

/// Everything held about a person, decrypted (the right of access and portability).
/// Logs the export in the access log.
pub async fn export(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    id: Uuid,
) -> AppResult<serde_json::Value> {
    let row = get(db, id).await?;
    authorize(db, &actor.viewer, id).await?;
    log_access(db, actor, id, &domain::PERSONAL_FIELDS.join(","), "export").await?;
    let decrypt =
        |value: &Option<String>| value.as_ref().map(|v| protection.decrypt(v)).transpose();
    let contacts = row
        .contacts_enc
        .as_ref()
        .map(|c| decode_contacts(protection, c))
        .transpose()?;
    let consents = consent::Entity::find()
        .filter(consent::Column::PersonId.eq(id))
        .order_by_asc(consent::Column::GrantedAt)
        .all(db)
        .await?;
    let consent_ids: Vec<Uuid> = consents.iter().map(|c| c.id).collect();
    let recipients = consent_recipient::Entity::find()
        .filter(consent_recipient::Column::ConsentId.is_in(consent_ids))
        .all(db)
        .await?;
    let consents: Vec<serde_json::Value> = consents
        .iter()
        .map(|c| {
            let to: Vec<Uuid> = recipients
                .iter()
                .filter(|r| r.consent_id == c.id)
                .map(|r| r.organization_id)
                .collect();
            json!({ "consent": c, "recipientOrganizationIds": to })
        })
        .collect();
    let referrals = referral::Entity::find()
        .filter(referral::Column::PersonId.eq(id))
        .order_by_asc(referral::Column::CreatedAt)
        .all(db)
        .await?;
    let referral_ids: Vec<Uuid> = referrals.iter().map(|r| r.id).collect();
    let events = referral_event::Entity::find()
        .filter(referral_event::Column::ReferralId.is_in(referral_ids))
        .order_by_asc(referral_event::Column::OccurredAt)
        .all(db)
        .await?;
    let referrals: Vec<serde_json::Value> = referrals
        .iter()
        .map(|r| {
            let own: Vec<&referral_event::Model> =
                events.iter().filter(|e| e.referral_id == r.id).collect();
            json!({ "referral": r, "events": own })
        })
        .collect();
    let accesses = person_access::Entity::find()
        .filter(person_access::Column::PersonId.eq(id))
        .order_by_asc(person_access::Column::OccurredAt)
        .all(db)
        .await?;
    let links = person_link::Entity::find()
        .filter(person_link::Column::PersonId.eq(id))
        .all(db)
        .await?;
    Ok(json!({
        "person": {
            "id": row.id,
            "codiceFiscale": decrypt(&row.codice_fiscale_enc)?,
            "givenName": decrypt(&row.given_name_enc)?,
            "familyName": decrypt(&row.family_name_enc)?,
            "contacts": contacts,
            "birthDate": row.birth_date,
            "gender": row.gender,
            "citizenship": row.citizenship,
            "residenceMunicipalityId": row.residence_municipality_id,
            "languages": row.languages.split_whitespace().collect::<Vec<_>>(),
            "contactChannel": row.contact_channel,
            "registeredByOrganizationId": row.registered_by_organization_id,
            "linkedOrganizationIds": links.iter().map(|l| l.organization_id).collect::<Vec<_>>(),
            "erasedAt": row.erased_at,
            "createdAt": row.created_at,
            "updatedAt": row.updated_at,
        },
        "consents": consents,
        "referrals": referrals,
        "accessLog": accesses,
    }))
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

/// Lists reads of personal data, newest first (AUDITOR only).
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
