//! Writing and reading the audit log.

pub use crate::context::Actor;
use crate::error::{AppError, AppResult};
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use chrono::{DateTime, Utc};
use entity::audit_event;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::Serialize;
use uuid::Uuid;

/// A change to record.
pub struct Change<'a, B: Serialize, A: Serialize> {
    /// Operation name (the mutation), e.g. `updateService`.
    pub operation: &'a str,
    /// Type of the changed object, e.g. `Service`.
    pub object_type: &'a str,
    /// Id of the changed object.
    pub object_id: Uuid,
    /// The object before the change.
    pub before: Option<&'a B>,
    /// The object after the change.
    pub after: Option<&'a A>,
}

fn to_json<T: Serialize>(value: Option<&T>) -> AppResult<Option<serde_json::Value>> {
    value
        .map(serde_json::to_value)
        .transpose()
        .map_err(AppError::internal)
}

/// Appends an audit event; call it inside the change's transaction.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record<B: Serialize, A: Serialize>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    change: Change<'_, B, A>,
) -> AppResult<()> {
    let kind = actor.viewer.kind.as_str();
    audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        occurred_at: Set(Utc::now()),
        actor_subject: Set(actor.viewer.subject.clone()),
        actor_kind: Set(kind.to_owned()),
        actor_organization_id: Set(actor.viewer.organization),
        operation: Set(change.operation.to_owned()),
        object_type: Set(change.object_type.to_owned()),
        object_id: Set(change.object_id),
        before: Set(to_json(change.before)?),
        after: Set(to_json(change.after)?),
        request_id: Set(actor.request_id.clone()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Records a change of one versioned row (its table names the object type): a creation
/// when `before` is `None`, a removal when `after` is `None`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn log<E>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    before: Option<&E::Model>,
    after: Option<&E::Model>,
) -> AppResult<()>
where
    E: crate::concurrency::Versioned,
    E::Model: Serialize,
{
    let Some(model) = after.or(before) else {
        return Ok(());
    };
    let (object_id, _) = E::id_and_version(model);
    record(
        db,
        actor,
        Change {
            operation,
            object_type: E::OBJECT_TYPE,
            object_id,
            before,
            after,
        },
    )
    .await
}

/// Records a change of one row with one more member in the recorded `after` (the scope
/// of a new protocol, the reason of a termination, the members of a working group).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn log_with<E>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    before: Option<&E::Model>,
    after: &E::Model,
    (key, value): (&str, serde_json::Value),
) -> AppResult<()>
where
    E: crate::concurrency::Versioned,
    E::Model: Serialize,
{
    let mut recorded = serde_json::to_value(after).map_err(AppError::internal)?;
    if let Some(members) = recorded.as_object_mut() {
        members.insert(key.to_owned(), value);
    }
    let change = Change {
        operation,
        object_type: E::OBJECT_TYPE,
        object_id: E::id_and_version(after).0,
        before,
        after: Some(&recorded),
    };
    record(db, actor, change).await
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Token subject of the actor.
    pub actor: Option<String>,
    /// Organization the actor acted for.
    pub organization: Option<Uuid>,
    /// The changed object.
    pub object: Option<Uuid>,
    /// Operation name.
    pub operation: Option<String>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
}

fn sort() -> Sort<audit_event::Entity> {
    Sort::by(
        audit_event::Column::OccurredAt,
        audit_event::Column::Id,
        true,
        |row: &audit_event::Model| Cursor::new(SortKey::Time(row.occurred_at), row.id),
    )
}

/// Lists audit events, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    query: &AuditQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<audit_event::Model>, u64)> {
    let mut select = audit_event::Entity::find();
    if let Some(actor) = &query.actor {
        select = select.filter(audit_event::Column::ActorSubject.eq(actor.clone()));
    }
    if let Some(organization) = query.organization {
        select = select.filter(audit_event::Column::ActorOrganizationId.eq(organization));
    }
    if let Some(object) = query.object {
        select = select.filter(audit_event::Column::ObjectId.eq(object));
    }
    if let Some(operation) = &query.operation {
        select = select.filter(audit_event::Column::Operation.eq(operation.clone()));
    }
    if let Some(from) = query.from {
        select = select.filter(audit_event::Column::OccurredAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(audit_event::Column::OccurredAt.lt(to));
    }
    pagination::list(db, select, &sort(), window, with_total).await
}
