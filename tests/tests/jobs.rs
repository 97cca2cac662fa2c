//! The background jobs: expiry of overdue referrals and retention of closed cases, run
//! through `jobs::run_once` as every replica runs them.

use melt_tests::{Role, TestApp, engines, spawn_app_with};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

async fn gid(app: &TestApp, name: &str) -> String {
    let query =
        "query($s: String) { organizations(filter: {search: $s}, first: 1) { nodes { id } } }";
    let data = app.data(query, json!({ "s": name })).await;
    data["organizations"]["nodes"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn ok(app: &TestApp, token: &str, query: &str, input: Value) -> Value {
    let (_, body) = app.query_as(token, query, json!({ "input": input })).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

/// A person with consent and a SENT referral from the Pisa employment centre to Caritas.
async fn sent_referral(app: &TestApp) -> (String, String) {
    sent_referral_as(app, "RSSMRA85T10A562S").await
}

/// The same for a new person each time.
async fn sent_referral_for(app: &TestApp) -> (String, String) {
    let codice = ('A'..='Z')
        .flat_map(|a| ('A'..='Z').map(move |b| format!("RSS{a}{b}A85T10A562")))
        .map(|prefix| {
            let check = ('A'..='Z')
                .find(|c| {
                    melt_api::organization::domain::CodiceFiscale::parse(&format!("{prefix}{c}"))
                        .is_ok()
                })
                .unwrap_or('A');
            format!("{prefix}{check}")
        })
        .nth(COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        .unwrap_or_default();
    sent_referral_as(app, &codice).await
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

async fn sent_referral_as(app: &TestApp, codice_fiscale: &str) -> (String, String) {
    let (sender, receiver) = ("Centro per l'impiego di Pisa", "Caritas diocesana di Pisa");
    let token = app.token(Some(app.organization_id(sender).await), &[Role::Operator]);
    let register = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { person { id } } }";
    let person = ok(app, &token, register, json!({
        "organization": gid(app, sender).await, "codiceFiscale": codice_fiscale,
        "givenName": "Mario", "familyName": "Rossi", "languages": ["it"], "contactChannel": "PHONE",
        "residenceMunicipalityIstatCode": "050026"
    }))
    .await["registerPerson"]["person"]["id"]
        .clone();
    let consent = "mutation($input: RecordConsentInput!) { recordConsent(input: $input) { userErrors { message } } }";
    ok(
        app,
        &token,
        consent,
        json!({
            "person": person, "purpose": "Invio", "legalBasis": "CONSENT",
            "recipients": [gid(app, receiver).await], "grantedAt": "2026-01-01T00:00:00Z",
            "evidenceKind": "DOCUMENT", "evidence": "Modulo"
        }),
    )
    .await;
    let services = app
        .data(
            "query($o: ID) { services(filter: {provider: $o}, first: 1) { nodes { id } } }",
            json!({ "o": gid(app, receiver).await }),
        )
        .await;
    let create = "mutation($input: CreateReferralInput!) { createReferral(input: $input) { referral { id rowVersion } } }";
    let referral = ok(
        app,
        &token,
        create,
        json!({
            "person": person, "receiverService": services["services"]["nodes"][0]["id"],
            "needs": ["EMPLOYMENT"], "reason": "Orientamento", "priority": "NORMAL"
        }),
    )
    .await["createReferral"]["referral"]
        .clone();
    let send = "mutation($input: SendReferralInput!) { sendReferral(input: $input) { referral { id status } userErrors { message } } }";
    let sent = ok(
        app,
        &token,
        send,
        json!({ "id": referral["id"], "expectedVersion": referral["rowVersion"] }),
    )
    .await;
    assert_eq!(sent["sendReferral"]["referral"]["status"], "SENT", "{sent}");
    (
        person.as_str().unwrap_or_default().to_owned(),
        referral["id"].as_str().unwrap_or_default().to_owned(),
    )
}

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
    for engine in engines() {
        let app = spawn_app_with(engine, |_| {}).await;
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
    }
}
