//! Delivering events to webhook endpoints, on every replica.
//!
//! A round has two steps. Fan-out: for each active endpoint (row-locked with `SKIP
//! LOCKED` on PostgreSQL, so one replica at a time), the events past its cursor that
//! its organization may see and it wants become deliveries, and the cursor moves, in
//! one transaction. Delivery: due deliveries are claimed with a lease in one statement
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL: each attempt is made by exactly one
//! replica), never one whose subject has an earlier delivery still pending (order per
//! subject), then posted signed, and the outcome logged. A replica that dies mid-attempt
//! leaves a lease that expires: the delivery is attempted again (at least once).

use super::domain::{self, EndpointUrl};
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::events::hub::Hub;
use crate::events::service::{self as events, Audience};
use crate::graphql::relay::{NodeKind, subject_global_id};
use crate::metrics::Attempt;
use crate::settings::Settings;
use crate::worker::Worker;
use chrono::{DateTime, Utc};
use entity::enums::{DeliveryState, WebhookStatus};
use entity::{event, webhook_attempt, webhook_delivery, webhook_endpoint, webhook_secret};
use futures_util::StreamExt;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument as _;
use uuid::Uuid;

/// Events fanned out per endpoint and round.
const FAN_OUT_BATCH: u64 = 500;
/// Deliveries claimed per round.
const CLAIM_BATCH: u64 = 64;
/// Longest error text kept in the log.
const MAX_ERROR: usize = 300;

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Deliveries created.
    pub fanned_out: u64,
    /// Attempts made.
    pub attempted: u64,
}

/// The delivering side of one replica.
#[derive(Clone)]
pub struct Dispatcher {
    db: DatabaseConnection,
    protection: Arc<DataProtection>,
    settings: Arc<Settings>,
    client: reqwest::Client,
    hub: Hub,
    metrics: Arc<crate::metrics::Metrics>,
}

/// Resolves host names to public addresses only: a name that resolves to a loopback
/// or private address is refused before any connection (SSRF), and the connection
/// goes to the addresses checked (no second lookup to rebind).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addresses.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            if addresses.iter().any(|a| !domain::is_public(a.ip())) {
                return Err(format!("{host} resolves to a non-public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addrs)
        })
    }
}

