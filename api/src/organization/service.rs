//! Organization queries.

use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::scopes;
use crate::concurrency;
use crate::error::{AppError, AppResult};
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::validation::{Checked, Validator};
use entity::enums::{OrganizationKind, Sector, SignatoryStatus};
use entity::{location, organization, signatory};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
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
    Sort {
        column: organization::Column::SearchName,
        id: organization::Column::Id,
        descending: false,
        cursor: |row| Cursor {
            key: SortKey::Text(row.search_name.clone()),
            id: row.id,
        },
    }
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
async fn versioned_update(
    db: &impl ConnectionTrait,
    mut row: organization::ActiveModel,
    before: &organization::Model,
    expected_version: Option<i32>,
) -> AppResult<organization::Model> {
    concurrency::check_expected(expected_version, before.row_version)?;
    row.row_version = Set(before.row_version + 1);
    row.updated_at = Set(chrono::Utc::now());
    concurrency::guarded_update(
        db,
        row,
        (organization::Column::Id, before.id),
        (organization::Column::RowVersion, before.row_version),
    )
    .await?;
    get(db, before.id).await
}
