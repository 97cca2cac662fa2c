//! Background jobs: referral expiry and data retention, run on every replica.
//!
//! Both are safe to run concurrently on several replicas over one PostgreSQL: each
//! change is a guarded update that only one replica can win, and the event or audit
//! entry is written only by the winner. When nothing is due, each run is one indexed
//! query.

use crate::settings::Settings;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use std::time::Duration;

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Referrals marked EXPIRED.
    pub expired: u64,
    /// People erased under the retention setting.
    pub erased: u64,
}

/// Runs every job once.
pub async fn run_once(db: &DatabaseConnection, settings: &Settings) -> anyhow::Result<RunReport> {
    let now = Utc::now();
    let receiver_access =
        crate::privacy::access::ReceiverAccess::days(settings.receiver_access_days);
    let expired = crate::referral::transition::expire_due(db, now, receiver_access.0)
        .await
        .map_err(|e| anyhow::anyhow!("expiry job: {e:?}"))?;
    let erased = match settings.retention_months {
        Some(months) => crate::casework::erase_retained(db, months, now)
            .await
            .map_err(|e| anyhow::anyhow!("retention job: {e:?}"))?,
        None => 0,
    };
    Ok(RunReport { expired, erased })
}

/// The running periodic jobs.
#[derive(Debug)]
pub struct Jobs {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Jobs {
    /// Stops the jobs: no new run starts; a run in progress (its own transactions) may
    /// finish within `grace`, after which it is abandoned.
    pub async fn stop(self, grace: Duration) {
        // An error means the task has already ended.
        let _ = self.stop.send(true);
        match tokio::time::timeout(grace, self.task).await {
            Ok(_) => tracing::info!("background jobs stopped"),
            Err(_) => tracing::warn!("background jobs did not stop within the grace period"),
        }
    }
}

/// Starts the periodic jobs (none when `jobs_interval_secs` is 0).
pub fn spawn(db: DatabaseConnection, settings: Settings) -> Option<Jobs> {
    if settings.jobs_interval_secs == 0 {
        return None;
    }
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(settings.jobs_interval_secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => break,
            }
            match run_once(&db, &settings).await {
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
    });
    Some(Jobs { stop, task })
}
