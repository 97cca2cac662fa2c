//! Tombstones: [`record`] writes one in the transaction of the removal (so it commits,
//! or is rolled back, with it); [`feed`] reads those a caller may see in position order.
//!
//! Positions commit in order as the outbox's do: on PostgreSQL a transaction takes the
//! outbox's transaction-scoped advisory lock before writing a tombstone (the same lock,
//! so a transaction that writes events and tombstones never waits on itself nor
//! deadlocks with another), and a reader resuming after a position never skips one that
//! commits later. SQLite has one writer at a time.

use crate::auth::Viewer;
use crate::error::AppResult;
use crate::events::service::{Audience, ORDER_LOCK, reader_organization};
use crate::graphql::relay::NodeKind;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use chrono::{DateTime, Utc};
use entity::enums::ServiceStatus;
use entity::{referral, service, tombstone};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

/// Why a subject left a reader's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The row was deleted (a site).
    Deleted,
    /// It left the active catalogue: a service that became INACTIVE or DEFUNCT. It is
    /// still readable by id and in lists that ask for those statuses.
    Hidden,
    /// The personal values it carried were erased (a referral of an erased person): a
    /// mirror must drop its copies of them; the coded facts stay readable.
    Erased,
    /// The reader may no longer read it: the receiver's reading period of an ended
    /// referral is over.
    AccessEnded,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 4] = [
        Reason::Deleted,
        Reason::Hidden,
        Reason::Erased,
        Reason::AccessEnded,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deleted => "DELETED",
            Self::Hidden => "HIDDEN",
            Self::Erased => "ERASED",
            Self::AccessEnded => "ACCESS_ENDED",
        }
    }

    /// The reason stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// The kinds of subjects a tombstone can be about.
pub const SUBJECTS: [NodeKind; 5] = [
    NodeKind::Service,
    NodeKind::Location,
    NodeKind::Organization,
    NodeKind::Protocol,
    NodeKind::Referral,
];

/// The statuses a service is part of the active catalogue in: leaving them for
/// INACTIVE or DEFUNCT writes a HIDDEN tombstone.
pub const LISTED_STATUSES: [ServiceStatus; 2] =
    [ServiceStatus::Active, ServiceStatus::TemporarilyClosed];

