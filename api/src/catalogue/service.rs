//! Changing the catalogue: an organization's administrator or its machine clients
//! create and change its services, their status and their capacity; every change is
//! audited. The values of a service are checked in [`super::fields`].

use super::fields::{ServiceFields, apply_service_fields, replace_links};
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::scopes;
use crate::concurrency;
use crate::error::AppResult;
use crate::graphql::relay::NodeKind;
use crate::validation::{Checked, Validator};
use entity::enums::{ServiceStatus, Taxonomy};
use entity::{organization, service, service_area, service_at_location, service_term, term};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// New capacity figures; `None` keeps a figure, `Some(None)` clears it.
#[derive(Clone, Copy, Debug, Default)]
pub struct CapacityChanges {
    /// Places open now.
    pub open_places: Option<Option<i32>>,
    /// People waiting.
    pub waitlist_length: Option<Option<i32>>,
    /// Typical wait, in days.
    pub typical_wait_days: Option<Option<i32>>,
}

/// Largest capacity figure accepted.
const MAX_CAPACITY: i32 = 100_000;

/// A service as recorded in the audit log: the row with its links as codes.
#[derive(serde::Serialize)]
struct ServiceRecord<'a> {
    #[serde(flatten)]
    service: &'a service::Model,
    service_types: Vec<String>,
    target_groups: Vec<String>,
    languages: Vec<String>,
    service_area: Vec<String>,
    locations: Vec<Uuid>,
}

/// Loads the links of `row` for the audit log.
async fn record_of<'a>(
    db: &impl ConnectionTrait,
    row: &'a service::Model,
) -> AppResult<ServiceRecord<'a>> {
    let mut out = ServiceRecord {
        service: row,
        service_types: Vec::new(),
        target_groups: Vec::new(),
        languages: Vec::new(),
        service_area: Vec::new(),
        locations: Vec::new(),
    };
    let terms = service_term::Entity::find()
        .find_also_related(term::Entity)
        .filter(service_term::Column::ServiceId.eq(row.id))
        .all(db)
        .await?;
    for term in terms.into_iter().filter_map(|(_, t)| t) {
        match term.taxonomy {
            Taxonomy::ServiceType => out.service_types.push(term.code),
            Taxonomy::TargetGroup => out.target_groups.push(term.code),
            Taxonomy::Language => out.languages.push(term.code),
            // Needs and the referral codes are never linked to a service.
            _ => {}
        }
    }
    let area = service_area::Entity::find()
        .find_also_related(entity::territory::Entity)
        .filter(service_area::Column::ServiceId.eq(row.id))
        .all(db)
        .await?;
    out.service_area = area
        .into_iter()
        .filter_map(|(_, t)| t.map(|t| t.code))
        .collect();
    out.service_area.sort();
    out.locations = service_at_location::Entity::find()
        .filter(service_at_location::Column::ServiceId.eq(row.id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.location_id)
        .collect();
    for list in [
        &mut out.service_types,
        &mut out.target_groups,
        &mut out.languages,
    ] {
        list.sort();
    }
    Ok(out)
}

/// Records the creation (no `before`) or a change of a service with its links.
async fn audit_service(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    before: Option<ServiceRecord<'_>>,
    after: &service::Model,
) -> AppResult<()> {
    let change = Change {
        operation,
        object_type: "Service",
        object_id: after.id,
        before: before.as_ref(),
        after: Some(&record_of(db, after).await?),
    };
    audit::record(db, actor, change).await
}