impl Dispatcher {
    /// A dispatcher with its HTTP client (no redirects, no proxy from the environment,
    /// public addresses only unless `webhook_allow_private`).
    pub fn new(
        db: DatabaseConnection,
        protection: Arc<DataProtection>,
        settings: Arc<Settings>,
        hub: Hub,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(Ord::max(
                settings.webhook_timeout_secs,
                1,
            )))
            .connect_timeout(Duration::from_secs(
                settings.webhook_timeout_secs.clamp(1, 10),
            ))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("MeLT-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.webhook_allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            db,
            protection,
            settings,
            client: builder.build()?,
            hub,
            metrics,
        })
    }

    /// Fans out and attempts what is due, once.
    pub async fn run_once(&self) -> AppResult<Round> {
        let fanned_out = fan_out(&self.db).await?;
        let lease = Duration::from_secs(self.settings.webhook_timeout_secs + 5);
        let now = Utc::now();
        // A read first: the claiming update (a write) only when something is due.
        let due = webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::Id)
            .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
            .into_tuple::<Uuid>()
            .one(&self.db)
            .await?;
        let claimed = if due.is_none() {
            Vec::new()
        } else {
            claim(&self.db, now, lease, CLAIM_BATCH).await?
        };
        let attempted = claimed.len() as u64;
        // The endpoints of the round and their signing secrets, read once.
        let signers = Arc::new(self.signers(&claimed).await?);
        let concurrency = self.settings.webhook_concurrency.max(1);
        let outcomes: Vec<_> = futures_util::stream::iter(claimed)
            .map(|delivery| {
                let signers = signers.clone();
                async move {
                    let (endpoint, secrets) = signers.get(&delivery.endpoint_id)?;
                    let started = Instant::now();
                    let span = tracing::info_span!(
                        "webhook.deliver",
                        otel.kind = "client",
                        http.request.method = "POST",
                        http.response.status_code = tracing::field::Empty,
                    );
                    let outcome = self
                        .post(endpoint, &delivery, secrets)
                        .instrument(span.clone())
                        .await;
                    self.metrics.delivery_attempt(match outcome {
                        Ok(status) if (200..300).contains(&status) => Attempt::Delivered,
                        Ok(_) => Attempt::Refused,
                        Err(_) => Attempt::Failed,
                    });
                    if let Ok(status) = outcome {
                        span.record("http.response.status_code", status);
                    }
                    Some((endpoint.clone(), delivery, outcome, started.elapsed()))
                }
            })
            .buffer_unordered(concurrency)
            .filter_map(std::future::ready)
            .collect()
            .await;
        // The round's outcomes in one transaction (a crash before it commits leaves
        // the leases to expire: those deliveries are attempted again).
        if !outcomes.is_empty() {
            let txn = crate::db::begin_write(&self.db).await?;
            for (endpoint, delivery, outcome, latency) in outcomes {
                record_outcome(&txn, &self.settings, &endpoint, &delivery, outcome, latency)
                    .await?;
            }
            txn.commit().await?;
        }
        Ok(Round {
            fanned_out,
            attempted,
        })
    }

    /// Starts delivering on this replica; none when `events_poll_interval_ms` is 0.
    pub fn spawn(self) -> Option<Worker> {
        let poll = Duration::from_millis(self.settings.events_poll_interval_ms);
        if poll.is_zero() {
            return None;
        }
        let wake = self.hub.dispatcher_wake();
        Some(Worker::spawn(
            "webhook dispatcher",
            move |mut stopped| async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(poll) => {}
                        () = wake.notified() => {}
                        _ = stopped.changed() => break,
                    }
                    // Go on while there is work, so a backlog drains without waiting.
                    loop {
                        match self.run_once().await {
                            Ok(round) if round != Round::default() && !*stopped.borrow() => {}
                            Ok(_) => break,
                            Err(error) => {
                                tracing::error!(error = ?error, "webhook round failed");
                                break;
                            }
                        }
                    }
                    if *stopped.borrow() {
                        break;
                    }
                }
            },
        ))
    }

    /// The endpoints of these deliveries with the secrets that sign now, in two
    /// statements.
    async fn signers(
        &self,
        deliveries: &[webhook_delivery::Model],
    ) -> AppResult<HashMap<Uuid, (webhook_endpoint::Model, Vec<String>)>> {
        let ids: HashSet<Uuid> = deliveries.iter().map(|d| d.endpoint_id).collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut out: HashMap<Uuid, (webhook_endpoint::Model, Vec<String>)> =
            webhook_endpoint::Entity::find()
                .filter(webhook_endpoint::Column::Id.is_in(ids.iter().copied()))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|e| (e.id, (e, Vec::new())))
                .collect();
        let secrets = webhook_secret::Entity::find()
            .filter(webhook_secret::Column::EndpointId.is_in(ids))
            .filter(
                Condition::any()
                    .add(webhook_secret::Column::ExpiresAt.is_null())
                    .add(webhook_secret::Column::ExpiresAt.gt(Utc::now())),
            )
            .order_by_asc(webhook_secret::Column::CreatedAt)
            .all(&self.db)
            .await?;
        for secret in secrets {
            if let Some((_, list)) = out.get_mut(&secret.endpoint_id) {
                list.push(self.protection.decrypt(&secret.secret)?);
            }
        }
        Ok(out)
    }

    async fn post(
        &self,
        endpoint: &webhook_endpoint::Model,
        delivery: &webhook_delivery::Model,
        secrets: &[String],
    ) -> Result<u16, String> {
        // The URL is checked again: literal addresses bypass the resolver.
        let url = EndpointUrl::parse(&endpoint.url, self.settings.webhook_allow_private)
            .map_err(|problem| format!("url refused: {problem}"))?;
        let body = payload(delivery);
        let id = delivery.event_id.to_string();
        let timestamp = Utc::now().timestamp();
        let signature = domain::signature_header(secrets, &id, timestamp, body.as_bytes());
        if signature.is_empty() {
            return Err("no secret to sign with".to_owned());
        }
        let mut request = self.client.post(url.as_url().clone());
        // The trace goes on to the receiver (W3C `traceparent`), when traces are on.
        for (name, value) in crate::telemetry::propagation_headers() {
            request = request.header(name, value);
        }
        let response = request
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        Ok(response.status().as_u16())
    }
}

/// A transport error in a few words, with its cause (never the receiver's body).
fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(MAX_ERROR).collect()
}

