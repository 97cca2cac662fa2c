//! Organization queries.

use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::scopes;
use crate::concurrency;
use crate::error::{AppError, AppResult};
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::validation::{Checked, FieldErrorCode, Validator};
use entity::enums::{OrganizationKind, Sector, SignatoryStatus};
use entity::{location, organization, organization_succession, signatory};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct OrganizationQuery {
    /// Only these kinds.
    pub kinds: Vec<OrganizationKind>,
    /// Only these sectors.
    pub sectors: Vec<Sector>,
    /// Name contains this text (case and accents ignored).
    pub search: Option<String>,
    /// Only organizations with a location in this municipality.
    pub municipality: Option<Uuid>,
    /// Only organizations that signed this protocol.
    pub signed_protocol: Option<Uuid>,
}

fn sort() -> Sort<organization::Entity> {
    Sort::by(
        organization::Column::SearchName,
        organization::Column::Id,
        false,
        |row: &organization::Model| Cursor::new(SortKey::Text(row.search_name.clone()), row.id),
    )
}

/// Lists organizations, ordered by name.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &OrganizationQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<organization::Model>, u64)> {
    let mut select = organization::Entity::find();
    if !query.kinds.is_empty() {
        select = select.filter(organization::Column::Kind.is_in(query.kinds.clone()));
    }
    if !query.sectors.is_empty() {
        select = select.filter(organization::Column::Sector.is_in(query.sectors.clone()));
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(&migration::text::fold(search));
        select = select.filter(
            Expr::col(organization::Column::SearchName).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(municipality) = query.municipality {
        select = select.filter(
            organization::Column::Id.in_subquery(
                Query::select()
                    .column(location::Column::OrganizationId)
                    .from(location::Entity)
                    .and_where(location::Column::MunicipalityId.eq(municipality))
                    .to_owned(),
            ),
        );
    }
    if let Some(protocol) = query.signed_protocol {
        select = select.filter(
            organization::Column::Id.in_subquery(
                Query::select()
                    .column(signatory::Column::OrganizationId)
                    .from(signatory::Entity)
                    .and_where(signatory::Column::ProtocolId.eq(protocol))
                    .and_where(signatory::Column::Status.eq(SignatoryStatus::Signed))
                    .to_owned(),
            ),
        );
    }
    pagination::list(db, select, &sort(), window, with_total).await
}

/// New values of an organization's public profile (what its administrator may change).
#[derive(Clone, Debug, Default)]
pub struct ProfileChanges {
    /// Description; empty clears it.
    pub description: Option<String>,
    /// Website; empty clears it.
    pub website: Option<String>,
    /// General email; empty clears it.
    pub email: Option<String>,
    /// General phone; empty clears it.
    pub phone: Option<String>,
}

/// Loads an organization or fails with NOT_FOUND.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<organization::Model> {
    organization::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("organization"))
}

/// Changes the profile of an organization. Only given fields change; an empty string
/// clears a field.
pub async fn update_profile(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
    changes: ProfileChanges,
) -> AppResult<Checked<organization::Model>> {
    let before = get(db, id).await?;
    policy::require_org_write(&actor.viewer, id, scopes::ORGANIZATION_WRITE)?;
    let mut v = Validator::default();
    let description = changes
        .description
        .map(|d| v.optional_text("description", Some(&d), 4000));
    let website = changes.website.map(|w| v.url("website", Some(&w)));
    let email = changes.email.map(|e| v.email("email", Some(&e)));
    let phone = changes
        .phone
        .map(|p| v.optional_text("phone", Some(&p), 32));
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: organization::ActiveModel = before.clone().into();
    if let Some(description) = description {
        row.description = Set(description);
    }
    if let Some(website) = website {
        row.website = Set(website);
    }
    if let Some(email) = email {
        row.email = Set(email);
    }
    if let Some(phone) = phone {
        row.phone = Set(phone);
    }
    let after = versioned_update(db, row, &before, expected_version).await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "updateOrganizationProfile",
            object_type: "Organization",
            object_id: id,
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    Ok(Ok(after))
}

/// Saves `row` if nobody changed the organization since `before` was read.
pub async fn versioned_update(
    db: &impl ConnectionTrait,
    row: organization::ActiveModel,
    before: &organization::Model,
    expected_version: Option<i32>,
) -> AppResult<organization::Model> {
    concurrency::update::<organization::Entity, _>(db, row, before, expected_version).await
}

// ---------------------------------------------------------------------------------
// Registry changes: organizations and successions (regional administration only)
// ---------------------------------------------------------------------------------

