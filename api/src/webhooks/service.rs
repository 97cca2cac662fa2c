//! Webhook endpoints of an organization: registering, changing, rotating the secret,
//! removing; the delivery log and re-delivery. Managed by the organization's
//! ORG_ADMIN or its client with `webhooks:write`.

use super::domain::{self, EndpointUrl};
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::{Viewer, scopes};
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::events::service::TYPES;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{Duration, Utc};
use entity::enums::{DeliveryState, WebhookStatus};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint, webhook_secret};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use uuid::Uuid;

/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// Most endpoints one organization may register.
pub const MAX_ENDPOINTS: u64 = 20;
/// Longest overlap of a rotation, in hours (a week).
pub const MAX_OVERLAP_HOURS: u32 = 168;

/// What an endpoint should be.
#[derive(Clone, Debug, Default)]
pub struct EndpointData {
    /// Where deliveries are posted.
    pub url: String,
    /// The event types wanted (empty: all).
    pub event_types: Vec<String>,
    /// For people.
    pub description: Option<String>,
}

/// An endpoint and a secret in clear (shown once).
#[derive(Debug)]
pub struct Issued {
    /// The endpoint.
    pub endpoint: webhook_endpoint::Model,
    /// The new signing secret.
    pub secret: String,
}

/// The webhook rules of one organization: its ORG_ADMIN, or its client with
/// `webhooks:write`.
pub fn require_manager(viewer: &Viewer, organization: Uuid) -> AppResult<()> {
    policy::require_org_write(viewer, organization, scopes::WEBHOOKS_WRITE)
}

