//! Needs assessments: what a person an organization holds needs (NEED terms, each
//! with a severity), the target groups they belong to and notes, recorded on the
//! organization's own record of the person and visible to it alone.

use super::service::get_own;
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::Viewer;
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::taxonomy::service::check_codes;
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{NaiveDate, Utc};
use entity::enums::{Severity, Taxonomy};
use entity::{assessed_need, needs_assessment, person};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// Longest notes, in characters.
pub const MAX_NOTES: usize = 4000;
/// Most needs (and most target groups) in one assessment.
pub const MAX_CODES: usize = 30;

/// An assessment with its needs, most severe first.
#[derive(Clone, Debug)]
pub struct Assessment {
    /// The assessment.
    pub row: needs_assessment::Model,
    /// Its needs.
    pub needs: Vec<assessed_need::Model>,
}

/// What an assessment says (to record or to revise).
#[derive(Clone, Debug)]
pub struct AssessmentData {
    /// NEED term codes with their severity.
    pub needs: Vec<(String, Severity)>,
    /// TARGET_GROUP term codes the person belongs to.
    pub target_groups: Vec<String>,
    /// Notes (encrypted at rest).
    pub notes: Option<String>,
    /// The day of the assessment (today when omitted).
    pub assessed_on: Option<NaiveDate>,
}

/// Severity rank for ordering: most severe first.
fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Urgent => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
    }
}

/// The input, checked: needs (upper-case codes, each once, known NEED terms), target
/// groups (known TARGET_GROUP terms), notes, a day neither in the future nor before
/// the person was born.
struct Assessed {
    needs: Vec<(String, Severity)>,
    target_groups: Vec<String>,
    notes: Option<String>,
    assessed_on: NaiveDate,
}

async fn check(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    person: &person::Model,
    data: AssessmentData,
) -> AppResult<Assessed> {
    let mut needs: Vec<(String, Severity)> = Vec::new();
    for (code, severity) in data.needs {
        let code = code.trim().to_ascii_uppercase();
        if let Some(seen) = needs.iter_mut().find(|(c, _)| *c == code) {
            // The same need twice: the more severe one stands.
            if rank(severity) < rank(seen.1) {
                seen.1 = severity;
            }
        } else {
            needs.push((code, severity));
        }
    }
    needs.sort_by(|a, b| rank(a.1).cmp(&rank(b.1)).then_with(|| a.0.cmp(&b.0)));
    let mut target_groups: Vec<String> = data
        .target_groups
        .iter()
        .map(|g| g.trim().to_ascii_uppercase())
        .collect();
    target_groups.sort();
    target_groups.dedup();
    if needs.is_empty() {
        v.add("needs", FieldErrorCode::Required, "name at least one need");
    } else if needs.len() > MAX_CODES {
        v.add(
            "needs",
            FieldErrorCode::OutOfRange,
            format!("at most {MAX_CODES} needs"),
        );
    } else {
        let codes: Vec<String> = needs.iter().map(|(c, _)| c.clone()).collect();
        check_codes(db, v, "needs", Taxonomy::Need, &codes).await?;
    }
    if target_groups.len() > MAX_CODES {
        v.add(
            "targetGroups",
            FieldErrorCode::OutOfRange,
            format!("at most {MAX_CODES} target groups"),
        );
    } else {
        check_codes(db, v, "targetGroups", Taxonomy::TargetGroup, &target_groups).await?;
    }
    let notes = v.optional_text("notes", data.notes.as_deref(), MAX_NOTES);
    let today = Utc::now().date_naive();
    let assessed_on = data.assessed_on.unwrap_or(today);
    if assessed_on > today {
        v.add(
            "assessedOn",
            FieldErrorCode::OutOfRange,
            "an assessment cannot be dated in the future",
        );
    }
    if person.birth_date.is_some_and(|birth| assessed_on < birth) {
        v.add(
            "assessedOn",
            FieldErrorCode::OutOfRange,
            "an assessment cannot be dated before the person was born",
        );
    }
    if person.erased_at.is_some() {
        v.add(
            "person",
            FieldErrorCode::InvalidState,
            "the person's data was erased",
        );
    }
    Ok(Assessed {
        needs,
        target_groups,
        notes,
        assessed_on,
    })
}

/// What the audit log keeps of an assessment: ids, the day and the number of needs,
/// never the needs, groups or notes themselves (they are personal data).
fn audit_view(row: &needs_assessment::Model, needs: usize) -> serde_json::Value {
    json!({
        "id": row.id,
        "personId": row.person_id,
        "organizationId": row.organization_id,
        "assessedOn": row.assessed_on,
        "needCount": needs,
        "rowVersion": row.row_version,
    })
}

async fn write_needs(
    db: &impl ConnectionTrait,
    assessment: Uuid,
    needs: &[(String, Severity)],
) -> AppResult<Vec<assessed_need::Model>> {
    assessed_need::Entity::delete_many()
        .filter(assessed_need::Column::AssessmentId.eq(assessment))
        .exec(db)
        .await?;
    let mut rows = Vec::with_capacity(needs.len());
    for (code, severity) in needs {
        rows.push(
            assessed_need::ActiveModel {
                assessment_id: Set(assessment),
                need_code: Set(code.clone()),
                severity: Set(*severity),
            }
            .insert(db)
            .await?,
        );
    }
    Ok(rows)
}

