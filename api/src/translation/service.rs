//! Reading and changing translations. Who may change an object's translations is who
//! may change the object: a service's provider (its ORG_ADMIN, or a machine client
//! with `services:write`), an organization itself (ORG_ADMIN, or `organization:write`)
//! or the regional administration (which keeps the registry), a site's organization
//! (ORG_ADMIN, or `organization:write`), and for taxonomy terms the regional
//! administration. Every change is audited against the translated object, stamps its
//! `updatedAt` (so "changed since" readers see it again) and, where changes of the
//! object itself raise an event (services, organizations), raises the same one.

use super::domain::{Field, LanguageCode, SubjectKind};
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::scopes;
use crate::concurrency;
use crate::error::{AppError, AppResult};
use crate::validation::{Checked, FieldErrorCode, Validator};
use entity::{location, organization, service, term, translation};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use std::collections::HashMap;
use uuid::Uuid;

/// The object a translation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject {
    /// Its kind.
    pub kind: SubjectKind,
    /// Its row id.
    pub id: Uuid,
}

/// The texts of a translation to set: `None` leaves a field as it is, an empty string
/// removes its translation, any other text sets it.
#[derive(Clone, Debug, Default)]
pub struct Texts {
    /// Name (a term's label).
    pub name: Option<String>,
    /// Another name (services).
    pub alternate_name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Who may use a service.
    pub eligibility_description: Option<String>,
    /// Fees of a service.
    pub fees_description: Option<String>,
    /// How to apply to a service.
    pub application_process: Option<String>,
}

impl Texts {
    fn given(&self) -> [(Field, Option<&str>); 6] {
        [
            (Field::Name, self.name.as_deref()),
            (Field::AlternateName, self.alternate_name.as_deref()),
            (Field::Description, self.description.as_deref()),
            (
                Field::EligibilityDescription,
                self.eligibility_description.as_deref(),
            ),
            (Field::FeesDescription, self.fees_description.as_deref()),
            (
                Field::ApplicationProcess,
                self.application_process.as_deref(),
            ),
        ]
    }
}

/// The stored translations of `subjects`, by subject, in the order of their language
/// code: one statement, served by the unique index on `(subject_id, language)`.
pub async fn of_subjects(
    db: &impl ConnectionTrait,
    subjects: &[Uuid],
) -> Result<HashMap<Uuid, Vec<translation::Model>>, sea_orm::DbErr> {
    let rows = translation::Entity::find()
        .filter(translation::Column::SubjectId.is_in(subjects.iter().copied()))
        .order_by_asc(translation::Column::SubjectId)
        .order_by_asc(translation::Column::Language)
        .all(db)
        .await?;
    let mut map: HashMap<Uuid, Vec<translation::Model>> = HashMap::new();
    for row in rows {
        map.entry(row.subject_id).or_default().push(row);
    }
    Ok(map)
}

/// Fails unless the caller may change the translations of `subject` (NOT_FOUND when
/// there is no such object).
async fn authorize(db: &impl ConnectionTrait, actor: &Actor, subject: Subject) -> AppResult<()> {
    let viewer = &actor.viewer;
    match subject.kind {
        SubjectKind::Service => {
            let row = concurrency::get::<service::Entity>(db, subject.id).await?;
            policy::require_org_write(viewer, row.organization_id, scopes::SERVICES_WRITE)
        }
        SubjectKind::Organization => {
            concurrency::get::<organization::Entity>(db, subject.id).await?;
            policy::require_org_write(viewer, subject.id, scopes::ORGANIZATION_WRITE)
                .or_else(|refused| policy::require_regional_admin(viewer).map_err(|_| refused))
        }
        SubjectKind::Location => {
            let row = concurrency::get::<location::Entity>(db, subject.id).await?;
            policy::require_org_write(viewer, row.organization_id, scopes::ORGANIZATION_WRITE)
        }
        SubjectKind::Term => {
            concurrency::get::<term::Entity>(db, subject.id).await?;
            policy::require_regional_admin(viewer)
        }
    }
}

