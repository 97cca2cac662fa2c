//! Webhooks: signed deliveries (Standard Webhooks) of every event an organization may
//! see, retried after failure, exactly once accepted each; the delivery log and
//! re-delivery; disabling after repeated failure; secret rotation with overlap; who may
//! manage endpoints; SSRF refusals.

use melt_api::auth::token::TokenRequest;
use melt_api::auth::viewer::ViewerKind;
use melt_api::settings::Settings;
use melt_tests::receiver::{Receiver, verify};
use melt_tests::{
    Engine, Role, TestApp, admin_of, engines, first_error_code, flow, spawn_app_with,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CREATE: &str = "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  webhookEndpoint { id rowVersion status url eventTypes } secret userErrors { field code message } } }";
const UPDATE: &str =
    "mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) {
  webhookEndpoint { id rowVersion status disabledReason } userErrors { field code message } } }";
const ROTATE: &str =
    "mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) {
  webhookEndpoint { rowVersion } secret userErrors { field code message } } }";
const LOG: &str = "query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { status disabledReason consecutiveFailures rowVersion
  deliveries(first: 100) { totalCount nodes { id eventId eventType subjectId state attemptCount lastStatus
    attempts { statusCode error latencyMs attemptedAt } } } } } }";
const CAPACITY: &str = "mutation($input: UpdateServiceCapacityInput!) { updateServiceCapacity(input: $input) { service { rowVersion } userErrors { code } } }";

/// Deliveries in development mode with quick retries.
fn quick(settings: &mut Settings) {
    settings.webhook_allow_private = true;
    settings.events_poll_interval_ms = 100;
    settings.webhook_retry_base_ms = 50;
    settings.webhook_retry_max_ms = 200;
    settings.webhook_timeout_secs = 5;
}

