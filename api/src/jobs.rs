//! Background jobs: referral expiry, data retention, the tombstones of ended reading
//! periods and the folding of the kept counts' rows, run on every replica.
//!
//! Both are safe to run concurrently on several replicas over one PostgreSQL: each
//! change is a guarded update that only one replica can win, and the event or audit
//! entry is written only by the winner. When nothing is due, each run is one indexed
//! query.

use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::worker::Worker;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Referrals marked EXPIRED.
    pub expired: u64,
    /// People erased under the retention setting.
    pub erased: u64,
    /// Tombstones written for receivers whose reading period of a referral ended.
    pub access_ended: u64,
}

/// Runs every job once.
pub async fn run_once(db: &DatabaseConnection, settings: &Settings) -> anyhow::Result<RunReport> {
    run_measured(db, settings, None).await
}

/// Counts a job's run in the metrics, when there are any.
fn counted<T, E>(
    metrics: Option<&Metrics>,
    job: &'static str,
    result: Result<T, E>,
) -> Result<T, E> {
    if let Some(metrics) = metrics {
        metrics.job_run(job, result.is_ok());
    }
    result
}

/// Runs every job once, counting each job's run (`expiry`, `retention`, `tombstones`,
/// `tally`).
pub async fn run_measured(
    db: &DatabaseConnection,
    settings: &Settings,
    metrics: Option<&Metrics>,
) -> anyhow::Result<RunReport> {
    let now = Utc::now();
    let receiver_access =
        crate::privacy::access::ReceiverAccess::days(settings.receiver_access_days);
    let expired = counted(
        metrics,
        "expiry",
        crate::referral::transition::expire_due(db, now, receiver_access.0).await,
    )
    .map_err(|e| anyhow::anyhow!("expiry job: {e:?}"))?;
    let erased = match settings.retention_months {
        Some(months) => counted(
            metrics,
            "retention",
            crate::casework::erase_retained(db, months, now).await,
        )
        .map_err(|e| anyhow::anyhow!("retention job: {e:?}"))?,
        None => 0,
    };
    let access_ended = counted(
        metrics,
        "tombstones",
        crate::sync::service::record_ended_access(db, now).await,
    )
    .map_err(|e| anyhow::anyhow!("tombstone job: {e:?}"))?;
    // Keeps each kept count a row or two (housekeeping: not in the report).
    let folded = counted(metrics, "tally", crate::tally::compact(db).await)
        .map_err(|e| anyhow::anyhow!("tally job: {e:?}"))?;
    tracing::debug!(folded, "tally rows folded");
    Ok(RunReport {
        expired,
        erased,
        access_ended,
    })
}

/// Starts the periodic jobs (none when `jobs_interval_secs` is 0).
pub fn spawn(db: DatabaseConnection, settings: Settings, metrics: Arc<Metrics>) -> Option<Worker> {
    if settings.jobs_interval_secs == 0 {
        return None;
    }
    Some(Worker::spawn("jobs", move |mut stopped| async move {
        let mut tick = tokio::time::interval(Duration::from_secs(settings.jobs_interval_secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => break,
            }
            match run_measured(&db, &settings, Some(&metrics)).await {
                Ok(report) if report != RunReport::default() => {
                    tracing::info!(expired = report.expired, erased = report.erased, "jobs ran");
                }
                Ok(_) => {}
                Err(error) => tracing::error!(error = %error, "background job failed"),
            }
            if *stopped.borrow() {
                break;
            }
        }
    }))
}
