//! Taxonomy term queries.

use crate::audit::service::{self as audit, Actor};
use crate::auth::policy;
use crate::concurrency;
use crate::error::AppResult;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::Utc;
use entity::enums::Taxonomy;
use entity::{need_service_type, term};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};
use std::collections::HashMap;
use uuid::Uuid;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct TermQuery {
    /// Only terms of these taxonomies.
    pub taxonomies: Vec<Taxonomy>,
    /// Code or label contains this text (case ignored).
    pub search: Option<String>,
}

/// The name of a taxonomy, for messages (as the schema spells it).
pub fn taxonomy_name(taxonomy: Taxonomy) -> &'static str {
    match taxonomy {
        Taxonomy::Language => "LANGUAGE (ISO 639-1)",
        other => other.as_str(),
    }
}

fn sort() -> Sort<term::Entity> {
    Sort::by(
        term::Column::Code,
        term::Column::Id,
        false,
        |row: &term::Model| Cursor::new(SortKey::Text(row.code.clone()), row.id),
    )
}

/// Lists terms ordered by code.
pub async fn list(
    db: &impl ConnectionTrait,
    query: &TermQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<term::Model>, u64)> {
    let mut select = term::Entity::find();
    if !query.taxonomies.is_empty() {
        select = select.filter(term::Column::Taxonomy.is_in(query.taxonomies.clone()));
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(&search.to_lowercase());
        let matches = |column: term::Column| {
            Expr::expr(Func::lower(Expr::col(column)))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        select = select.filter(
            Condition::any()
                .add(matches(term::Column::Code))
                .add(matches(term::Column::LabelIt))
                .add(matches(term::Column::LabelEn)),
        );
    }
    pagination::list(db, select, &sort(), window, with_total).await
}

// ---------------------------------------------------------------------------------
// Registry changes: taxonomy terms (regional administration only)
// ---------------------------------------------------------------------------------

/// A new taxonomy term.
#[derive(Clone, Debug)]
pub struct NewTerm {
    /// The taxonomy.
    pub taxonomy: Taxonomy,
    /// Code, unique within the taxonomy.
    pub code: String,
    /// Italian label.
    pub label_it: String,
    /// English label.
    pub label_en: String,
    /// Description; blank means none.
    pub description: Option<String>,
    /// Broader term of the same taxonomy.
    pub parent: Option<Uuid>,
}

/// Changes to a term; omitted fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct TermChanges {
    /// New Italian label.
    pub label_it: Option<String>,
    /// New English label.
    pub label_en: Option<String>,
    /// New description; empty clears it.
    pub description: Option<String>,
}

/// Longest description of a term.
const DESCRIPTION_MAX: usize = 4000;

