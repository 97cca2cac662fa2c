//! Prometheus metrics of one application (a registry of its own, so tests may build
//! many applications in one process), served on a listener of their own
//! (`MELT_METRICS_ADDR`).
//!
//! No label ever carries personal data: operation names are the client's own names,
//! kept only when they are GraphQL names of at most 64 characters and only for the
//! first [`MAX_OPERATION_NAMES`] distinct ones; routes are the server's patterns;
//! codes, outcomes and job names come from this code. Never variables, ids or paths.

use crate::runtime::AppRuntime;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sea_orm::DatabaseConnection;
use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Distinct operation names labelled; later ones are counted as `other`.
pub const MAX_OPERATION_NAMES: usize = 500;

/// Longest operation name used as a label.
const MAX_OPERATION_NAME: usize = 64;

/// Labels of a served HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    operation: String,
    status: u16,
}

/// Labels of a request's duration.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    route: String,
    operation: String,
}

/// Labels of a GraphQL error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    operation: String,
    code: String,
}

/// Labels of a rate-limit refusal.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    payer: &'static str,
}

/// Labels of a background job run.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
    outcome: &'static str,
}

/// Labels of a webhook delivery attempt.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    outcome: &'static str,
}

/// Labels of the pool's connections.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The label of a request's GraphQL operation, left in its extensions by the handler.
#[derive(Clone, Debug)]
pub struct OperationLabel(pub String);

/// Who a rate-limit refusal charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payer {
    /// A verified caller (the token's subject).
    Client,
    /// An IP address.
    Address,
}

/// How a webhook delivery attempt went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered 2xx.
    Delivered,
    /// The receiver answered another status.
    Refused,
    /// No answer (connection, timeout, refused URL, nothing to sign with).
    Failed,
}

/// The metrics of one application.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily<DurationLabels>,
    errors: Family<ErrorLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    jobs: Family<JobLabels, Counter>,
    attempts: Family<AttemptLabels, Counter>,
    pool: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    pending: Gauge,
    oldest_pending_age: Gauge<f64, AtomicU64>,
    lag: Gauge,
    latest_position: Gauge,
    names: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric of the application, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "melt_http_requests",
            "HTTP requests served, by route, GraphQL operation name and status",
            requests.clone(),
        );
        let durations: HistogramFamily<DurationLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "melt_http_request_duration_seconds",
            "Time to answer an HTTP request, by route and GraphQL operation name",
            durations.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "melt_graphql_errors",
            "GraphQL errors answered, by operation name and extensions.code",
            errors.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "melt_rate_limit_refusals",
            "Requests refused by a rate limit (429), by who was charged",
            refusals.clone(),
        );
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "melt_job_runs",
            "Background job runs, by job and outcome",
            jobs.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "melt_webhook_delivery_attempts",
            "Webhook delivery attempts, by outcome",
            attempts.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "melt_db_pool_connections",
            "Open database connections of this replica's pool, idle or in use",
            pool.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "melt_db_pool_max_connections",
            "Most connections this replica's pool may open",
            pool_max.clone(),
        );
        let pending = Gauge::default();
        registry.register(
            "melt_outbox_pending_deliveries",
            "Webhook deliveries not yet delivered nor given up",
            pending.clone(),
        );
        let oldest_pending_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "melt_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery (0 when none)",
            oldest_pending_age.clone(),
        );
        let lag = Gauge::default();
        registry.register(
            "melt_outbox_lag_events",
            "Latest event position minus the position of the oldest pending delivery's event (0 when none)",
            lag.clone(),
        );
        let latest_position = Gauge::default();
        registry.register(
            "melt_outbox_latest_position",
            "Position of the latest committed event",
            latest_position.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            errors,
            refusals,
            jobs,
            attempts,
            pool,
            pool_max,
            pending,
            oldest_pending_age,
            lag,
            latest_position,
            names: Mutex::new(HashSet::new()),
        }
    }

    /// The label of an operation name: the name when it is a GraphQL name of at most
    /// 64 characters among the first [`MAX_OPERATION_NAMES`] seen, `other` past them,
    /// `invalid` when it is not a name, `anonymous` without one.
    pub fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".to_owned();
        };
        let valid = !name.is_empty()
            && name.len() <= MAX_OPERATION_NAME
            && !name.as_bytes()[0].is_ascii_digit()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return "invalid".to_owned();
        }
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if names.contains(name) {
            return name.to_owned();
        }
        if names.len() >= MAX_OPERATION_NAMES {
            return "other".to_owned();
        }
        names.insert(name.to_owned());
        name.to_owned()
    }

    /// Counts a served request and its duration. `route` is the matched pattern.
    pub fn request(&self, route: &str, operation: &str, status: u16, duration: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                operation: operation.to_owned(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&DurationLabels {
                route: route.to_owned(),
                operation: operation.to_owned(),
            })
            .observe(duration.as_secs_f64());
    }

    /// Counts a GraphQL error by its code.
    pub fn graphql_error(&self, operation: &str, code: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                operation: operation.to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    /// Counts a rate-limit refusal.
    pub fn rate_limited(&self, payer: Payer) {
        let payer = match payer {
            Payer::Client => "client",
            Payer::Address => "address",
        };
        self.refusals.get_or_create(&RefusalLabels { payer }).inc();
    }

    /// Counts a run of a background job.
    pub fn job_run(&self, job: &'static str, succeeded: bool) {
        let outcome = if succeeded { "ok" } else { "failed" };
        self.jobs.get_or_create(&JobLabels { job, outcome }).inc();
    }

    /// Counts a webhook delivery attempt.
    pub fn delivery_attempt(&self, attempt: Attempt) {
        let outcome = match attempt {
            Attempt::Delivered => "delivered",
            Attempt::Refused => "refused",
            Attempt::Failed => "failed",
        };
        self.attempts
            .get_or_create(&AttemptLabels { outcome })
            .inc();
    }

    /// Reads what is measured at scrape time (the pool, the outbox), then encodes every
    /// metric in the OpenMetrics text format. The outbox is read on the application
    /// runtime; when it cannot be read, its gauges keep their last values.
    pub async fn scrape(
        &self,
        db: &DatabaseConnection,
        runtime: &AppRuntime,
        max_connections: u32,
    ) -> String {
        self.read_pool(db, max_connections);
        let db = db.clone();
        match runtime.run(async move { outbox(&db).await }).await {
            Ok(Ok(outbox)) => {
                self.pending.set(outbox.pending);
                self.oldest_pending_age.set(outbox.oldest_age_secs);
                self.lag.set(outbox.lag);
                self.latest_position.set(outbox.latest);
            }
            Ok(Err(error)) | Err(error) => {
                tracing::warn!(error = ?error, "metrics: cannot read the outbox");
            }
        }
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %error, "metrics: cannot encode");
        }
        text
    }

    fn read_pool(&self, db: &DatabaseConnection, max_connections: u32) {
        let (size, idle) = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                let pool = db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            sea_orm::DatabaseBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        };
        let idle = i64::try_from(idle).unwrap_or(i64::MAX);
        let size = i64::from(size);
        self.pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(idle);
        self.pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set((size - idle).max(0));
        self.pool_max.set(i64::from(max_connections));
    }
}