/// The optional details of an organization. `None` means "not given"; on a change an
/// empty string clears the field.
#[derive(Clone, Debug, Default)]
pub struct OrganizationDetails {
    /// What the organization does.
    pub description: Option<String>,
    /// Codice fiscale (11 digits or 16 characters, check digit verified).
    pub codice_fiscale: Option<String>,
    /// Partita IVA (11 digits, check digit verified).
    pub partita_iva: Option<String>,
    /// IPA code.
    pub ipa_code: Option<String>,
    /// RUNTS number.
    pub runts_number: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// General email.
    pub email: Option<String>,
    /// General phone.
    pub phone: Option<String>,
}

/// A new organization of the network.
#[derive(Clone, Debug)]
pub struct NewOrganization {
    /// Official name.
    pub name: String,
    /// Kind of body.
    pub kind: OrganizationKind,
    /// Sector.
    pub sector: Sector,
    /// Optional details.
    pub details: OrganizationDetails,
}

/// Changes to an organization; omitted fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct OrganizationChanges {
    /// New official name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<OrganizationKind>,
    /// New sector.
    pub sector: Option<Sector>,
    /// Optional details; an empty string clears one.
    pub details: OrganizationDetails,
}

/// One organization taking over the duties of another.
#[derive(Clone, Debug)]
pub struct NewSuccession {
    /// The organization whose duties pass on.
    pub predecessor: Uuid,
    /// The organization taking them over.
    pub successor: Uuid,
    /// Day the succession takes effect.
    pub effective_on: chrono::NaiveDate,
    /// Notes on what passes on.
    pub note: Option<String>,
    /// Whether the predecessor is dissolved on `effective_on`.
    pub dissolve_predecessor: bool,
}

/// Longest description of an organization.
const DESCRIPTION_MAX: usize = 4000;

/// Validated details: `Some(value)` for each given field (`Some(None)` clears it).
#[derive(Default)]
struct CheckedDetails {
    description: Option<Option<String>>,
    codice_fiscale: Option<Option<String>>,
    partita_iva: Option<Option<String>>,
    ipa_code: Option<Option<String>>,
    runts_number: Option<Option<String>>,
    website: Option<Option<String>>,
    email: Option<Option<String>>,
    phone: Option<Option<String>>,
}

/// A non-blank trimmed value, or None.
fn non_blank(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

fn check_codice_fiscale(v: &mut Validator, value: &str) -> Option<String> {
    let value = non_blank(value)?;
    match super::domain::CodiceFiscale::parse(value) {
        Ok(code) => Some(code.as_str().to_owned()),
        Err(e) => {
            v.add("codiceFiscale", FieldErrorCode::Invalid, e.to_string());
            Some(value.to_owned())
        }
    }
}

fn check_partita_iva(v: &mut Validator, value: &str) -> Option<String> {
    let value = non_blank(value)?;
    match super::domain::PartitaIva::parse(value) {
        Ok(code) => Some(code.as_str().to_owned()),
        Err(e) => {
            v.add("partitaIva", FieldErrorCode::Invalid, e.to_string());
            Some(value.to_owned())
        }
    }
}

fn check_ipa_code(v: &mut Validator, value: &str) -> Option<String> {
    let value = v.optional_text("ipaCode", Some(value), 32)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        v.add(
            "ipaCode",
            FieldErrorCode::Invalid,
            "an IPA code has only letters, digits and `_`",
        );
    }
    Some(value)
}

fn check_details(v: &mut Validator, details: OrganizationDetails) -> CheckedDetails {
    CheckedDetails {
        description: details
            .description
            .map(|d| v.optional_text("description", Some(&d), DESCRIPTION_MAX)),
        codice_fiscale: details.codice_fiscale.map(|c| check_codice_fiscale(v, &c)),
        partita_iva: details.partita_iva.map(|p| check_partita_iva(v, &p)),
        ipa_code: details.ipa_code.map(|c| check_ipa_code(v, &c)),
        runts_number: details
            .runts_number
            .map(|r| v.optional_text("runtsNumber", Some(&r), 32)),
        website: details.website.map(|w| v.url("website", Some(&w))),
        email: details.email.map(|e| v.email("email", Some(&e))),
        phone: details
            .phone
            .map(|p| v.optional_text("phone", Some(&p), 32)),
    }
}

fn apply_details(row: &mut organization::ActiveModel, details: CheckedDetails) {
    if let Some(value) = details.description {
        row.description = Set(value);
    }
    if let Some(value) = details.codice_fiscale {
        row.codice_fiscale = Set(value);
    }
    if let Some(value) = details.partita_iva {
        row.partita_iva = Set(value);
    }
    if let Some(value) = details.ipa_code {
        row.ipa_code = Set(value);
    }
    if let Some(value) = details.runts_number {
        row.runts_number = Set(value);
    }
    if let Some(value) = details.website {
        row.website = Set(value);
    }
    if let Some(value) = details.email {
        row.email = Set(value);
    }
    if let Some(value) = details.phone {
        row.phone = Set(value);
    }
}

