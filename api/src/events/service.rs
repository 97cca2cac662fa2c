//! The outbox: [`record`] writes an event in the caller's transaction (so it commits,
//! or is rolled back, with the change); [`feed`] reads the events a caller may see in
//! position order.
//!
//! On PostgreSQL such a transaction also notifies `melt_events` (see
//! [`super::hub`]); the notification is sent at commit, never for a rollback.
//!
//! Positions commit in order: on PostgreSQL every transaction that writes an event
//! first takes one transaction-scoped advisory lock, so a position is assigned only
//! once every smaller one has committed or rolled back, and a reader resuming after a
//! position never skips one that commits later. SQLite has one writer at a time.

use crate::auth::viewer::{ViewerKind, scopes};
use crate::auth::{Role, Viewer};
use crate::error::{AppError, AppResult};
use crate::graphql::relay::NodeKind;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use chrono::Utc;
use entity::{event, event_audience};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait,
    QueryFilter, QuerySelect, Statement,
};
use uuid::Uuid;

/// Key of the advisory lock that orders event-writing transactions on PostgreSQL.
pub(crate) const ORDER_LOCK: i64 = 0x6d65_6c74_0001;

/// The PostgreSQL notification channel woken at each commit that wrote events (the
/// event hub of every replica listens on it).
pub const CHANNEL: &str = "melt_events";

/// Every event type, for the `types` filter.
pub const TYPES: &[&str] = &[
    "referral.created",
    "referral.rerouted",
    "referral.sent",
    "referral.received",
    "referral.accepted",
    "referral.rejected",
    "referral.started",
    "referral.held",
    "referral.resumed",
    "referral.completed",
    "referral.failed",
    "referral.cancelled",
    "referral.expired",
    "service.created",
    "service.changed",
    "service.status_changed",
    "service.capacity_changed",
    "organization.changed",
    "protocol.opened",
    "protocol.in_force",
    "protocol.terminated",
    "signatory.invited",
    "signatory.signed",
    "signatory.withdrawn",
    "routing_decision.made",
    "plan.created",
    "plan.changed",
    "plan_action.changed",
    "webhook_endpoint.disabled",
];

/// Who may see an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Anyone (the public directory: catalogue, organizations, protocols).
    Public,
    /// These organizations only (a referral's parties, an assessment's organization).
    Organizations(Vec<Uuid>),
}

/// Writes an event about `subject` in the caller's transaction. Its type must be one
/// of [`TYPES`]; it carries ids only, never personal values.
pub async fn record(
    db: &impl ConnectionTrait,
    event_type: &'static str,
    subject: (NodeKind, Uuid),
    audience: Audience,
) -> AppResult<()> {
    debug_assert!(
        TYPES.contains(&event_type),
        "unknown event type {event_type}"
    );
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1), pg_notify($2, '')",
            [ORDER_LOCK.into(), CHANNEL.into()],
        ))
        .await?;
    }
    let row = event::ActiveModel {
        position: NotSet,
        id: Set(Uuid::now_v7()),
        event_type: Set(event_type.to_owned()),
        subject_type: Set(subject.0.as_str().to_owned()),
        subject_id: Set(subject.1),
        public: Set(audience == Audience::Public),
        occurred_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    if let Audience::Organizations(mut organizations) = audience {
        organizations.sort();
        organizations.dedup();
        let rows = organizations
            .into_iter()
            .map(|organization| event_audience::ActiveModel {
                organization_id: Set(organization),
                position: Set(row.position),
            });
        event_audience::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The position of the last event committed (0 when there is none).
pub async fn latest_position(db: &impl ConnectionTrait) -> AppResult<i64> {
    Ok(event::Entity::find()
        .select_only()
        .column_as(event::Column::Position.max(), "latest")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten()
        .unwrap_or(0))
}

/// Writes a public event (the directory: catalogue, organizations, protocols).
pub async fn public(
    db: &impl ConnectionTrait,
    event_type: &'static str,
    kind: NodeKind,
    id: Uuid,
) -> AppResult<()> {
    record(db, event_type, (kind, id), Audience::Public).await
}

/// The organization whose events the viewer reads besides the public ones: an
/// OPERATOR or ORG_ADMIN of it, or its client with `events:read`, `referrals:read` or
/// `referrals:write`. None for everyone else (public events only).
pub fn reader_organization(viewer: &Viewer) -> Option<Uuid> {
    let allowed = match viewer.kind {
        ViewerKind::User => viewer.has_role(Role::Operator) || viewer.has_role(Role::OrgAdmin),
        ViewerKind::Client => {
            viewer.has_scope(scopes::EVENTS_READ)
                || viewer.has_scope(scopes::REFERRALS_READ)
                || viewer.has_scope(scopes::REFERRALS_WRITE)
        }
        ViewerKind::Anonymous => false,
    };
    allowed.then_some(viewer.organization).flatten()
}

/// The events an organization may see (public ones, and those it is in the audience
/// of); public ones only for None.
pub fn visible_to(organization: Option<Uuid>) -> Condition {
    let mut visible = Condition::any().add(event::Column::Public.eq(true));
    if let Some(organization) = organization {
        visible = visible.add(
            event::Column::Position.in_subquery(
                Query::select()
                    .column(event_audience::Column::Position)
                    .from(event_audience::Entity)
                    .and_where(event_audience::Column::OrganizationId.eq(organization))
                    .to_owned(),
            ),
        );
    }
    visible
}

fn sort() -> Sort<event::Entity> {
    Sort::by(
        event::Column::Position,
        event::Column::Id,
        false,
        |row: &event::Model| Cursor::new(SortKey::Int(row.position), row.id),
    )
}

/// The events the viewer may see, oldest first, optionally of some types only.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn feed(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    types: &[String],
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<event::Model>, u64)> {
    if let Some(unknown) = types.iter().find(|t| !TYPES.contains(&t.as_str())) {
        return Err(AppError::BadUserInput(format!(
            "types: `{}` is not an event type",
            unknown.chars().take(64).collect::<String>()
        )));
    }
    let mut select = event::Entity::find().filter(visible_to(reader_organization(viewer)));
    if !types.is_empty() {
        select = select.filter(event::Column::EventType.is_in(types.iter().cloned()));
    }
    pagination::list(db, select, &sort(), window, with_total).await
}
