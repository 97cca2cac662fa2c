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
        crate::person::access::ReceiverAccess::days(settings.receiver_access_days);
    let expired = crate::referral::service::expire_due(db, now, receiver_access.0)
        .await
        .map_err(|e| anyhow::anyhow!("expiry job: {e:?}"))?;
    let erased = match settings.retention_months {
        Some(months) => crate::person::service::erase_retained(db, months, now)
            .await
            .map_err(|e| anyhow::anyhow!("retention job: {e:?}"))?,
        None => 0,
    };
    Ok(RunReport { expired, erased })
}

/// Starts the periodic jobs (unless `jobs_interval_secs` is 0).
pub fn spawn(db: DatabaseConnection, settings: Settings) {
    if settings.jobs_interval_secs == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(settings.jobs_interval_secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&db, &settings).await {
                Ok(report) if report != RunReport::default() => {
                    tracing::info!(expired = report.expired, erased = report.erased, "jobs ran");
                }
                Ok(_) => {}
                Err(error) => tracing::error!(error = %error, "background job failed"),
            }
        }
    });
}