/// Records an assessment of a person the caller's organization holds.
#[tracing::instrument(level = "debug", skip_all, fields(%person))]
pub async fn record(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    person: Uuid,
    data: AssessmentData,
) -> AppResult<Checked<Assessment>> {
    let (person, organization) = get_own(db, &actor.viewer, person).await?;
    let mut v = Validator::default();
    let input = check(db, &mut v, &person, data).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let row = needs_assessment::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(person.id),
        organization_id: Set(organization),
        assessor: Set(actor.viewer.subject.clone()),
        assessed_on: Set(input.assessed_on),
        target_groups: Set(input.target_groups.join(" ")),
        notes_enc: Set(input
            .notes
            .map(|notes| protection.encrypt_text(&notes))
            .transpose()?),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let needs = write_needs(db, row.id, &input.needs).await?;
    audit::record(
        db,
        actor,
        Change::<(), _> {
            operation: "recordNeedsAssessment",
            object_type: "NeedsAssessment",
            object_id: row.id,
            before: None,
            after: Some(&audit_view(&row, needs.len())),
        },
    )
    .await?;
    Ok(Ok(Assessment { row, needs }))
}

/// Revises an assessment of the caller's organization: its needs, groups, notes and
/// day are replaced. CONFLICT when `expected_version` is stale.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn revise(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    data: AssessmentData,
) -> AppResult<Checked<Assessment>> {
    let before = own(db, actor, id).await?;
    let (person, _) = get_own(db, &actor.viewer, before.person_id).await?;
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    let mut v = Validator::default();
    let input = check(db, &mut v, &person, data).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: needs_assessment::ActiveModel = before.clone().into();
    row.assessor = Set(actor.viewer.subject.clone());
    row.assessed_on = Set(input.assessed_on);
    row.target_groups = Set(input.target_groups.join(" "));
    row.notes_enc = Set(input
        .notes
        .map(|notes| protection.encrypt_text(&notes))
        .transpose()?);
    let after = concurrency::update::<needs_assessment::Entity, _>(
        db,
        row,
        &before,
        Some(expected_version),
    )
    .await?;
    let needs = write_needs(db, after.id, &input.needs).await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "reviseNeedsAssessment",
            object_type: "NeedsAssessment",
            object_id: after.id,
            before: Some(&audit_view(&before, 0)),
            after: Some(&audit_view(&after, needs.len())),
        },
    )
    .await?;
    Ok(Ok(Assessment { row: after, needs }))
}

/// The assessment if it is the caller's organization's; NOT_FOUND otherwise (an
/// assessment of another organization reads exactly like an unknown one).
async fn own(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<needs_assessment::Model> {
    visible_row(db, &actor.viewer, id)
        .await?
        .ok_or(AppError::NotFound("needs assessment"))
}

/// The assessment row if the viewer may read it, by the rule of
/// [`crate::privacy::access`]: assessments are part of an organization's own record of
/// the person, read by that organization alone (never shared with a receiver).
async fn visible_row(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<needs_assessment::Model>> {
    let Ok(organization) = crate::person::service::acting_organization(viewer) else {
        return Ok(None);
    };
    let Some(row) = needs_assessment::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let access = crate::privacy::access::access_of(db, row.person_id, organization).await?;
    Ok(access
        .filter(|a| a.shares(crate::privacy::access::Field::Assessments))
        .map(|_| row))
}

/// The assessment with its needs if the viewer may read it (for `node(id:)`).
pub async fn visible(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<Option<Assessment>> {
    let Some(row) = visible_row(db, viewer, id).await? else {
        return Ok(None);
    };
    let needs = needs_of(db, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(Some(Assessment { row, needs }))
}

/// The assessments of each person, newest first, each with its needs: two statements
/// for any number of people (for the batch loader: no visibility check here).
pub async fn of_persons(
    db: &impl ConnectionTrait,
    people: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Assessment>>, DbErr> {
    let rows = needs_assessment::Entity::find()
        .filter(needs_assessment::Column::PersonId.is_in(people.iter().copied()))
        .order_by_desc(needs_assessment::Column::AssessedOn)
        .order_by_desc(needs_assessment::Column::Id)
        .all(db)
        .await?;
    let mut needs = needs_of(db, &rows.iter().map(|r| r.id).collect::<Vec<_>>()).await?;
    let mut out: HashMap<Uuid, Vec<Assessment>> = HashMap::new();
    for row in rows {
        let needs = needs.remove(&row.id).unwrap_or_default();
        out.entry(row.person_id)
            .or_default()
            .push(Assessment { row, needs });
    }
    Ok(out)
}

/// The target groups of the latest assessment of the record `person` (by day, then
/// the last recorded); empty when none says.
pub async fn latest_target_groups(
    db: &impl ConnectionTrait,
    person: Uuid,
) -> AppResult<Vec<String>> {
    let latest = needs_assessment::Entity::find()
        .filter(needs_assessment::Column::PersonId.eq(person))
        .order_by_desc(needs_assessment::Column::AssessedOn)
        .order_by_desc(needs_assessment::Column::Id)
        .one(db)
        .await?;
    Ok(latest
        .map(|row| {
            row.target_groups
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

/// The needs of each assessment, most severe first.
pub async fn needs_of(
    db: &impl ConnectionTrait,
    assessments: &[Uuid],
) -> Result<HashMap<Uuid, Vec<assessed_need::Model>>, DbErr> {
    let rows = assessed_need::Entity::find()
        .filter(assessed_need::Column::AssessmentId.is_in(assessments.iter().copied()))
        .order_by_asc(assessed_need::Column::NeedCode)
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, Vec<assessed_need::Model>> = HashMap::new();
    for row in rows {
        out.entry(row.assessment_id).or_default().push(row);
    }
    for needs in out.values_mut() {
        needs.sort_by_key(|n| rank(n.severity));
    }
    Ok(out)
}