/// The body of a delivery: ids and types only (Standard Webhooks' `type`,
/// `timestamp`, `data`).
pub fn payload(delivery: &webhook_delivery::Model) -> String {
    let subject = subject_global_id(&delivery.subject_type, delivery.subject_id).0;
    serde_json::json!({
        "type": delivery.event_type,
        "timestamp": delivery.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {
            "eventId": delivery.event_id,
            "position": delivery.event_position,
            "subjectType": delivery.subject_type,
            "subjectId": subject,
        }
    })
    .to_string()
}

/// Creates the deliveries of every active endpoint for the events past its cursor.
pub async fn fan_out(db: &DatabaseConnection) -> AppResult<u64> {
    let endpoints: Vec<Uuid> = webhook_endpoint::Entity::find()
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .filter(webhook_endpoint::Column::Status.eq(WebhookStatus::Active))
        .into_tuple()
        .all(db)
        .await?;
    let mut created = 0;
    for id in endpoints {
        created += fan_out_endpoint(db, id).await?;
    }
    Ok(created)
}

async fn fan_out_endpoint(db: &DatabaseConnection, id: Uuid) -> AppResult<u64> {
    let txn = crate::db::begin_write(db).await?;
    let mut select = webhook_endpoint::Entity::find_by_id(id)
        .filter(webhook_endpoint::Column::Status.eq(WebhookStatus::Active));
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    // Locked by another replica's fan-out, removed, or disabled meanwhile.
    let Some(endpoint) = select.one(&txn).await? else {
        return Ok(0);
    };
    let types: Vec<&str> = endpoint.event_types.split_whitespace().collect();
    let mut events = event::Entity::find()
        .filter(event::Column::Position.gt(endpoint.cursor_position))
        .filter(events::visible_to(Some(endpoint.organization_id)));
    if !types.is_empty() {
        events = events.filter(event::Column::EventType.is_in(types.iter().copied()));
    }
    let events = events
        .order_by_asc(event::Column::Position)
        .limit(FAN_OUT_BATCH)
        .all(&txn)
        .await?;
    let Some(last) = events.last().map(|e| e.position) else {
        return Ok(0);
    };
    let now = Utc::now();
    let count = events.len() as u64;
    let rows = events.into_iter().map(|e| webhook_delivery::ActiveModel {
        id: Set(Uuid::now_v7()),
        endpoint_id: Set(endpoint.id),
        event_position: Set(e.position),
        event_id: Set(e.id),
        event_type: Set(e.event_type),
        subject_type: Set(e.subject_type),
        subject_id: Set(e.subject_id),
        occurred_at: Set(e.occurred_at),
        state: Set(DeliveryState::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        created_at: Set(now),
        last_attempt_at: Set(None),
        last_status: Set(None),
        delivered_at: Set(None),
    });
    webhook_delivery::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                webhook_delivery::Column::EndpointId,
                webhook_delivery::Column::EventPosition,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::CursorPosition, Expr::value(last))
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(count)
}