/// Adds an organization to the network. Regional administrators only.
pub async fn create_organization(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewOrganization,
) -> AppResult<Checked<organization::Model>> {
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    let name = v.name("name", &input.name, 300);
    let details = check_details(&mut v, input.details);
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let mut row = organization::ActiveModel {
        id: Set(id),
        search_name: Set(migration::text::fold(&name)),
        name: Set(name),
        kind: Set(input.kind),
        sector: Set(input.sector),
        description: Set(None),
        codice_fiscale: Set(None),
        partita_iva: Set(None),
        ipa_code: Set(None),
        runts_number: Set(None),
        website: Set(None),
        email: Set(None),
        phone: Set(None),
        dissolved_on: Set(None),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    apply_details(&mut row, details);
    let after = row.insert(db).await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "createOrganization",
            object_type: "Organization",
            object_id: id,
            before: None::<&organization::Model>,
            after: Some(&after),
        },
    )
    .await?;
    Ok(Ok(after))
}

/// Changes an organization's registry record. Regional administrators only.
pub async fn update_organization(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
    changes: OrganizationChanges,
) -> AppResult<Checked<organization::Model>> {
    let before = get(db, id).await?;
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    let name = changes.name.map(|n| v.name("name", &n, 300));
    let details = check_details(&mut v, changes.details);
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: organization::ActiveModel = before.clone().into();
    if let Some(name) = name {
        row.search_name = Set(migration::text::fold(&name));
        row.name = Set(name);
    }
    if let Some(kind) = changes.kind {
        row.kind = Set(kind);
    }
    if let Some(sector) = changes.sector {
        row.sector = Set(sector);
    }
    apply_details(&mut row, details);
    let after = versioned_update(db, row, &before, expected_version).await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "updateOrganization",
            object_type: "Organization",
            object_id: id,
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    Ok(Ok(after))
}

/// Records that `successor` takes over the duties of `predecessor`, dissolving the
/// predecessor when asked. Returns the succession and the predecessor. Regional
/// administrators only.
pub async fn record_succession(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewSuccession,
) -> AppResult<Checked<(organization_succession::Model, organization::Model)>> {
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    let note = v.optional_text("note", input.note.as_deref(), DESCRIPTION_MAX);
    let predecessor = organization::Entity::find_by_id(input.predecessor)
        .one(db)
        .await?;
    if predecessor.is_none() {
        v.add(
            "predecessor",
            FieldErrorCode::NotFound,
            "no such organization",
        );
    }
    let successor_exists = organization::Entity::find_by_id(input.successor)
        .one(db)
        .await?
        .is_some();
    if !successor_exists {
        v.add(
            "successor",
            FieldErrorCode::NotFound,
            "no such organization",
        );
    }
    if input.predecessor == input.successor {
        v.add(
            "successor",
            FieldErrorCode::Invalid,
            "an organization cannot succeed itself",
        );
    } else if predecessor.is_some() && successor_exists {
        let taken = organization_succession::Entity::find()
            .filter(organization_succession::Column::PredecessorId.eq(input.predecessor))
            .filter(organization_succession::Column::SuccessorId.eq(input.successor))
            .one(db)
            .await?
            .is_some();
        if taken {
            v.add(
                "successor",
                FieldErrorCode::Taken,
                "this succession is already recorded",
            );
        }
    }
    let Some(predecessor) = predecessor.filter(|_| v.is_ok()) else {
        return Ok(Err(v.finish()));
    };
    let now = chrono::Utc::now();
    let succession = organization_succession::ActiveModel {
        id: Set(Uuid::now_v7()),
        predecessor_id: Set(input.predecessor),
        successor_id: Set(input.successor),
        effective_on: Set(input.effective_on),
        note: Set(note),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "recordSuccession",
            object_type: "Succession",
            object_id: succession.id,
            before: None::<&organization_succession::Model>,
            after: Some(&succession),
        },
    )
    .await?;
    let predecessor =
        if input.dissolve_predecessor && predecessor.dissolved_on != Some(input.effective_on) {
            let mut row: organization::ActiveModel = predecessor.clone().into();
            row.dissolved_on = Set(Some(input.effective_on));
            let after = versioned_update(db, row, &predecessor, None).await?;
            audit::record(
                db,
                actor,
                Change {
                    operation: "recordSuccession",
                    object_type: "Organization",
                    object_id: predecessor.id,
                    before: Some(&predecessor),
                    after: Some(&after),
                },
            )
            .await?;
            after
        } else {
            predecessor
        };
    Ok(Ok((succession, predecessor)))
}