/// Stamps the translated object's `updatedAt` and raises the event its own changes
/// raise, if any.
async fn subject_changed(db: &impl ConnectionTrait, subject: Subject) -> AppResult<()> {
    use crate::events::service::public;
    use crate::graphql::relay::NodeKind;
    match subject.kind {
        SubjectKind::Service => {
            concurrency::touch::<service::Entity>(db, subject.id).await?;
            public(db, "service.changed", NodeKind::Service, subject.id).await
        }
        SubjectKind::Organization => {
            concurrency::touch::<organization::Entity>(db, subject.id).await?;
            public(
                db,
                "organization.changed",
                NodeKind::Organization,
                subject.id,
            )
            .await
        }
        SubjectKind::Location => concurrency::touch::<location::Entity>(db, subject.id).await,
        SubjectKind::Term => concurrency::touch::<term::Entity>(db, subject.id).await,
    }
}

/// Checks the language of a translation: an ISO 639-1 code other than Italian (the
/// original text is changed with the object's own update).
fn language(v: &mut Validator, raw: &str) -> Option<LanguageCode> {
    match LanguageCode::parse(raw) {
        Some(LanguageCode::ITALIAN) => {
            v.add(
                "language",
                FieldErrorCode::Invalid,
                "Italian is the original text: change it with the object's own update",
            );
            None
        }
        Some(code) => Some(code),
        None => {
            v.add(
                "language",
                FieldErrorCode::Invalid,
                "is not an ISO 639-1 language code (two letters, e.g. ar, sq, ro, uk, zh)",
            );
            None
        }
    }
}

/// The stored translation of `subject` in `language`, if any.
async fn find(
    db: &impl ConnectionTrait,
    subject: Uuid,
    language: LanguageCode,
) -> AppResult<Option<translation::Model>> {
    Ok(translation::Entity::find()
        .filter(translation::Column::SubjectId.eq(subject))
        .filter(translation::Column::Language.eq(language.as_str()))
        .one(db)
        .await?)
}

/// Records a change of `subject`'s translation.
async fn audit_change(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    subject: Subject,
    before: Option<&translation::Model>,
    after: Option<&translation::Model>,
) -> AppResult<()> {
    let change = Change {
        operation,
        object_type: subject.kind.as_str(),
        object_id: subject.id,
        before,
        after,
    };
    audit::record(db, actor, change).await
}