/// Waits until `done` holds (checking every 50 ms); fails after 60 s with `what`.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Registers an endpoint; returns (id, secret).
async fn register(app: &TestApp, token: &str, url: &str, types: Value) -> (String, String) {
    let (_, body) = app
        .query_as(
            token,
            CREATE,
            json!({ "input": { "url": url, "eventTypes": types } }),
        )
        .await;
    let payload = &body["data"]["createWebhookEndpoint"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    let id = payload["webhookEndpoint"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = payload["secret"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("whsec_"), "{body}");
    (id, secret)
}

async fn endpoint(app: &TestApp, token: &str, id: &str) -> Value {
    let (_, body) = app.query_as(token, LOG, json!({ "id": id })).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["node"].clone()
}

/// The endpoint's log once at least `n` of its deliveries are DELIVERED: a receiver
/// has the event before the dispatcher writes down its answer.
async fn log_with_delivered(app: &TestApp, token: &str, id: &str, n: usize) -> Value {
    let mut log = Value::Null;
    eventually("the deliveries are logged DELIVERED", async || {
        log = endpoint(app, token, id).await;
        let nodes = log["deliveries"]["nodes"].as_array();
        nodes.is_some_and(|d| d.iter().filter(|d| d["state"] == "DELIVERED").count() >= n)
    })
    .await;
    log
}

/// The event ids the organization's feed holds after the endpoint was made, of `types`.
async fn feed_ids(app: &TestApp, token: &str, types: Value) -> Vec<String> {
    let query =
        "query($f: EventFilter) { events(filter: $f, last: 100) { nodes { eventId type } } }";
    let (_, body) = app
        .query_as(token, query, json!({ "f": { "types": types } }))
        .await;
    body["data"]["events"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["eventId"].as_str().map(str::to_owned))
        .collect()
}

async fn bump_capacity(app: &TestApp, token: &str, service: &str, places: i64) {
    let version = {
        let query = "query($id: ID!) { node(id: $id) { ... on Service { rowVersion } } }";
        app.query_as(token, query, json!({ "id": service })).await.1["data"]["node"]["rowVersion"]
            .clone()
    };
    let (_, body) = app
        .query_as(
            token,
            CAPACITY,
            json!({ "input": { "id": service, "expectedVersion": version, "openPlaces": places } }),
        )
        .await;
    assert_eq!(
        body["data"]["updateServiceCapacity"]["userErrors"],
        json!([]),
        "{body}"
    );
}

async fn first_service_of(app: &TestApp, organization: &str) -> String {
    let query = "query($o: ID) { services(filter: {provider: $o}, first: 1) { nodes { id } } }";
    let data = app
        .data(query, json!({ "o": flow::gid(app, organization).await }))
        .await;
    data["services"]["nodes"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_receiver_gets_every_referral_event_signed_and_accepts_each_once_after_a_failed_first_attempt()
 {
    for engine in engines() {
        let app = spawn_app_with(engine, quick).await;
        // The first attempt of every event fails; the next one is accepted.
        let receiver = Receiver::start(|_, before| Some(if before == 0 { 500 } else { 200 })).await;
        let sender = "Centro per l'impiego di Pisa";
        let admin = admin_of(&app, sender).await;
        let (id, secret) = register(&app, &admin, &receiver.url, json!([])).await;
        let (_, referral) = flow::sent_referral(&app).await;
        let caritas = app.token(
            Some(app.organization_id("Caritas diocesana di Pisa").await),
            &[Role::Operator],
        );
        let version = app.row_version(&caritas, &json!(referral)).await;
        let accept = "mutation($input: AcceptReferralInput!) { acceptReferral(input: $input) { referral { status } } }";
        flow::ok(
            &app,
            &caritas,
            accept,
            json!({ "id": referral, "expectedVersion": version }),
        )
        .await;
        let operator = app.token(Some(app.organization_id(sender).await), &[Role::Operator]);
        let expected = feed_ids(
            &app,
            &operator,
            json!(["referral.created", "referral.sent", "referral.accepted"]),
        )
        .await;
        assert_eq!(expected.len(), 3, "[{engine:?}] {expected:?}");
        eventually("every referral event is accepted", async || {
            let accepted = receiver.accepted();
            expected.iter().all(|e| accepted.contains_key(e))
        })
        .await;
        let received = receiver.received();
        for event in &expected {
            let attempts: Vec<_> = received.iter().filter(|r| &r.id == event).collect();
            assert_eq!(
                attempts.iter().map(|r| r.answered).collect::<Vec<_>>(),
                [500, 200],
                "[{engine:?}] {event}: a failed attempt, then one accepted"
            );
            for attempt in attempts {
                assert!(
                    verify(&secret, attempt),
                    "[{engine:?}] signature of {attempt:?}"
                );
                assert!(!verify(
                    "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                    attempt
                ));
                let stamp: i64 = attempt.timestamp.parse().unwrap_or_default();
                assert!((chrono::Utc::now().timestamp() - stamp).abs() < 300);
                let body: Value = serde_json::from_str(&attempt.body).unwrap_or_default();
                assert_eq!(body["data"]["eventId"], json!(event));
                assert_eq!(
                    body["data"]["subjectId"],
                    json!(referral),
                    "[{engine:?}] {body}"
                );
                for personal in ["Mario", "Rossi", "RSSMRA85T10A562S"] {
                    assert!(
                        !attempt.body.contains(personal),
                        "[{engine:?}] {}",
                        attempt.body
                    );
                }
            }
        }
        // In order per subject: created before sent before accepted.
        let order: Vec<_> = received
            .iter()
            .filter(|r| r.answered == 200 && expected.contains(&r.id))
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(order, expected, "[{engine:?}]");
        // The log: each delivered after two attempts, with their statuses and latency.
        let log = log_with_delivered(&app, &admin, &id, expected.len()).await;
        let deliveries = log["deliveries"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for event in &expected {
            let delivery = deliveries
                .iter()
                .find(|d| d["eventId"] == json!(event))
                .unwrap_or_else(|| panic!("[{engine:?}] no delivery of {event}: {log}"));
            assert_eq!(delivery["state"], "DELIVERED");
            assert_eq!(delivery["attemptCount"], 2);
            assert_eq!(delivery["lastStatus"], 200);
            let statuses: Vec<_> = delivery["attempts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|a| a["statusCode"].clone())
                .collect();
            assert_eq!(
                statuses,
                [json!(500), json!(200)],
                "[{engine:?}] {delivery}"
            );
        }
        // The receiver's last 200 can reach this test before the dispatcher commits
        // it, and the endpoint row is read before the deliveries: wait for the commit.
        let mut log = log;
        for _ in 0..50 {
            if log["consecutiveFailures"] == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            log = endpoint(&app, &admin, &id).await;
        }
        assert_eq!(log["consecutiveFailures"], 0, "[{engine:?}] {log}");
    }
}

#[tokio::test]
async fn a_redelivery_posts_the_same_event_again_with_its_id() {
    for engine in engines() {
        let app = spawn_app_with(engine, quick).await;
        let receiver = Receiver::start(|_, _| Some(204)).await;
        let caritas = "Caritas diocesana di Pisa";
        let admin = admin_of(&app, caritas).await;
        let (id, secret) = register(
            &app,
            &admin,
            &receiver.url,
            json!(["service.capacity_changed"]),
        )
        .await;
        bump_capacity(&app, &admin, &first_service_of(&app, caritas).await, 3).await;
        eventually("the capacity change is delivered", async || {
            receiver.accepted().len() == 1
        })
        .await;
        let log = log_with_delivered(&app, &admin, &id, 1).await;
        let delivery = log["deliveries"]["nodes"][0].clone();
        assert_eq!(delivery["state"], "DELIVERED", "[{engine:?}] {log}");
        let redeliver =
            "mutation($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) {
          webhookDelivery { state } userErrors { code } } }";
        let (_, body) = app
            .query_as(
                &admin,
                redeliver,
                json!({ "input": { "id": delivery["id"] } }),
            )
            .await;
        assert_eq!(
            body["data"]["redeliverWebhook"]["webhookDelivery"]["state"], "PENDING",
            "{body}"
        );
        eventually("the event comes again", async || {
            receiver.received().len() == 2
        })
        .await;
        let received = receiver.received();
        assert_eq!(received[0].id, received[1].id, "[{engine:?}]");
        assert!(verify(&secret, &received[1]));
        // Another organization's administrator cannot re-deliver it, nor read the endpoint.
        let other = admin_of(&app, "Centro per l'impiego di Pisa").await;
        let (_, body) = app
            .query_as(
                &other,
                redeliver,
                // The deprecated key name `delivery` still names the delivery.
                json!({ "input": { "delivery": delivery["id"] } }),
            )
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "[{engine:?}] {body}");
        let (_, body) = app.query_as(&other, LOG, json!({ "id": id })).await;
        assert_eq!(body["data"]["node"], Value::Null, "[{engine:?}] {body}");
    }
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_its_organization_told_and_it_receives_nothing_more()
 {
    for engine in engines() {
        let app = spawn_app_with(engine, |s| {
            quick(s);
            s.webhook_disable_after_failures = 3;
        })
        .await;
        let failing = Receiver::start(|_, _| Some(503)).await;
        let healthy = Receiver::start(|_, _| Some(200)).await;
        let caritas = "Caritas diocesana di Pisa";
        let admin = admin_of(&app, caritas).await;
        let types = json!(["service.capacity_changed"]);
        let (id, _) = register(&app, &admin, &failing.url, types.clone()).await;
        let service = first_service_of(&app, caritas).await;
        bump_capacity(&app, &admin, &service, 1).await;
        eventually("the endpoint is disabled", async || {
            endpoint(&app, &admin, &id).await["status"] == "DISABLED"
        })
        .await;
        let log = endpoint(&app, &admin, &id).await;
        assert_eq!(
            log["disabledReason"], "3 failed attempts in a row",
            "[{engine:?}] {log}"
        );
        assert_eq!(failing.received().len(), 3, "[{engine:?}]");
        // Its organization reads why in its feed.
        let told = feed_ids(&app, &admin, json!(["webhook_endpoint.disabled"])).await;
        assert_eq!(told.len(), 1, "[{engine:?}]");
        let stranger = admin_of(&app, "Centro per l'impiego di Pisa").await;
        assert!(
            feed_ids(&app, &stranger, json!(["webhook_endpoint.disabled"]))
                .await
                .is_empty()
        );
        // A later change reaches a healthy endpoint, not the disabled one.
        register(&app, &admin, &healthy.url, types).await;
        bump_capacity(&app, &admin, &service, 2).await;
        eventually("the healthy endpoint gets the change", async || {
            healthy.accepted().len() == 1
        })
        .await;
        assert_eq!(
            failing.received().len(),
            3,
            "[{engine:?}] the disabled endpoint got more"
        );
        // Re-enabled, it resumes where it stopped: the pending first change, then the second.
        failing.set_rule(|_, _| Some(200));
        let version = endpoint(&app, &admin, &id).await["rowVersion"].clone();
        let (_, body) = app
            .query_as(
                &admin,
                UPDATE,
                json!({ "input": { "id": id, "expectedVersion": version, "enabled": true } }),
            )
            .await;
        assert_eq!(
            body["data"]["updateWebhookEndpoint"]["webhookEndpoint"]["status"], "ACTIVE",
            "{body}"
        );
        eventually("both changes reach the re-enabled endpoint", async || {
            failing.accepted().len() == 2
        })
        .await;
    }
}

#[tokio::test]
async fn after_a_rotation_deliveries_carry_both_signatures_until_the_overlap_ends() {
    for engine in engines() {
        let app = spawn_app_with(engine, quick).await;
        let receiver = Receiver::start(|_, _| Some(200)).await;
        let caritas = "Caritas diocesana di Pisa";
        let admin = admin_of(&app, caritas).await;
        let (id, old) = register(
            &app,
            &admin,
            &receiver.url,
            json!(["service.capacity_changed"]),
        )
        .await;
        let service = first_service_of(&app, caritas).await;
        let version = endpoint(&app, &admin, &id).await["rowVersion"].clone();
        let (_, body) = app
            .query_as(
                &admin,
                ROTATE,
                json!({ "input": { "id": id, "expectedVersion": version, "overlapHours": 24 } }),
            )
            .await;
        let new = body["data"]["rotateWebhookSecret"]["secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(new.starts_with("whsec_") && new != old, "{body}");
        bump_capacity(&app, &admin, &service, 4).await;
        eventually("the change is delivered", async || {
            receiver.received().len() == 1
        })
        .await;
        let first = &receiver.received()[0];
        assert!(
            verify(&old, first) && verify(&new, first),
            "[{engine:?}] {first:?}"
        );
        // Rotated again without overlap: only the newest secret signs.
        let version = endpoint(&app, &admin, &id).await["rowVersion"].clone();
        let (_, body) = app
            .query_as(
                &admin,
                ROTATE,
                json!({ "input": { "id": id, "expectedVersion": version, "overlapHours": 0 } }),
            )
            .await;
        let newest = body["data"]["rotateWebhookSecret"]["secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        bump_capacity(&app, &admin, &service, 5).await;
        eventually("the second change is delivered", async || {
            receiver.received().len() == 2
        })
        .await;
        let second = &receiver.received()[1];
        assert!(verify(&newest, second), "[{engine:?}]");
        assert!(
            !verify(&new, second) && !verify(&old, second),
            "[{engine:?}] {second:?}"
        );
        // A stale version is a conflict; an overlap over a week is refused.
        let (_, body) = app
            .query_as(
                &admin,
                ROTATE,
                json!({ "input": { "id": id, "expectedVersion": version, "overlapHours": 1 } }),
            )
            .await;
        assert_eq!(first_error_code(&body), "CONFLICT", "{body}");
        let version = endpoint(&app, &admin, &id).await["rowVersion"].clone();
        let (_, body) = app
            .query_as(
                &admin,
                ROTATE,
                json!({ "input": { "id": id, "expectedVersion": version, "overlapHours": 169 } }),
            )
            .await;
        assert_eq!(
            body["data"]["rotateWebhookSecret"]["userErrors"][0]["field"],
            json!(["input", "overlapHours"]),
            "{body}"
        );
    }
}

async fn check_managers(engine: Engine, app: &TestApp) {
    let caritas = app.organization_id("Caritas diocesana di Pisa").await;
    let input = json!({ "input": { "url": "https://partner.example.org/hooks" } });
    let operator = app.token(Some(caritas), &[Role::Operator]);
    let (_, body) = app.query_as(&operator, CREATE, input.clone()).await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
    let body = app.query(CREATE, input.clone()).await;
    assert_eq!(
        first_error_code(&body),
        "UNAUTHENTICATED",
        "[{engine:?}] {body}"
    );
    let client = |scopes: &[&str]| {
        app.token_with(TokenRequest {
            subject: "client:test".to_owned(),
            kind: ViewerKind::Client,
            organization: Some(caritas),
            roles: Vec::new(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            name: None,
            ttl: Duration::from_secs(600),
        })
    };
    let (_, body) = app
        .query_as(&client(&["events:read"]), CREATE, input.clone())
        .await;
    assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
    let (_, body) = app
        .query_as(&client(&["webhooks:write"]), CREATE, input.clone())
        .await;
    let created = &body["data"]["createWebhookEndpoint"];
    assert_eq!(created["userErrors"], json!([]), "[{engine:?}] {body}");
    let id = created["webhookEndpoint"]["id"].clone();
    // Listed for its organization only.
    let list =
        "{ webhookEndpoints(first: 10) { totalCount nodes { id url organization { name } } } }";
    let (_, mine) = app
        .query_as(
            &admin_of(app, "Caritas diocesana di Pisa").await,
            list,
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["webhookEndpoints"]["nodes"][0]["id"], id,
        "{mine}"
    );
    assert_eq!(
        mine["data"]["webhookEndpoints"]["nodes"][0]["organization"]["name"],
        "Caritas diocesana di Pisa",
        "the endpoint links its organization: {mine}"
    );
    let (_, theirs) = app
        .query_as(
            &admin_of(app, "Centro per l'impiego di Pisa").await,
            list,
            json!({}),
        )
        .await;
    assert_eq!(
        theirs["data"]["webhookEndpoints"]["totalCount"], 0,
        "{theirs}"
    );
    // Another organization's administrator cannot change it (it does not exist for them).
    let stranger = admin_of(app, "Centro per l'impiego di Pisa").await;
    let (_, body) = app
        .query_as(
            &stranger,
            UPDATE,
            json!({ "input": { "id": id, "expectedVersion": 1, "enabled": false } }),
        )
        .await;
    assert_eq!(first_error_code(&body), "NOT_FOUND", "[{engine:?}] {body}");
}

#[tokio::test]
async fn only_the_organization_s_administrator_or_its_client_with_webhooks_write_manages_endpoints()
{
    for engine in engines() {
        let app = spawn_app_with(engine, |_| {}).await;
        check_managers(engine, &app).await;
    }
}

#[tokio::test]
async fn endpoints_on_loopback_private_or_plain_http_addresses_are_refused_outside_development() {
    for engine in engines() {
        let app = spawn_app_with(engine, |s| s.events_poll_interval_ms = 100).await;
        let admin = admin_of(&app, "Caritas diocesana di Pisa").await;
        for (url, message) in [
            ("http://partner.example.org/hooks", "https"),
            ("https://127.0.0.1/hooks", "private"),
            ("https://localhost:8443/hooks", "private"),
            ("https://10.0.0.7/hooks", "private"),
            ("https://192.168.1.20/hooks", "private"),
            ("https://169.254.169.254/latest/meta-data", "private"),
            ("https://[::1]/hooks", "private"),
            ("https://[fd12::1]/hooks", "private"),
            ("https://[::ffff:127.0.0.1]/hooks", "private"),
            ("https://user:pw@partner.example.org/", "password"),
            ("gopher://partner.example.org/", "URL"),
        ] {
            let (_, body) = app
                .query_as(&admin, CREATE, json!({ "input": { "url": url } }))
                .await;
            let errors = &body["data"]["createWebhookEndpoint"]["userErrors"];
            assert_eq!(
                errors[0]["field"],
                json!(["input", "url"]),
                "[{engine:?}] {url}: {body}"
            );
            assert!(
                errors[0]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(message),
                "[{engine:?}] {url}: {body}"
            );
        }
        let (_, body) = app
            .query_as(&admin, CREATE, json!({ "input": { "url": "https://partner.example.org/hooks", "eventTypes": ["referral.nope"] } }))
            .await;
        assert_eq!(
            body["data"]["createWebhookEndpoint"]["userErrors"][0]["field"],
            json!(["input", "eventTypes"]),
            "{body}"
        );
        let (_, body) = app
            .query_as(
                &admin,
                CREATE,
                json!({ "input": { "url": "https://partner.example.org/\u{0}" } }),
            )
            .await;
        assert_eq!(
            first_error_code(&body),
            "BAD_USER_INPUT",
            "[{engine:?}] {body}"
        );
        // A URL stored before the setting was turned off is refused at delivery too: the
        // attempt is logged and nothing reaches the address.
        let receiver = Receiver::start(|_, _| Some(200)).await;
        let (id, _) = register(
            &app,
            &admin,
            "https://partner.example.org/hooks",
            json!(["service.capacity_changed"]),
        )
        .await;
        app.exec(
            "UPDATE webhook_endpoint SET url = ? WHERE id = ?",
            vec![
                receiver.url.replace("http://", "https://").into(),
                melt_tests::row_id(&id).into(),
            ],
        )
        .await;
        bump_capacity(
            &app,
            &admin,
            &first_service_of(&app, "Caritas diocesana di Pisa").await,
            6,
        )
        .await;
        eventually("the refused attempt is logged", async || {
            let log = endpoint(&app, &admin, &id).await;
            log["deliveries"]["nodes"][0]["attempts"][0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("private"))
        })
        .await;
        assert_eq!(receiver.received().len(), 0);
    }
}

#[tokio::test]
async fn two_replicas_deliver_each_event_once_per_endpoint() {
    // Replicas share a database only on PostgreSQL (SQLite is one process).
    if !engines().contains(&Engine::Postgres) {
        return;
    }
    let app = spawn_app_with(Engine::Postgres, quick).await;
    let replica = app.replica().await;
    let receiver = Receiver::start(|_, _| Some(200)).await;
    let caritas = "Caritas diocesana di Pisa";
    let admin = admin_of(&app, caritas).await;
    let (id, secret) = register(
        &app,
        &admin,
        &receiver.url,
        json!(["service.capacity_changed"]),
    )
    .await;
    let service = first_service_of(&app, caritas).await;
    // Changes through both replicas, so both are woken and both deliver.
    for places in 0..20 {
        let target = if places % 2 == 0 {
            app.address.clone()
        } else {
            replica.clone()
        };
        let version = {
            let query = "query($id: ID!) { node(id: $id) { ... on Service { rowVersion } } }";
            app.query_as(&admin, query, json!({ "id": service }))
                .await
                .1["data"]["node"]["rowVersion"]
                .clone()
        };
        let body: Value = app
            .client
            .post(format!("{target}/graphql"))
            .bearer_auth(&admin)
            .json(&json!({ "query": CAPACITY, "variables": { "input": {
                "id": service, "expectedVersion": version, "openPlaces": places } } }))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .unwrap_or_default();
        assert_eq!(
            body["data"]["updateServiceCapacity"]["userErrors"],
            json!([]),
            "{body}"
        );
    }
    eventually("all 20 changes are delivered", async || {
        receiver.accepted().len() == 20
    })
    .await;
    let received = receiver.received();
    assert_eq!(
        received.len(),
        20,
        "an event was posted twice: {received:?}"
    );
    assert!(received.iter().all(|r| verify(&secret, r)));
    let log = log_with_delivered(&app, &admin, &id, 20).await;
    assert_eq!(log["deliveries"]["totalCount"], 20, "{log}");
    for delivery in log["deliveries"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        assert_eq!(delivery["attemptCount"], 1, "{delivery}");
    }
    // In order: the subject is one service, so its events arrive by position.
    let positions: Vec<i64> = received
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap_or_default()["data"]["position"]
                .as_i64()
                .unwrap_or_default()
        })
        .collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(positions, sorted);
}
