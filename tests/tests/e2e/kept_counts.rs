//! The counts the database keeps (services by status, each inbox by status: migration
//! 23) stay equal to the rows, whatever changes them and however their rows are folded.

use chrono::{Duration, Utc};
use melt_tests::flow::sent_referral_for;
use melt_tests::{assert_counts_are_kept, on_every_engine, row_id};
use sea_orm::{ConnectionTrait, Statement};

#[tokio::test]
async fn the_kept_counts_follow_every_kind_of_change_to_services_and_referrals_and_survive_folding()
{
    on_every_engine(async |engine, app| {
        assert_counts_are_kept(&app, "after the demo network").await;
        let mut sent = Vec::new();
        for _ in 0..4 {
            let (_, referral) = sent_referral_for(&app).await;
            sent.push(row_id(&referral));
        }
        assert_counts_are_kept(&app, "after four referrals were sent").await;
        let pisa = app.organization_id("Centro per l'impiego di Pisa").await;
        let (tomorrow, yesterday) = (Utc::now() + Duration::days(1), Utc::now() - Duration::days(1));
        let steps: Vec<(&str, &str, Vec<sea_orm::Value>)> = vec![
            (
                "a change of status",
                "UPDATE referral SET status = 'ACCEPTED' WHERE id = ?",
                vec![sent[0].into()],
            ),
            (
                "a change of receiver",
                "UPDATE referral SET receiver_organization_id = ? WHERE id = ?",
                vec![pisa.into(), sent[1].into()],
            ),
            (
                "a reading that ends tomorrow",
                "UPDATE referral SET receiver_access_until = ? WHERE id = ?",
                vec![tomorrow.into(), sent[2].into()],
            ),
            (
                "a reading that ended yesterday",
                "UPDATE referral SET receiver_access_until = ? WHERE id = ?",
                vec![yesterday.into(), sent[0].into()],
            ),
            (
                "an update that moves nothing",
                "UPDATE referral SET status = status, receiver_organization_id = receiver_organization_id WHERE id = ?",
                vec![sent[1].into()],
            ),
            (
                "a status set back to one it had",
                "UPDATE referral SET status = 'SENT' WHERE id = ?",
                vec![sent[2].into()],
            ),
            (
                "a referral no longer sent",
                "UPDATE referral SET sent_at = NULL WHERE id = ?",
                vec![sent[1].into()],
            ),
            (
                "a deleted referral",
                "DELETE FROM referral WHERE id = ?",
                vec![sent[3].into()],
            ),
            (
                "services of one provider deactivated",
                "UPDATE service SET status = 'INACTIVE' WHERE organization_id = ?",
                vec![pisa.into()],
            ),
            (
                "every service's status set to itself",
                "UPDATE service SET status = status",
                vec![],
            ),
            (
                "a deleted service",
                "DELETE FROM service WHERE id IN (SELECT id FROM service WHERE id NOT IN \
                 (SELECT receiver_service_id FROM referral) ORDER BY id LIMIT 1)",
                vec![],
            ),
        ];
        for (what, sql, values) in steps {
            assert!(app.exec(sql, values).await > 0, "[{engine:?}] {what}: no row changed");
            assert_counts_are_kept(&app, what).await;
        }

        let folded = melt_api::tally::compact(&app.db).await.expect("fold");
        assert!(folded > 0, "[{engine:?}] the changes left rows to fold");
        assert_counts_are_kept(&app, "after folding").await;
        for (table, key) in [
            ("service_tally", "status"),
            ("inbox_tally", "organization_id, status"),
        ] {
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT {key} FROM {table} GROUP BY {key} \
                 HAVING COUNT(*) > 1 OR SUM(n) = 0) t"
            );
            let left = app
                .db
                .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
                .await
                .expect("query")
                .expect("a row")
                .try_get_by_index::<i64>(0)
                .expect("a count");
            assert_eq!(left, 0, "[{engine:?}] {table}: one row per count, none of zero");
        }
        assert_eq!(
            melt_api::tally::compact(&app.db).await.expect("fold"),
            0,
            "[{engine:?}] nothing left to fold"
        );
        sent_referral_for(&app).await;
        assert_counts_are_kept(&app, "after a referral sent after folding").await;
    })
    .await;
}
