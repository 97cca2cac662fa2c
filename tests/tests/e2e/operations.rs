//! Operations: readiness answers quickly when the database does not.

use melt_api::startup::Application;
use melt_tests::test_settings;
use sea_orm::{ConnectOptions, Database};
use std::time::Duration;

#[tokio::test]
async fn ready_answers_503_instead_of_hanging_when_the_database_does_not_answer() {
    // A "database" that accepts connections and never says a word: a hung server.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = hung.local_addr().expect("address").port();
    let keys = tempfile::tempdir().expect("temporary directory");
    let url = format!("postgres://postgres@127.0.0.1:{port}/melt");
    let mut settings = test_settings(&url);
    settings.signing_key_file = keys.path().join("signing-key.pem");
    settings.data_keys = Some(format!("k1={}", melt_api::crypto::random_key()).into());
    settings.person_hash_key = Some(melt_api::crypto::random_key().into());
    settings.database_acquire_timeout_secs = 30;
    let mut options = ConnectOptions::new(url);
    options.connect_lazy(true);
    let db = Database::connect(options).await.expect("a lazy pool");
    let app = Application::build_with_db(settings, db)
        .await
        .expect("build");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    // The client gives up long before the pool would (30 s): the answer comes first.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let response = client
        .get(format!("{address}/ready"))
        .send()
        .await
        .expect("an answer before the client's timeout");
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["reason"], "database", "{body}");
    drop(hung);
}

#[tokio::test]
async fn the_request_log_line_keeps_the_caller_s_request_id_and_names_operation_client_status_and_duration()
 {
    // The subscriber is the process's: alone, it captures the logs of this test only.
    if !melt_tests::in_own_process(
        "operations::the_request_log_line_keeps_the_caller_s_request_id_and_names_operation_client_status_and_duration",
    ) {
        return;
    }
    let capture = crate::privacy::Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .init();
    let app = melt_tests::spawn_app_with(melt_tests::Engine::Sqlite, |s| {
        s.trusted_proxies = Some("127.0.0.1".to_owned());
    })
    .await;
    let send = async |request_id: &str| {
        app.client
            .post(format!("{}/graphql", app.address))
            .header("x-request-id", request_id)
            .header("x-forwarded-for", "198.51.100.23, 203.0.113.7")
            .json(&serde_json::json!({ "query": "query DirectoryProbe { __typename }" }))
            .send()
            .await
            .expect("request")
    };
    let kept = send("partner-trace-42").await;
    assert_eq!(kept.headers()["x-request-id"], "partner-trace-42");
    let replaced = send("not a valid id").await;
    let new_id = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!new_id.is_empty() && new_id != "not a valid id", "{new_id}");
    let logs = String::from_utf8_lossy(&capture.0.lock().map(|b| b.clone()).unwrap_or_default())
        .into_owned();
    let line = logs
        .lines()
        .find(|l| l.contains("request done") && l.contains("partner-trace-42"))
        .unwrap_or_else(|| panic!("no request line with the kept id: {logs}"));
    for expected in [
        "\"operation\":\"DirectoryProbe\"",
        "\"client_ip\":\"203.0.113.7\"",
        "\"status\":200",
        "\"duration_ms\"",
    ] {
        assert!(line.contains(expected), "{expected} missing from {line}");
    }
    assert!(logs.contains(&new_id), "the replacing id is logged");
}

/// Anonymous requests through a proxy at 127.0.0.1 for the client `forwarded`.
async fn anonymous_statuses(app: &melt_tests::TestApp, forwarded: &str, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("x-forwarded-for", forwarded)
            .json(&serde_json::json!({ "query": "{ __typename }" }))
            .send()
            .await
            .expect("request");
        statuses.push(response.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_rate_limit() {
    let app = melt_tests::spawn_app_with(melt_tests::Engine::Sqlite, |s| {
        s.rate_limit_ip_per_minute = 3;
        s.trusted_proxies = Some("127.0.0.1".to_owned());
    })
    .await;
    let first = anonymous_statuses(&app, "203.0.113.7", 4).await;
    assert_eq!(
        first,
        [200, 200, 200, 429],
        "one client exhausts its own limit"
    );
    let second = anonymous_statuses(&app, "198.51.100.23", 3).await;
    assert_eq!(
        second,
        [200, 200, 200],
        "another client behind the proxy is not limited by it"
    );
    // Without the setting the proxy's address is the client: one bucket for all.
    let untrusted = melt_tests::spawn_app_with(melt_tests::Engine::Sqlite, |s| {
        s.rate_limit_ip_per_minute = 3;
    })
    .await;
    let a = anonymous_statuses(&untrusted, "203.0.113.7", 3).await;
    let b = anonymous_statuses(&untrusted, "198.51.100.23", 1).await;
    assert_eq!((a, b), (vec![200, 200, 200], vec![429]));
}