/// Creates a taxonomy term. Regional administrators only.
pub async fn create_term(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewTerm,
) -> AppResult<Checked<term::Model>> {
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    let code = v.code("code", &input.code, 64);
    let label_it = v.name("labelIt", &input.label_it, 200);
    let label_en = v.name("labelEn", &input.label_en, 200);
    let description = v.optional_text("description", input.description.as_deref(), DESCRIPTION_MAX);
    if let Some(parent) = input.parent {
        match term::Entity::find_by_id(parent).one(db).await? {
            None => v.add("parent", FieldErrorCode::NotFound, "no such term"),
            Some(p) if p.taxonomy != input.taxonomy => v.add(
                "parent",
                FieldErrorCode::Invalid,
                "the broader term must belong to the same taxonomy",
            ),
            Some(_) => {}
        }
    }
    if !code.is_empty() {
        let existing = term::Entity::find()
            .filter(term::Column::Taxonomy.eq(input.taxonomy))
            .filter(term::Column::Code.eq(code.as_str()));
        v.unique(
            db,
            "code",
            existing,
            "another term of this taxonomy has this code",
        )
        .await?;
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let id = Uuid::now_v7();
    let now = Utc::now();
    let after = term::ActiveModel {
        id: Set(id),
        taxonomy: Set(input.taxonomy),
        code: Set(code),
        label_it: Set(label_it),
        label_en: Set(label_en),
        description: Set(description),
        parent_id: Set(input.parent),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    audit::log::<term::Entity>(db, actor, "createTerm", None, Some(&after)).await?;
    Ok(Ok(after))
}

/// Changes the labels or description of a term. Regional administrators only.
pub async fn update_term(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    changes: TermChanges,
) -> AppResult<Checked<term::Model>> {
    let before = concurrency::get::<term::Entity>(db, id).await?;
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    let label_it = changes.label_it.map(|l| v.name("labelIt", &l, 200));
    let label_en = changes.label_en.map(|l| v.name("labelEn", &l, 200));
    let description = changes
        .description
        .map(|d| v.optional_text("description", Some(&d), DESCRIPTION_MAX));
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: term::ActiveModel = before.clone().into();
    if let Some(label_it) = label_it {
        row.label_it = Set(label_it);
    }
    if let Some(label_en) = label_en {
        row.label_en = Set(label_en);
    }
    if let Some(description) = description {
        row.description = Set(description);
    }
    let after =
        concurrency::update::<term::Entity, _>(db, row, &before, Some(expected_version)).await?;
    audit::log::<term::Entity>(db, actor, "updateTerm", Some(&before), Some(&after)).await?;
    Ok(Ok(after))
}

/// The terms of `taxonomy` with `codes` (codes as stored: upper-case for every
/// taxonomy but languages). The first code that is not one is the userError INVALID on
/// `field`, naming it.
pub async fn check_codes(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    field: &str,
    taxonomy: Taxonomy,
    codes: &[String],
) -> AppResult<Vec<term::Model>> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let found = term::Entity::find()
        .filter(term::Column::Taxonomy.eq(taxonomy))
        .filter(term::Column::Code.is_in(codes.iter().cloned()))
        .all(db)
        .await?;
    if let Some(unknown) = codes.iter().find(|c| !found.iter().any(|t| &t.code == *c)) {
        v.add(
            field,
            FieldErrorCode::Invalid,
            format!("`{unknown}` is not a {} code", taxonomy_name(taxonomy)),
        );
    }
    Ok(found)
}

/// Most service types one need may map to.
pub const MAX_SERVICE_TYPES_PER_NEED: usize = 50;

/// The service types that address each of `needs` (NEED term ids), by code: one
/// statement for any number of needs.
pub async fn service_types_of(
    db: &impl ConnectionTrait,
    needs: &[Uuid],
) -> Result<HashMap<Uuid, Vec<term::Model>>, DbErr> {
    let rows = need_service_type::Entity::find()
        .filter(need_service_type::Column::NeedTermId.is_in(needs.iter().copied()))
        .find_also_related(term::Entity)
        .order_by_asc(term::Column::Code)
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, Vec<term::Model>> = HashMap::new();
    for (link, service_type) in rows {
        if let Some(service_type) = service_type {
            out.entry(link.need_term_id).or_default().push(service_type);
        }
    }
    Ok(out)
}

/// Sets the service types that address a need (replacing the old ones): matching
/// follows them from a need to the services that can meet it. Regional
/// administrators only; the need's `rowVersion` moves.
pub async fn set_need_service_types(
    db: &impl ConnectionTrait,
    actor: &Actor,
    need: Uuid,
    expected_version: i32,
    codes: Vec<String>,
) -> AppResult<Checked<term::Model>> {
    let before = concurrency::get::<term::Entity>(db, need).await?;
    policy::require_regional_admin(&actor.viewer)?;
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    let mut v = Validator::default();
    if before.taxonomy != Taxonomy::Need {
        v.add("need", FieldErrorCode::Invalid, "the term is not a NEED");
    }
    let mut codes: Vec<String> = codes
        .iter()
        .map(|c| c.trim().to_ascii_uppercase())
        .collect();
    codes.sort();
    codes.dedup();
    if codes.len() > MAX_SERVICE_TYPES_PER_NEED {
        v.add(
            "serviceTypes",
            FieldErrorCode::OutOfRange,
            format!("at most {MAX_SERVICE_TYPES_PER_NEED} service types"),
        );
    }
    let types = check_codes(db, &mut v, "serviceTypes", Taxonomy::ServiceType, &codes).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let old: Vec<String> = service_types_of(db, &[need])
        .await?
        .remove(&need)
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.code)
        .collect();
    need_service_type::Entity::delete_many()
        .filter(need_service_type::Column::NeedTermId.eq(need))
        .exec(db)
        .await?;
    let now = Utc::now();
    for service_type in &types {
        need_service_type::ActiveModel {
            need_term_id: Set(need),
            service_type_term_id: Set(service_type.id),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    let row: term::ActiveModel = before.clone().into();
    let after =
        concurrency::update::<term::Entity, _>(db, row, &before, Some(expected_version)).await?;
    audit::record(
        db,
        actor,
        audit::Change {
            operation: "setNeedServiceTypes",
            object_type: "Term",
            object_id: need,
            before: Some(&serde_json::json!({ "code": before.code, "serviceTypes": old })),
            after: Some(&serde_json::json!({ "code": after.code, "serviceTypes": codes })),
        },
    )
    .await?;
    Ok(Ok(after))
}