/// Adds a service to the catalogue for `provider`.
#[tracing::instrument(level = "debug", skip(db, actor, fields))]
pub async fn create_service(
    db: &impl ConnectionTrait,
    actor: &Actor,
    provider: Uuid,
    fields: ServiceFields,
) -> AppResult<Checked<service::Model>> {
    concurrency::get::<organization::Entity>(db, provider).await?;
    policy::require_org_write(&actor.viewer, provider, scopes::SERVICES_WRITE)?;
    let now = chrono::Utc::now();
    let id = Uuid::now_v7();
    let mut row = service::ActiveModel {
        id: Set(id),
        organization_id: Set(provider),
        open_places: Set(None),
        waitlist_length: Set(None),
        typical_wait_days: Set(None),
        capacity_updated_at: Set(None),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let mut v = Validator::default();
    let links = apply_service_fields(db, &mut v, &mut row, None, provider, fields).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let after = row.insert(db).await?;
    replace_links(db, id, links).await?;
    audit_service(db, actor, "createService", None, &after).await?;
    crate::events::service::public(db, "service.created", NodeKind::Service, after.id).await?;
    Ok(Ok(after))
}

/// Loads a service that the actor may change (its provider's administrator or a
/// machine client of it with the `services:write` scope).
async fn writable_service(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
) -> AppResult<service::Model> {
    let service = concurrency::get::<service::Entity>(db, id).await?;
    policy::require_org_write(
        &actor.viewer,
        service.organization_id,
        scopes::SERVICES_WRITE,
    )?;
    Ok(service)
}

/// Changes a service. Only given fields change; given lists replace the current links.
#[tracing::instrument(level = "debug", skip(db, actor, fields))]
pub async fn update_service(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    fields: ServiceFields,
) -> AppResult<Checked<service::Model>> {
    let before = writable_service(db, actor, id).await?;
    let provider = before.organization_id;
    let mut row: service::ActiveModel = before.clone().into();
    let mut v = Validator::default();
    let links = apply_service_fields(db, &mut v, &mut row, Some(&before), provider, fields).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let before_record = record_of(db, &before).await?;
    let after =
        concurrency::update::<service::Entity, _>(db, row, &before, Some(expected_version)).await?;
    replace_links(db, id, links).await?;
    audit_service(db, actor, "updateService", Some(before_record), &after).await?;
    crate::events::service::public(db, "service.changed", NodeKind::Service, after.id).await?;
    Ok(Ok(after))
}

/// Changes the status of a service.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn change_service_status(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    status: ServiceStatus,
) -> AppResult<service::Model> {
    let before = writable_service(db, actor, id).await?;
    let mut row: service::ActiveModel = before.clone().into();
    row.status = Set(status);
    let after =
        concurrency::update::<service::Entity, _>(db, row, &before, Some(expected_version)).await?;
    audit::log::<service::Entity>(
        db,
        actor,
        "changeServiceStatus",
        Some(&before),
        Some(&after),
    )
    .await?;
    crate::events::service::public(db, "service.status_changed", NodeKind::Service, after.id)
        .await?;
    crate::sync::service::service_status_changed(db, &before, &after).await?;
    Ok(after)
}

/// Updates the capacity figures of a service and stamps them with the current time.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn update_capacity(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    changes: CapacityChanges,
) -> AppResult<Checked<service::Model>> {
    let before = writable_service(db, actor, id).await?;
    let mut v = Validator::default();
    let mut row: service::ActiveModel = before.clone().into();
    let figures = [
        ("openPlaces", changes.open_places, &mut row.open_places),
        (
            "waitlistLength",
            changes.waitlist_length,
            &mut row.waitlist_length,
        ),
        (
            "typicalWaitDays",
            changes.typical_wait_days,
            &mut row.typical_wait_days,
        ),
    ];
    for (field, value, target) in figures {
        if let Some(value) = value {
            *target = Set(v.range(field, value, 0, MAX_CAPACITY));
        }
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    row.capacity_updated_at = Set(Some(chrono::Utc::now()));
    let after =
        concurrency::update::<service::Entity, _>(db, row, &before, Some(expected_version)).await?;
    audit::log::<service::Entity>(
        db,
        actor,
        "updateServiceCapacity",
        Some(&before),
        Some(&after),
    )
    .await?;
    crate::events::service::public(db, "service.capacity_changed", NodeKind::Service, after.id)
        .await?;
    Ok(Ok(after))
}