/// The endpoint with `id` if the viewer manages it; NOT_FOUND otherwise (another
/// organization's endpoints do not exist for the caller).
pub async fn managed(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<webhook_endpoint::Model> {
    match webhook_endpoint::Entity::find_by_id(id).one(db).await? {
        Some(row) if require_manager(viewer, row.organization_id).is_ok() => Ok(row),
        _ => Err(AppError::NotFound("webhook endpoint")),
    }
}

/// The organization the viewer manages webhooks of.
pub fn managed_organization(viewer: &Viewer) -> AppResult<Uuid> {
    let organization = viewer
        .organization
        .ok_or_else(|| policy::deny(viewer, "only an organization has webhooks"))?;
    require_manager(viewer, organization)?;
    Ok(organization)
}

fn check(v: &mut Validator, data: EndpointData, allow_private: bool) -> EndpointData {
    let url = match EndpointUrl::parse(&data.url, allow_private) {
        Ok(url) => url.into_string(),
        Err(problem) => {
            v.add("url", FieldErrorCode::Invalid, problem.to_string());
            String::new()
        }
    };
    let mut types: Vec<String> = data
        .event_types
        .iter()
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    types.sort();
    types.dedup();
    if let Some(unknown) = types.iter().find(|t| !TYPES.contains(&t.as_str())) {
        v.add(
            "eventTypes",
            FieldErrorCode::Invalid,
            format!(
                "`{}` is not an event type",
                unknown.chars().take(64).collect::<String>()
            ),
        );
    }
    let description = v.optional_text("description", data.description.as_deref(), MAX_DESCRIPTION);
    EndpointData {
        url,
        event_types: types,
        description,
    }
}

async fn add_secret(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    endpoint: Uuid,
) -> AppResult<String> {
    let secret = domain::new_secret();
    webhook_secret::ActiveModel {
        id: Set(Uuid::now_v7()),
        endpoint_id: Set(endpoint),
        secret: Set(protection.encrypt(&secret)?),
        created_at: Set(Utc::now()),
        expires_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(secret)
}

async fn audit_change(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &'static str,
    before: Option<&webhook_endpoint::Model>,
    after: Option<&webhook_endpoint::Model>,
    id: Uuid,
) -> AppResult<()> {
    audit::record(
        db,
        actor,
        Change {
            operation,
            object_type: "WebhookEndpoint",
            object_id: id,
            before,
            after,
        },
    )
    .await
}

/// Writes the changed endpoint if it is still at `expected` (CONFLICT otherwise) and
/// records the change in the audit log.
async fn save(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &'static str,
    before: &webhook_endpoint::Model,
    row: webhook_endpoint::ActiveModel,
    expected: i32,
) -> AppResult<webhook_endpoint::Model> {
    let after =
        concurrency::update::<webhook_endpoint::Entity, _>(db, row, before, Some(expected)).await?;
    audit_change(db, actor, operation, Some(before), Some(&after), before.id).await?;
    Ok(after)
}

/// Registers an endpoint of the caller's organization; it receives the events
/// committed from now on. The secret is returned once.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    protection: &DataProtection,
    allow_private: bool,
    data: EndpointData,
) -> AppResult<Checked<Issued>> {
    let organization = managed_organization(&actor.viewer)?;
    let mut v = Validator::default();
    let data = check(&mut v, data, allow_private);
    let existing = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::OrganizationId.eq(organization))
        .count(db)
        .await?;
    if existing >= MAX_ENDPOINTS {
        v.add(
            "url",
            FieldErrorCode::OutOfRange,
            format!("an organization has at most {MAX_ENDPOINTS} endpoints"),
        );
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let latest = crate::events::service::latest_position(db).await?;
    let now = Utc::now();
    let row = webhook_endpoint::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(organization),
        url: Set(data.url),
        description: Set(data.description),
        event_types: Set(data.event_types.join(" ")),
        status: Set(WebhookStatus::Active),
        disabled_reason: Set(None),
        disabled_at: Set(None),
        consecutive_failures: Set(0),
        cursor_position: Set(latest),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let secret = add_secret(db, protection, row.id).await?;
    audit_change(db, actor, "createWebhookEndpoint", None, Some(&row), row.id).await?;
    Ok(Ok(Issued {
        endpoint: row,
        secret,
    }))
}

/// What may change on an endpoint (None: unchanged).
#[derive(Clone, Debug, Default)]
pub struct EndpointChanges {
    /// New URL.
    pub url: Option<String>,
    /// New event types (empty: all).
    pub event_types: Option<Vec<String>>,
    /// New description (empty: none).
    pub description: Option<String>,
    /// Turn deliveries on (re-enabling a disabled endpoint resumes where it stopped)
    /// or off.
    pub enabled: Option<bool>,
}

/// Changes an endpoint. CONFLICT when `expected` is stale.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn update(
    db: &impl ConnectionTrait,
    actor: &Actor,
    allow_private: bool,
    id: Uuid,
    expected: i32,
    changes: EndpointChanges,
) -> AppResult<Checked<webhook_endpoint::Model>> {
    let before = managed(db, &actor.viewer, id).await?;
    concurrency::check_expected(Some(expected), before.row_version)?;
    let mut v = Validator::default();
    let current_types: Vec<String> = before
        .event_types
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let data = check(
        &mut v,
        EndpointData {
            url: changes.url.clone().unwrap_or_else(|| before.url.clone()),
            event_types: changes.event_types.clone().unwrap_or(current_types),
            description: match &changes.description {
                Some(d) if d.trim().is_empty() => None,
                Some(d) => Some(d.clone()),
                None => before.description.clone(),
            },
        },
        allow_private,
    );
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: webhook_endpoint::ActiveModel = before.clone().into();
    row.url = Set(data.url);
    row.event_types = Set(data.event_types.join(" "));
    row.description = Set(data.description);
    match changes.enabled {
        Some(true) => {
            row.status = Set(WebhookStatus::Active);
            row.disabled_reason = Set(None);
            row.disabled_at = Set(None);
            row.consecutive_failures = Set(0);
        }
        Some(false) if before.status == WebhookStatus::Active => {
            row.status = Set(WebhookStatus::Disabled);
            row.disabled_reason = Set(Some("disabled by an administrator".to_owned()));
            row.disabled_at = Set(Some(Utc::now()));
        }
        _ => {}
    }
    let change = "updateWebhookEndpoint";
    Ok(Ok(save(db, actor, change, &before, row, expected).await?))
}