/// Claims up to `limit` due deliveries for `lease`, in one statement: pending, due,
/// not leased, of an active endpoint, and with no earlier pending delivery of the same
/// subject to the same endpoint.
pub async fn claim(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> AppResult<Vec<webhook_delivery::Model>> {
    let backend = db.get_database_backend();
    let (p, lock) = match backend {
        DatabaseBackend::Postgres => (
            ["$1", "$2", "$3", "$4", "$5"],
            " FOR UPDATE OF d SKIP LOCKED",
        ),
        _ => (["?", "?", "?", "?", "?"], ""),
    };
    let sql = format!(
        "UPDATE webhook_delivery SET lease_until = {}, attempts = attempts + 1, \
         last_attempt_at = {} \
         WHERE id IN (SELECT d.id FROM webhook_delivery d \
           WHERE d.state = 'PENDING' AND d.next_attempt_at <= {} \
           AND (d.lease_until IS NULL OR d.lease_until < {}) \
           AND d.endpoint_id IN (SELECT e.id FROM webhook_endpoint e WHERE e.status = 'ACTIVE') \
           AND NOT EXISTS (SELECT 1 FROM webhook_delivery q \
             WHERE q.endpoint_id = d.endpoint_id AND q.subject_id = d.subject_id \
             AND q.state = 'PENDING' AND q.event_position < d.event_position) \
           ORDER BY d.next_attempt_at, d.event_position LIMIT {}{lock}) \
         RETURNING *",
        p[0], p[1], p[2], p[3], p[4]
    );
    let lease_until = now
        + chrono::Duration::from_std(lease)
            .map_err(|e| AppError::internal(anyhow::anyhow!("lease out of range: {e}")))?;
    let values: [sea_orm::Value; 5] = [
        lease_until.into(),
        now.into(),
        now.into(),
        now.into(),
        (limit as i64).into(),
    ];
    let mut claimed = webhook_delivery::Model::find_by_statement(Statement::from_sql_and_values(
        backend, sql, values,
    ))
    .all(db)
    .await?;
    claimed.sort_by_key(|d| (d.next_attempt_at, d.event_position));
    Ok(claimed)
}

/// Logs an attempt and moves the delivery on: DELIVERED on a 2xx; else retried after
/// a growing delay until the retry period is over (then FAILED). Failures in a row
/// disable the endpoint (a 410 Gone at once) and tell its organization with a
/// `webhook_endpoint.disabled` event.
async fn record_outcome(
    txn: &impl ConnectionTrait,
    settings: &Settings,
    endpoint: &webhook_endpoint::Model,
    delivery: &webhook_delivery::Model,
    outcome: Result<u16, String>,
    latency: Duration,
) -> AppResult<()> {
    let now = Utc::now();
    let (status_code, error) = match &outcome {
        Ok(status) => (Some(i32::from(*status)), None),
        Err(error) => (None, Some(error.clone())),
    };
    let delivered = matches!(outcome, Ok(status) if (200..300).contains(&status));
    let gone = matches!(outcome, Ok(410));
    webhook_attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        delivery_id: Set(delivery.id),
        attempted_at: Set(now),
        status_code: Set(status_code),
        error: Set(error),
        latency_ms: Set(i32::try_from(latency.as_millis()).unwrap_or(i32::MAX)),
    }
    .insert(txn)
    .await?;
    let mut row = webhook_delivery::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(delivery.id),
        lease_until: Set(None),
        last_status: Set(status_code),
        ..Default::default()
    };
    if delivered {
        row.state = Set(DeliveryState::Delivered);
        row.delivered_at = Set(Some(now));
        row.update(txn).await?;
        webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::ConsecutiveFailures,
                Expr::value(0),
            )
            .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
            .filter(webhook_endpoint::Column::ConsecutiveFailures.ne(0))
            .exec(txn)
            .await?;
        return Ok(());
    }
    let period = chrono::Duration::seconds(
        i64::try_from(settings.webhook_retry_period_secs).unwrap_or(i64::MAX / 1000),
    );
    if now >= delivery.created_at + period {
        row.state = Set(DeliveryState::Failed);
    } else {
        let delay = domain::retry_delay(
            u32::try_from(delivery.attempts).unwrap_or(u32::MAX),
            Duration::from_millis(settings.webhook_retry_base_ms),
            Duration::from_millis(settings.webhook_retry_max_ms),
        );
        row.next_attempt_at = Set(now + chrono::Duration::from_std(delay).unwrap_or_default());
    }
    row.update(txn).await?;
    webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::ConsecutiveFailures,
            Expr::col(webhook_endpoint::Column::ConsecutiveFailures).add(1),
        )
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
        .exec(txn)
        .await?;
    let threshold =
        i32::try_from(Ord::max(settings.webhook_disable_after_failures, 1)).unwrap_or(i32::MAX);
    let reason = if gone {
        "the receiver answered 410 Gone".to_owned()
    } else {
        format!("{threshold} failed attempts in a row")
    };
    let mut disable = webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::Status,
            Expr::value(WebhookStatus::Disabled),
        )
        .col_expr(
            webhook_endpoint::Column::DisabledReason,
            Expr::value(reason),
        )
        .col_expr(webhook_endpoint::Column::DisabledAt, Expr::value(now))
        .col_expr(
            webhook_endpoint::Column::RowVersion,
            Expr::col(webhook_endpoint::Column::RowVersion).add(1),
        )
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
        .filter(webhook_endpoint::Column::Status.eq(WebhookStatus::Active));
    if !gone {
        disable = disable.filter(webhook_endpoint::Column::ConsecutiveFailures.gte(threshold));
    }
    if disable.exec(txn).await?.rows_affected == 1 {
        tracing::warn!(endpoint = %endpoint.id, "webhook endpoint disabled");
        events::record(
            txn,
            "webhook_endpoint.disabled",
            (NodeKind::WebhookEndpoint, endpoint.id),
            Audience::Organizations(vec![endpoint.organization_id]),
        )
        .await?;
    }
    Ok(())
}
