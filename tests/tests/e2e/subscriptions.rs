//! Subscriptions over graphql-transport-ws: `referralEvents` for the caller's
//! organization (a draft's receiver hears nothing until it is sent), `serviceChanged`
//! for the public catalogue with the list's filter, and changes made through another
//! replica reaching a subscriber (PostgreSQL LISTEN/NOTIFY).

use crate::websocket::{Socket, connect_to, next_json, send};
use melt_tests::{Engine, Role, TestApp, admin_of, engines, flow, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

/// A socket to `address`, initialised with `token`, subscribed to `query` (id "1").
async fn subscribe(address: &str, token: Option<&str>, query: &str, variables: Value) -> Socket {
    let mut socket = connect_to(address).await;
    let payload = match token {
        Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
        None => json!({}),
    };
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    let ack = next_json(&mut socket).await.unwrap_or_default();
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
    socket
}

/// The next message of subscription "1" (fails after 60 s: something was lost).
async fn next_event(socket: &mut Socket) -> Value {
    let message = tokio::time::timeout(Duration::from_secs(60), next_json(socket))
        .await
        .expect("an event within 60 s")
        .unwrap_or_default();
    assert_eq!(message["id"], "1", "{message}");
    message["payload"].clone()
}

const REFERRAL_EVENTS: &str =
    "subscription($after: String) { referralEvents(after: $after) { type subjectType subjectId } }";

/// The feed's cursor now, as `token` reads it (after a public change, so that there is
/// one): a subscription started `after` it misses nothing that commits later, however
/// late the server sets it up.
async fn cursor_now(app: &TestApp, token: Option<&str>) -> Value {
    let admin = admin_of(app, "Caritas diocesana di Pisa").await;
    let query = "query($o: ID) { services(filter: {provider: $o}, first: 1) { nodes { id rowVersion capacity { openPlaces } } } }";
    let data = app
        .data(
            query,
            json!({ "o": flow::gid(app, "Caritas diocesana di Pisa").await }),
        )
        .await;
    let service = data["services"]["nodes"][0].clone();
    let update = "mutation($input: UpdateServiceCapacityInput!) { updateServiceCapacity(input: $input) { userErrors { code } } }";
    flow::ok(
        app,
        &admin,
        update,
        json!({ "id": service["id"], "expectedVersion": service["rowVersion"], "openPlaces": 40 }),
    )
    .await;
    let feed = "{ events(last: 1) { pageInfo { endCursor } } }";
    let body = match token {
        Some(token) => app.query_as(token, feed, json!({})).await.1,
        None => app.query(feed, json!({})).await,
    };
    let cursor = body["data"]["events"]["pageInfo"]["endCursor"].clone();
    assert!(cursor.is_string(), "{body}");
    cursor
}

async fn fast(engine: Engine) -> TestApp {
    spawn_app_with(engine, |s| s.events_poll_interval_ms = 200).await
}

#[tokio::test]
async fn a_referral_subscription_hears_its_organization_s_events_and_the_receiver_nothing_of_a_draft()
 {
    for engine in engines() {
        let app = fast(engine).await;
        let sender = app.token(
            Some(app.organization_id("Centro per l'impiego di Pisa").await),
            &[Role::Operator],
        );
        let receiver = app.token(
            Some(app.organization_id("Caritas diocesana di Pisa").await),
            &[Role::Operator],
        );
        let after = json!({ "after": cursor_now(&app, Some(&sender)).await });
        let mut at_sender =
            subscribe(&app.address, Some(&sender), REFERRAL_EVENTS, after.clone()).await;
        let mut at_receiver =
            subscribe(&app.address, Some(&receiver), REFERRAL_EVENTS, after).await;
        let (_, referral) = flow::sent_referral(&app).await;
        let first = next_event(&mut at_sender).await;
        assert_eq!(
            first["data"]["referralEvents"]["type"], "referral.created",
            "[{engine:?}] {first}"
        );
        assert_eq!(
            first["data"]["referralEvents"]["subjectId"],
            json!(referral)
        );
        let second = next_event(&mut at_sender).await;
        assert_eq!(
            second["data"]["referralEvents"]["type"], "referral.sent",
            "[{engine:?}]"
        );
        // The receiver's first event is the sending: the draft was never its business.
        let heard = next_event(&mut at_receiver).await;
        assert_eq!(
            heard["data"]["referralEvents"]["type"], "referral.sent",
            "[{engine:?}] {heard}"
        );
        assert_eq!(
            heard["data"]["referralEvents"]["subjectId"],
            json!(referral)
        );
        assert!(!heard.to_string().contains("Rossi"));
    }
}

#[tokio::test]
async fn a_referral_subscription_is_refused_to_the_anonymous_and_to_unknown_types() {
    for engine in engines() {
        let app = fast(engine).await;
        let mut anonymous = subscribe(&app.address, None, REFERRAL_EVENTS, json!({})).await;
        let message = next_json(&mut anonymous).await.unwrap_or_default();
        assert_eq!(
            message["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "[{engine:?}] {message}"
        );
        assert_eq!(message["payload"]["data"], Value::Null, "{message}");
        let operator = app.token(
            Some(app.organization_id("Caritas diocesana di Pisa").await),
            &[Role::Operator],
        );
        let query = "subscription($f: EventFilter) { referralEvents(filter: $f) { type } }";
        let mut wrong = subscribe(
            &app.address,
            Some(&operator),
            query,
            json!({ "f": { "types": ["service.changed"] } }),
        )
        .await;
        let message = next_json(&mut wrong).await.unwrap_or_default();
        assert_eq!(
            message["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "[{engine:?}] {message}"
        );
    }
}

const SERVICE_CHANGED: &str = "subscription($f: ServiceFilter, $after: String) {
  serviceChanged(filter: $f, after: $after) { event { type } service { id name capacity { openPlaces } } } }";

async fn change_capacity(address: &str, app: &TestApp, token: &str, places: i64) -> String {
    let query =
        "query($o: ID) { services(filter: {provider: $o}, first: 1) { nodes { id rowVersion } } }";
    let caritas = flow::gid(app, "Caritas diocesana di Pisa").await;
    let data = app.data(query, json!({ "o": caritas })).await;
    let service = data["services"]["nodes"][0].clone();
    let update = "mutation($input: UpdateServiceCapacityInput!) { updateServiceCapacity(input: $input) { userErrors { code } } }";
    let body: Value = app
        .client
        .post(format!("{address}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": update, "variables": { "input": {
            "id": service["id"], "expectedVersion": service["rowVersion"], "openPlaces": places } } }))
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
    service["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_catalogue_subscription_sees_changes_of_matching_services_only() {
    for engine in engines() {
        let app = fast(engine).await;
        let caritas = flow::gid(&app, "Caritas diocesana di Pisa").await;
        let other = flow::gid(&app, "Centro per l'impiego di Pisa").await;
        let after = cursor_now(&app, None).await;
        let mut theirs = subscribe(
            &app.address,
            None,
            SERVICE_CHANGED,
            json!({ "f": { "provider": other }, "after": after }),
        )
        .await;
        let mut mine = subscribe(
            &app.address,
            None,
            SERVICE_CHANGED,
            json!({ "f": { "provider": caritas }, "after": after }),
        )
        .await;
        let admin = admin_of(&app, "Caritas diocesana di Pisa").await;
        let service = change_capacity(&app.address, &app, &admin, 7).await;
        let change = next_event(&mut mine).await;
        let change = &change["data"]["serviceChanged"];
        assert_eq!(
            change["event"]["type"], "service.capacity_changed",
            "[{engine:?}] {change}"
        );
        assert_eq!(change["service"]["id"], json!(service));
        assert_eq!(change["service"]["capacity"]["openPlaces"], 7);
        // The other provider's subscriber hears its own service's change first: the
        // Caritas change never reached it.
        let cpi_admin = admin_of(&app, "Centro per l'impiego di Pisa").await;
        let query = "query($o: ID) { services(filter: {provider: $o}, first: 1) { nodes { id rowVersion } } }";
        let data = app.data(query, json!({ "o": other })).await;
        let own = data["services"]["nodes"][0].clone();
        let update = "mutation($input: UpdateServiceCapacityInput!) { updateServiceCapacity(input: $input) { userErrors { code } } }";
        flow::ok(
            &app,
            &cpi_admin,
            update,
            json!({ "id": own["id"], "expectedVersion": own["rowVersion"], "openPlaces": 2 }),
        )
        .await;
        let heard = next_event(&mut theirs).await;
        assert_eq!(
            heard["data"]["serviceChanged"]["service"]["id"], own["id"],
            "[{engine:?}] {heard}"
        );
    }
}

#[tokio::test]
async fn a_subscriber_on_one_replica_sees_a_change_made_through_another() {
    // Replicas share a database only on PostgreSQL (SQLite is one process).
    if !engines().contains(&Engine::Postgres) {
        return;
    }
    // Polling far slower than the test's patience: only the notification can be in time.
    let app = spawn_app_with(Engine::Postgres, |s| s.events_poll_interval_ms = 600_000).await;
    let replica = app.replica().await;
    let caritas = flow::gid(&app, "Caritas diocesana di Pisa").await;
    let after = cursor_now(&app, None).await;
    let mut on_a = subscribe(
        &app.address,
        None,
        SERVICE_CHANGED,
        json!({ "f": { "provider": caritas }, "after": after }),
    )
    .await;
    let admin = admin_of(&app, "Caritas diocesana di Pisa").await;
    // A first change through A: once it arrives, the subscription is surely live.
    change_capacity(&app.address, &app, &admin, 8).await;
    let first = next_event(&mut on_a).await;
    assert_eq!(
        first["data"]["serviceChanged"]["service"]["capacity"]["openPlaces"], 8,
        "{first}"
    );
    // Then one through B: only B's NOTIFY can bring it to A in time (A polls every 10 min).
    let service = change_capacity(&replica, &app, &admin, 9).await;
    let change = next_event(&mut on_a).await;
    assert_eq!(
        change["data"]["serviceChanged"]["service"]["id"],
        json!(service),
        "{change}"
    );
    assert_eq!(
        change["data"]["serviceChanged"]["service"]["capacity"]["openPlaces"],
        9
    );
}
