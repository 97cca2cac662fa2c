//! The background jobs: expiry of overdue referrals and retention of closed cases, run
//! through `jobs::run_once` as every replica runs them.

use melt_tests::flow::{sent_referral, sent_referral_for};
use melt_tests::{TestApp, engines, on_every_engine, spawn_app_with};
use sea_orm::ConnectionTrait;

async fn status_of(app: &TestApp) -> Vec<String> {
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT status FROM referral ORDER BY id",
        ))
        .await
        .expect("statuses");
    rows.iter()
        .map(|r| r.try_get::<String>("", "status").unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_jobs_expire_overdue_referrals_then_erase_closed_cases_once() {
    for engine in engines() {
        let app = spawn_app_with(engine, |s| s.retention_months = Some(12)).await;
        sent_referral(&app).await;
        let idle = melt_api::jobs::run_once(&app.db, &app.settings)
            .await
            .expect("run");
        assert_eq!(
            idle,
            melt_api::jobs::RunReport::default(),
            "[{engine:?}] nothing is due yet"
        );

        app.db
            .execute_unprepared("UPDATE referral SET due_at = '2020-01-01T00:00:00+00:00'")
            .await
            .expect("make it overdue");
        let run = melt_api::jobs::run_once(&app.db, &app.settings)
            .await
            .expect("run");
        assert_eq!(run.expired, 1, "[{engine:?}]");
        assert_eq!(status_of(&app).await, vec!["EXPIRED"], "[{engine:?}]");
        let again = melt_api::jobs::run_once(&app.db, &app.settings)
            .await
            .expect("run");
        assert_eq!(again.expired, 0, "[{engine:?}] no double processing");
        assert_eq!(again.erased, 0, "[{engine:?}] closed too recently to erase");

        app.db
            .execute_unprepared("UPDATE referral SET updated_at = '2020-01-01T00:00:00+00:00'")
            .await
            .expect("age the case");
        let retention = melt_api::jobs::run_once(&app.db, &app.settings)
            .await
            .expect("run");
        assert_eq!(retention.erased, 1, "[{engine:?}]");
        let erased = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM person WHERE erased_at IS NOT NULL AND given_name_enc IS NULL AND codice_fiscale_enc IS NULL",
            ))
            .await
            .expect("count")
            .and_then(|r| r.try_get::<i64>("", "n").ok());
        assert_eq!(erased, Some(1), "[{engine:?}]");
        assert_eq!(
            status_of(&app).await,
            vec!["EXPIRED"],
            "[{engine:?}] the referral stays"
        );
        let last = melt_api::jobs::run_once(&app.db, &app.settings)
            .await
            .expect("run");
        assert_eq!(last, melt_api::jobs::RunReport::default(), "[{engine:?}]");
    }
}

#[tokio::test]
async fn two_replicas_running_the_jobs_at_once_expire_each_referral_once() {
    on_every_engine(async |engine, app| {
        for _ in 0..3 {
            sent_referral_for(&app).await;
        }
        app.db
            .execute_unprepared("UPDATE referral SET due_at = '2020-01-01T00:00:00+00:00'")
            .await
            .expect("make them overdue");
        // A second connection pool plays the second replica.
        let replica = melt_api::db::connect(&app.settings)
            .await
            .expect("second pool");
        let (a, b) = tokio::join!(
            melt_api::jobs::run_once(&app.db, &app.settings),
            melt_api::jobs::run_once(&replica, &app.settings)
        );
        let expired =
            a.map(|r| r.expired).unwrap_or_default() + b.map(|r| r.expired).unwrap_or_default();
        assert_eq!(
            expired, 3,
            "[{engine:?}] each referral expired exactly once"
        );
        let events = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM referral_event WHERE action = 'EXPIRE'",
            ))
            .await
            .expect("count")
            .and_then(|r| r.try_get::<i64>("", "n").ok());
        assert_eq!(events, Some(3), "[{engine:?}] one event per referral");
    })
    .await;
}