/// Sets the texts of `subject` in `language`. A new language is added when
/// `expected_version` is `None` (CONFLICT if the object already has it); an existing
/// one changes only from the version read (CONFLICT otherwise). Given texts replace
/// the stored ones, an empty one removes a field's translation, omitted ones stay.
#[tracing::instrument(level = "debug", skip(db, actor, texts))]
pub async fn set_translation(
    db: &impl ConnectionTrait,
    actor: &Actor,
    subject: Subject,
    raw_language: &str,
    expected_version: Option<i32>,
    texts: Texts,
) -> AppResult<Checked<translation::Model>> {
    authorize(db, actor, subject).await?;
    let mut v = Validator::default();
    let language = language(&mut v, raw_language);
    let mut checked: Vec<(Field, Option<String>)> = Vec::new();
    for (field, value) in texts.given() {
        let Some(value) = value else { continue };
        let name = field.input_name();
        if !subject.kind.fields().contains(&field) {
            let message = format!("a {} has no {name} to translate", subject.kind.as_str());
            v.add(name, FieldErrorCode::Invalid, message);
            continue;
        }
        let max = field.max_chars(subject.kind);
        let value = if field.single_line() {
            v.optional_name(name, Some(value), max)
        } else {
            v.optional_text(name, Some(value), max)
        };
        checked.push((field, value));
    }
    let Some(language) = language.filter(|_| v.is_ok()) else {
        return Ok(Err(v.finish()));
    };
    let before = find(db, subject.id, language).await?;
    match (&before, expected_version) {
        (Some(before), Some(expected)) if expected == before.row_version => {}
        (Some(before), _) => {
            return Err(AppError::Conflict(format!(
                "the translation in {language} is at version {}: read it again and pass its rowVersion as expectedVersion",
                before.row_version
            )));
        }
        (None, Some(_)) => {
            return Err(AppError::Conflict(format!(
                "there is no translation in {language} any more: read the object again"
            )));
        }
        (None, None) => {}
    }
    let now = chrono::Utc::now();
    let mut row = match &before {
        Some(before) => before.clone().into_active_model(),
        None => translation::ActiveModel {
            id: Set(Uuid::now_v7()),
            subject_type: Set(subject.kind.as_str().to_owned()),
            subject_id: Set(subject.id),
            language: Set(language.as_str().to_owned()),
            name: Set(None),
            alternate_name: Set(None),
            description: Set(None),
            eligibility_description: Set(None),
            fees_description: Set(None),
            application_process: Set(None),
            row_version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        },
    };
    for (field, value) in checked {
        let column = match field {
            Field::Name => &mut row.name,
            Field::AlternateName => &mut row.alternate_name,
            Field::Description => &mut row.description,
            Field::EligibilityDescription => &mut row.eligibility_description,
            Field::FeesDescription => &mut row.fees_description,
            Field::ApplicationProcess => &mut row.application_process,
        };
        *column = Set(value);
    }
    let texts_left = [
        &row.name,
        &row.alternate_name,
        &row.description,
        &row.eligibility_description,
        &row.fees_description,
        &row.application_process,
    ]
    .iter()
    .any(|value| value.as_ref().is_some());
    if !texts_left {
        let message = "give at least one text (removeTranslation removes a language)";
        v.add("name", FieldErrorCode::Required, message);
        return Ok(Err(v.finish()));
    }
    let after = match &before {
        Some(before) => {
            concurrency::update::<translation::Entity, _>(db, row, before, expected_version).await?
        }
        None => {
            let inserted = translation::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        translation::Column::SubjectId,
                        translation::Column::Language,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
            concurrency::check_updated(inserted)?;
            find(db, subject.id, language)
                .await?
                .ok_or(AppError::NotFound("translation"))?
        }
    };
    audit_change(
        db,
        actor,
        "setTranslation",
        subject,
        before.as_ref(),
        Some(&after),
    )
    .await?;
    subject_changed(db, subject).await?;
    Ok(Ok(after))
}

/// Removes the translation of `subject` in `language`, read at `expected_version`.
/// Returns the language removed.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn remove_translation(
    db: &impl ConnectionTrait,
    actor: &Actor,
    subject: Subject,
    raw_language: &str,
    expected_version: i32,
) -> AppResult<Checked<LanguageCode>> {
    authorize(db, actor, subject).await?;
    let mut v = Validator::default();
    let Some(language) = language(&mut v, raw_language) else {
        return Ok(Err(v.finish()));
    };
    let Some(before) = find(db, subject.id, language).await? else {
        v.add(
            "language",
            FieldErrorCode::NotFound,
            format!("there is no translation in {language}"),
        );
        return Ok(Err(v.finish()));
    };
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    let removed = translation::Entity::delete_many()
        .filter(translation::Column::Id.eq(before.id))
        .filter(translation::Column::RowVersion.eq(before.row_version))
        .exec(db)
        .await?;
    concurrency::check_updated(removed.rows_affected)?;
    audit_change(db, actor, "removeTranslation", subject, Some(&before), None).await?;
    subject_changed(db, subject).await?;
    Ok(Ok(language))
}

/// Deletes every translation of an object that is being deleted (a site).
pub async fn delete_all_of(db: &impl ConnectionTrait, subject: Uuid) -> AppResult<()> {
    translation::Entity::delete_many()
        .filter(translation::Column::SubjectId.eq(subject))
        .exec(db)
        .await?;
    Ok(())
}
