//! Changes to the registry record of organizations: the regional administration's
//! organizations and successions, and an organization's own public profile.

use super::domain::{CodiceFiscale, PartitaIva};
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::scopes;
use crate::concurrency;
use crate::error::AppResult;
use crate::validation::{Checked, FieldErrorCode, Validator};
use entity::enums::{OrganizationKind, Sector};
use entity::{organization, organization_succession};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

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

impl From<ProfileChanges> for OrganizationChanges {
    fn from(profile: ProfileChanges) -> Self {
        let details = OrganizationDetails {
            description: profile.description,
            website: profile.website,
            email: profile.email,
            phone: profile.phone,
            ..OrganizationDetails::default()
        };
        Self {
            details,
            ..Self::default()
        }
    }
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

/// A non-blank trimmed value, or None.
fn non_blank(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

/// Checks a code with a check digit: its normal form, or the value as given with an
/// INVALID error on `field`; blank becomes None.
fn check_code<C>(
    v: &mut Validator,
    field: &str,
    value: &str,
    parse: impl FnOnce(&str) -> AppResult<C>,
    normal: impl FnOnce(&C) -> &str,
) -> Option<String> {
    let value = non_blank(value)?;
    match parse(value) {
        Ok(code) => Some(normal(&code).to_owned()),
        Err(e) => {
            v.add(field, FieldErrorCode::Invalid, e.to_string());
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

/// Validates the given details into `row` (a given empty value clears a field).
fn apply_details(v: &mut Validator, row: &mut organization::ActiveModel, d: OrganizationDetails) {
    let text = |v: &mut Validator, field: &str, value: &str, max: usize| {
        v.optional_text(field, Some(value), max)
    };
    if let Some(value) = d.description {
        row.description = Set(text(v, "description", &value, DESCRIPTION_MAX));
    }
    if let Some(value) = d.codice_fiscale {
        let code = check_code(
            v,
            "codiceFiscale",
            &value,
            CodiceFiscale::parse,
            CodiceFiscale::as_str,
        );
        row.codice_fiscale = Set(code);
    }
    if let Some(value) = d.partita_iva {
        let code = check_code(
            v,
            "partitaIva",
            &value,
            PartitaIva::parse,
            PartitaIva::as_str,
        );
        row.partita_iva = Set(code);
    }
    if let Some(value) = d.ipa_code {
        row.ipa_code = Set(check_ipa_code(v, &value));
    }
    if let Some(value) = d.runts_number {
        row.runts_number = Set(text(v, "runtsNumber", &value, 32));
    }
    if let Some(value) = d.website {
        row.website = Set(v.url("website", Some(&value)));
    }
    if let Some(value) = d.email {
        row.email = Set(v.email("email", Some(&value)));
    }
    if let Some(value) = d.phone {
        row.phone = Set(text(v, "phone", &value, 32));
    }
}

/// Adds an organization to the network. Regional administrators only.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_organization(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewOrganization,
) -> AppResult<Checked<organization::Model>> {
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    let name = v.name("name", &input.name, 300);
    let now = chrono::Utc::now();
    let mut row = organization::ActiveModel {
        id: Set(Uuid::now_v7()),
        search_name: Set(melt_text::fold(&name)),
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
    apply_details(&mut v, &mut row, input.details);
    super::save::<organization::Entity>(db, actor, "createOrganization", v, row, None).await
}

/// Changes an organization's registry record. Regional administrators only.
#[tracing::instrument(level = "debug", skip(db, actor, changes))]
pub async fn update_organization(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    changes: OrganizationChanges,
) -> AppResult<Checked<organization::Model>> {
    let before = concurrency::get::<organization::Entity>(db, id).await?;
    policy::require_regional_admin(&actor.viewer)?;
    let operation = "updateOrganization";
    change(db, actor, operation, &before, expected_version, changes).await
}

/// Changes the profile of an organization: its administrator or a machine client of it
/// with `organization:write`. Only given fields change; an empty string clears a field.
#[tracing::instrument(level = "debug", skip(db, actor, changes))]
pub async fn update_profile(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    changes: ProfileChanges,
) -> AppResult<Checked<organization::Model>> {
    let before = concurrency::get::<organization::Entity>(db, id).await?;
    policy::require_org_write(&actor.viewer, id, scopes::ORGANIZATION_WRITE)?;
    let operation = "updateOrganizationProfile";
    change(
        db,
        actor,
        operation,
        &before,
        expected_version,
        changes.into(),
    )
    .await
}

/// Validates `changes` to `before` and writes them, audited as `operation`.
async fn change(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    before: &organization::Model,
    expected_version: i32,
    changes: OrganizationChanges,
) -> AppResult<Checked<organization::Model>> {
    let mut v = Validator::default();
    let mut row: organization::ActiveModel = before.clone().into();
    if let Some(name) = changes.name {
        let name = v.name("name", &name, 300);
        row.search_name = Set(melt_text::fold(&name));
        row.name = Set(name);
    }
    if let Some(kind) = changes.kind {
        row.kind = Set(kind);
    }
    if let Some(sector) = changes.sector {
        row.sector = Set(sector);
    }
    apply_details(&mut v, &mut row, changes.details);
    let before = Some((before, expected_version));
    let saved = super::save::<organization::Entity>(db, actor, operation, v, row, before).await?;
    if let Ok(after) = &saved {
        crate::events::service::public(
            db,
            "organization.changed",
            crate::graphql::relay::NodeKind::Organization,
            after.id,
        )
        .await?;
    }
    Ok(saved)
}

/// Records that `successor` takes over the duties of `predecessor`, dissolving the
/// predecessor when asked. Returns the succession and the predecessor. Regional
/// administrators only.
#[tracing::instrument(level = "debug", skip_all, fields(predecessor = %input.predecessor, successor = %input.successor))]
pub async fn record_succession(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewSuccession,
) -> AppResult<Checked<(organization_succession::Model, organization::Model)>> {
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    let note = v.optional_text("note", input.note.as_deref(), DESCRIPTION_MAX);
    let predecessor = organization::Entity::find_by_id(input.predecessor);
    let predecessor = v.found(db, "predecessor", predecessor).await?;
    let successor = organization::Entity::find_by_id(input.successor);
    let successor_exists = v.found(db, "successor", successor).await?.is_some();
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
    let change = Change {
        operation: "recordSuccession",
        object_type: "Succession",
        object_id: succession.id,
        before: None::<&organization_succession::Model>,
        after: Some(&succession),
    };
    audit::record(db, actor, change).await?;
    // Both organizations show the succession: both changed for readers.
    for id in [input.predecessor, input.successor] {
        concurrency::touch::<organization::Entity>(db, id).await?;
    }
    if !input.dissolve_predecessor || predecessor.dissolved_on == Some(input.effective_on) {
        return Ok(Ok((succession, predecessor)));
    }
    let mut row: organization::ActiveModel = predecessor.clone().into();
    row.dissolved_on = Set(Some(input.effective_on));
    let after = concurrency::update::<organization::Entity, _>(db, row, &predecessor, None).await?;
    let (before, changed) = (Some(&predecessor), Some(&after));
    audit::log::<organization::Entity>(db, actor, "recordSuccession", before, changed).await?;
    Ok(Ok((succession, after)))
}