/// Issues a new secret; the current ones keep signing for `overlap_hours` (0: they
/// stop at once), so a receiver can switch without losing a delivery.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn rotate_secret(
    db: &impl ConnectionTrait,
    actor: &Actor,
    protection: &DataProtection,
    id: Uuid,
    expected: i32,
    overlap_hours: u32,
) -> AppResult<Checked<Issued>> {
    let before = managed(db, &actor.viewer, id).await?;
    concurrency::check_expected(Some(expected), before.row_version)?;
    if overlap_hours > MAX_OVERLAP_HOURS {
        let mut v = Validator::default();
        v.add(
            "overlapHours",
            FieldErrorCode::OutOfRange,
            format!("from 0 to {MAX_OVERLAP_HOURS} hours"),
        );
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    // Secrets already past their overlap go; the current ones start theirs.
    webhook_secret::Entity::delete_many()
        .filter(webhook_secret::Column::EndpointId.eq(id))
        .filter(webhook_secret::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    // Every older secret signs until the end of this overlap at the latest.
    let until = now + Duration::hours(i64::from(overlap_hours));
    webhook_secret::Entity::update_many()
        .col_expr(webhook_secret::Column::ExpiresAt, Expr::value(until))
        .filter(webhook_secret::Column::EndpointId.eq(id))
        .filter(
            Condition::any()
                .add(webhook_secret::Column::ExpiresAt.is_null())
                .add(webhook_secret::Column::ExpiresAt.gt(until)),
        )
        .exec(db)
        .await?;
    let secret = add_secret(db, protection, id).await?;
    let row: webhook_endpoint::ActiveModel = before.clone().into();
    let after = save(db, actor, "rotateWebhookSecret", &before, row, expected).await?;
    Ok(Ok(Issued {
        endpoint: after,
        secret,
    }))
}

/// Removes an endpoint with its secrets and delivery log.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn delete(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected: i32,
) -> AppResult<Checked<Uuid>> {
    let before = managed(db, &actor.viewer, id).await?;
    concurrency::check_expected(Some(expected), before.row_version)?;
    let result = webhook_endpoint::Entity::delete_many()
        .filter(webhook_endpoint::Column::Id.eq(id))
        .filter(webhook_endpoint::Column::RowVersion.eq(before.row_version))
        .exec(db)
        .await?;
    concurrency::check_updated(result.rows_affected)?;
    audit_change(db, actor, "deleteWebhookEndpoint", Some(&before), None, id).await?;
    Ok(Ok(id))
}

fn endpoint_sort() -> Sort<webhook_endpoint::Entity> {
    Sort::by(
        webhook_endpoint::Column::CreatedAt,
        webhook_endpoint::Column::Id,
        false,
        |row: &webhook_endpoint::Model| Cursor::new(SortKey::Time(row.created_at), row.id),
    )
}

/// The endpoints of the caller's organization, oldest first, optionally in some
/// states only.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    statuses: &[WebhookStatus],
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<webhook_endpoint::Model>, u64)> {
    let organization = managed_organization(viewer)?;
    let mut select = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::OrganizationId.eq(organization));
    if !statuses.is_empty() {
        select = select.filter(webhook_endpoint::Column::Status.is_in(statuses.iter().copied()));
    }
    pagination::list(db, select, &endpoint_sort(), window, with_total).await
}

fn delivery_sort() -> Sort<webhook_delivery::Entity> {
    Sort::by(
        webhook_delivery::Column::EventPosition,
        webhook_delivery::Column::Id,
        true,
        |row: &webhook_delivery::Model| Cursor::new(SortKey::Int(row.event_position), row.id),
    )
}

/// An endpoint's deliveries, latest event first, optionally in some states only.
#[tracing::instrument(level = "debug", skip_all, fields(%endpoint))]
pub async fn deliveries(
    db: &impl ConnectionTrait,
    endpoint: Uuid,
    states: &[DeliveryState],
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<webhook_delivery::Model>, u64)> {
    let mut select =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::EndpointId.eq(endpoint));
    if !states.is_empty() {
        select = select.filter(webhook_delivery::Column::State.is_in(states.iter().copied()));
    }
    pagination::list(db, select, &delivery_sort(), window, with_total).await
}

/// The attempts of these deliveries, oldest first, in one statement.
pub async fn attempts(
    db: &impl ConnectionTrait,
    deliveries: &[Uuid],
) -> AppResult<Vec<webhook_attempt::Model>> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    Ok(webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.is_in(deliveries.iter().copied()))
        .order_by_asc(webhook_attempt::Column::DeliveryId)
        .order_by_asc(webhook_attempt::Column::AttemptedAt)
        .all(db)
        .await?)
}

/// The delivery with `id` if the viewer manages its endpoint.
pub async fn managed_delivery(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<webhook_delivery::Model> {
    let delivery = webhook_delivery::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("webhook delivery"))?;
    managed(db, viewer, delivery.endpoint_id)
        .await
        .map_err(|_| AppError::NotFound("webhook delivery"))?;
    Ok(delivery)
}

/// Delivers an event again (a delivered one once more, with the same `webhook-id`; a
/// failed one afresh): it is due at once, with a new retry period.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn redeliver(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<Checked<webhook_delivery::Model>> {
    let before = managed_delivery(db, &actor.viewer, id).await?;
    if before.state == DeliveryState::Pending {
        let mut v = Validator::default();
        v.add(
            "delivery",
            FieldErrorCode::InvalidState,
            "the delivery is still pending: it will be attempted anyway",
        );
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let mut row: webhook_delivery::ActiveModel = before.clone().into();
    row.state = Set(DeliveryState::Pending);
    row.next_attempt_at = Set(now);
    row.lease_until = Set(None);
    row.created_at = Set(now);
    let after = row.update(db).await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "redeliverWebhook",
            object_type: "WebhookDelivery",
            object_id: id,
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    Ok(Ok(after))
}