/// Takes the order lock of the outbox (PostgreSQL; SQLite has one writer at a time).
async fn order_lock(db: &impl ConnectionTrait) -> AppResult<()> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [ORDER_LOCK.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Writes a tombstone about `subject` in the caller's transaction: one public row, or
/// one row for each organization of the audience. Ids and codes only.
pub async fn record(
    db: &impl ConnectionTrait,
    subject: (NodeKind, Uuid),
    reason: Reason,
    audience: Audience,
) -> AppResult<()> {
    record_at(db, subject, reason, audience, Utc::now()).await
}

/// [`record`], for a removal that happened at `removed_at`.
async fn record_at(
    db: &impl ConnectionTrait,
    subject: (NodeKind, Uuid),
    reason: Reason,
    audience: Audience,
    removed_at: DateTime<Utc>,
) -> AppResult<()> {
    debug_assert!(
        SUBJECTS.contains(&subject.0),
        "no tombstones of {subject:?}"
    );
    let readers = match audience {
        Audience::Public => vec![None],
        Audience::Organizations(mut organizations) => {
            organizations.sort();
            organizations.dedup();
            organizations.into_iter().map(Some).collect()
        }
    };
    if readers.is_empty() {
        return Ok(());
    }
    order_lock(db).await?;
    for organization in readers {
        tombstone::ActiveModel {
            position: NotSet,
            id: Set(Uuid::now_v7()),
            subject_type: Set(subject.0.as_str().to_owned()),
            subject_id: Set(subject.1),
            organization_id: Set(organization),
            reason: Set(reason.as_str().to_owned()),
            removed_at: Set(removed_at),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// A service's status changed from `before` to `after`: a public HIDDEN tombstone when
/// it left the active catalogue ([`LISTED_STATUSES`]).
pub async fn service_status_changed(
    db: &impl ConnectionTrait,
    before: &service::Model,
    after: &service::Model,
) -> AppResult<()> {
    if LISTED_STATUSES.contains(&before.status) && !LISTED_STATUSES.contains(&after.status) {
        record(
            db,
            (NodeKind::Service, after.id),
            Reason::Hidden,
            Audience::Public,
        )
        .await?;
    }
    Ok(())
}

/// The personal values of `referrals` were erased: an ERASED tombstone for each, for
/// its sender and, once it was sent, its receiver (who held a copy).
pub async fn referrals_erased(
    db: &impl ConnectionTrait,
    referrals: &[referral::Model],
) -> AppResult<()> {
    for row in referrals {
        let mut audience = vec![row.sender_organization_id];
        if row.sent_at.is_some() {
            audience.push(row.receiver_organization_id);
        }
        record(
            db,
            (NodeKind::Referral, row.id),
            Reason::Erased,
            Audience::Organizations(audience),
        )
        .await?;
    }
    Ok(())
}

/// Most referrals one run of [`record_ended_access`] looks at (the next run goes on).
const ENDED_ACCESS_BATCH: u64 = 500;

/// The background job's part: an ACCESS_ENDED tombstone for the receiver of each sent
/// referral whose reading period is over (`receiver_access_until` at or before `now`),
/// removed at that moment. Each in its own transaction, checked again under the order
/// lock, so replicas running it at once write each one once. Only referrals whose
/// period ended since the latest one recorded are read: a run costs what is new.
/// Returns how many were written.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn record_ended_access<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let ended = Reason::AccessEnded.as_str();
    let watermark: Option<Option<DateTime<Utc>>> = tombstone::Entity::find()
        .select_only()
        .column_as(Expr::col(tombstone::Column::RemovedAt).max(), "latest")
        .filter(tombstone::Column::Reason.eq(ended))
        .into_tuple()
        .one(db)
        .await?;
    let recorded = Query::select()
        .column(tombstone::Column::SubjectId)
        .from(tombstone::Entity)
        .and_where(tombstone::Column::Reason.eq(ended))
        .to_owned();
    let mut select = referral::Entity::find()
        .filter(referral::Column::ReceiverAccessUntil.lte(now))
        .filter(referral::Column::SentAt.is_not_null())
        .filter(referral::Column::Id.not_in_subquery(recorded));
    if let Some(since) = watermark.flatten() {
        select = select.filter(referral::Column::ReceiverAccessUntil.gte(since));
    }
    let due = select
        .order_by_asc(referral::Column::ReceiverAccessUntil)
        .limit(ENDED_ACCESS_BATCH)
        .all(db)
        .await?;
    let mut written = 0;
    for row in due {
        let Some(until) = row.receiver_access_until else {
            continue;
        };
        // An organization that sent the referral to itself still reads it as sender.
        if row.receiver_organization_id == row.sender_organization_id {
            continue;
        }
        let txn = db.begin().await?;
        order_lock(&txn).await?;
        let done = tombstone::Entity::find()
            .filter(tombstone::Column::SubjectId.eq(row.id))
            .filter(tombstone::Column::Reason.eq(ended))
            .one(&txn)
            .await?
            .is_some();
        if !done {
            let audience = Audience::Organizations(vec![row.receiver_organization_id]);
            let subject = (NodeKind::Referral, row.id);
            record_at(&txn, subject, Reason::AccessEnded, audience, until).await?;
            written += 1;
        }
        txn.commit().await?;
    }
    Ok(written)
}

fn sort() -> Sort<tombstone::Entity> {
    Sort::by(
        tombstone::Column::Position,
        tombstone::Column::Id,
        false,
        |row: &tombstone::Model| Cursor::new(SortKey::Int(row.position), row.id),
    )
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct TombstoneQuery {
    /// Only about subjects of these kinds (all when empty).
    pub types: Vec<NodeKind>,
    /// Only removed at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// The tombstones the viewer may see, oldest first: public ones for anyone, and those
/// of its organization for the readers of [`reader_organization`] (the events rule).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn feed(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    query: &TombstoneQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<tombstone::Model>, u64)> {
    let mut visible = Condition::any().add(tombstone::Column::OrganizationId.is_null());
    if let Some(organization) = reader_organization(viewer) {
        visible = visible.add(tombstone::Column::OrganizationId.eq(organization));
    }
    let mut select = tombstone::Entity::find().filter(visible);
    if !query.types.is_empty() {
        let types = query.types.iter().map(|kind| kind.as_str().to_owned());
        select = select.filter(tombstone::Column::SubjectType.is_in(types));
    }
    if let Some(since) = query.since {
        select = select.filter(tombstone::Column::RemovedAt.gte(since));
    }
    pagination::list(db, select, &sort(), window, with_total).await
}