/// The outbox as the gauges show it.
struct Outbox {
    pending: i64,
    oldest_age_secs: f64,
    lag: i64,
    latest: i64,
}

async fn outbox(db: &DatabaseConnection) -> crate::error::AppResult<Outbox> {
    use entity::enums::DeliveryState;
    use entity::webhook_delivery;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
    let latest = crate::events::service::latest_position(db).await?;
    let pending_rows = || {
        webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending))
    };
    let pending = pending_rows().count(db).await?;
    let oldest = pending_rows()
        .select_only()
        .column(webhook_delivery::Column::EventPosition)
        .column(webhook_delivery::Column::CreatedAt)
        .order_by_asc(webhook_delivery::Column::EventPosition)
        .into_tuple::<(i64, chrono::DateTime<chrono::Utc>)>()
        .one(db)
        .await?;
    let (lag, oldest_age_secs) = match oldest {
        Some((position, created_at)) => (
            (latest - position).max(0),
            ((chrono::Utc::now() - created_at).num_milliseconds().max(0) as f64) / 1000.0,
        ),
        None => (0, 0.0),
    };
    Ok(Outbox {
        pending: i64::try_from(pending).unwrap_or(i64::MAX),
        oldest_age_secs,
        lag,
        latest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_graphql_names_label_an_operation() {
        let metrics = Metrics::new();
        assert_eq!(metrics.operation_label(None), "anonymous");
        assert_eq!(metrics.operation_label(Some("Services_2")), "Services_2");
        for bad in ["", "a b", "Mario Rossi", "RSSMRA80A01H501U!", "1st", "é"] {
            assert_eq!(metrics.operation_label(Some(bad)), "invalid", "{bad:?}");
        }
        assert_eq!(metrics.operation_label(Some(&"a".repeat(65))), "invalid");
    }

    #[test]
    fn operation_names_past_the_limit_are_counted_as_other() {
        let metrics = Metrics::new();
        for i in 0..MAX_OPERATION_NAMES {
            assert_eq!(
                metrics.operation_label(Some(&format!("op{i}"))),
                format!("op{i}")
            );
        }
        assert_eq!(metrics.operation_label(Some("oneTooMany")), "other");
        assert_eq!(metrics.operation_label(Some("op0")), "op0");
    }

    #[test]
    fn counters_are_encoded_with_their_labels() {
        let metrics = Metrics::new();
        metrics.request("/graphql", "Services", 200, Duration::from_millis(3));
        metrics.graphql_error("Services", "FORBIDDEN");
        metrics.rate_limited(Payer::Address);
        metrics.job_run("expiry", true);
        metrics.delivery_attempt(Attempt::Refused);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &metrics.registry).expect("encode");
        assert!(
            text.contains(
                r#"melt_http_requests_total{route="/graphql",operation="Services",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"melt_graphql_errors_total{operation="Services",code="FORBIDDEN"} 1"#)
        );
        assert!(text.contains(r#"melt_rate_limit_refusals_total{payer="address"} 1"#));
        assert!(text.contains("melt_http_request_duration_seconds_bucket"));
        assert!(text.contains(r#"melt_job_runs_total{job="expiry",outcome="ok"} 1"#));
        assert!(text.contains(r#"melt_webhook_delivery_attempts_total{outcome="refused"} 1"#));
    }
}
