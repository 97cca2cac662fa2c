//! The outbox and its feed: each change that matters to another party is an event,
//! written with the change (a refused change writes none), read in order by those
//! entitled to it, resumable from a cursor without gaps or repeats, with ids only.

use melt_api::auth::token::TokenRequest;
use melt_api::auth::viewer::ViewerKind;
use melt_tests::{Role, TestApp, admin_of, flow, on_every_engine};
use serde_json::{Value, json};

const FEED: &str = "query($filter: EventFilter, $first: Int, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { endCursor hasNextPage } nodes { eventId type subjectType subjectId occurredAt } } }";

/// Every event `token` may read (anonymous without), walked `page` at a time.
async fn walk(app: &TestApp, token: Option<&str>, filter: Value, page: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let variables = json!({ "filter": filter, "first": page, "after": after });
        let body = match token {
            Some(token) => app.query_as(token, FEED, variables).await.1,
            None => app.query(FEED, variables).await,
        };
        assert!(body["errors"].is_null(), "{body}");
        let events = &body["data"]["events"];
        out.extend(events["nodes"].as_array().cloned().unwrap_or_default());
        if events["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = events["pageInfo"]["endCursor"].clone();
    }
}

fn of_subject<'a>(events: &'a [Value], subject: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| e["subjectId"] == subject)
        .filter_map(|e| e["type"].as_str())
        .collect()
}

async fn accept(app: &TestApp, referral: &str) {
    let token = app.token(
        Some(app.organization_id("Caritas diocesana di Pisa").await),
        &[Role::Operator],
    );
    let version = app.row_version(&token, &json!(referral)).await;
    let query = "mutation($input: AcceptReferralInput!) { acceptReferral(input: $input) { referral { status } userErrors { code } } }";
    let body = flow::ok(
        app,
        &token,
        query,
        json!({ "id": referral, "expectedVersion": version }),
    )
    .await;
    assert_eq!(
        body["acceptReferral"]["referral"]["status"], "ACCEPTED",
        "{body}"
    );
}

#[tokio::test]
async fn a_referral_s_events_reach_its_parties_only_and_the_receiver_from_sending_on() {
    on_every_engine(async |engine, app| {
        let (person, referral) = flow::sent_referral(&app).await;
        accept(&app, &referral).await;
        let org_token =
            async |name: &str| app.token(Some(app.organization_id(name).await), &[Role::Operator]);
        let sender = walk(
            &app,
            Some(&org_token("Centro per l'impiego di Pisa").await),
            json!({}),
            100,
        )
        .await;
        assert_eq!(
            of_subject(&sender, &referral),
            [
                "referral.created",
                "referral.sent",
                "referral.received",
                "referral.accepted"
            ],
            "[{engine:?}] the sender sees every step: {sender:?}"
        );
        let receiver = walk(
            &app,
            Some(&org_token("Caritas diocesana di Pisa").await),
            json!({}),
            100,
        )
        .await;
        assert_eq!(
            of_subject(&receiver, &referral),
            ["referral.sent", "referral.received", "referral.accepted"],
            "[{engine:?}] the receiver never sees the draft: {receiver:?}"
        );
        for outsider in [
            Some(org_token("CNA Pisa").await),
            Some(admin_of(&app, "Forium").await),
            None,
        ] {
            let events = walk(&app, outsider.as_deref(), json!({}), 100).await;
            assert!(
                of_subject(&events, &referral).is_empty(),
                "[{engine:?}] {events:?}"
            );
            assert!(
                events.iter().all(|e| e["subjectType"] != "Referral"),
                "[{engine:?}]"
            );
        }
        // Ids and types only: no personal value travels in an event.
        let text = serde_json::to_string(&sender).unwrap_or_default();
        for personal in ["Mario", "Rossi", "RSSMRA85T10A562S", "Orientamento"] {
            assert!(
                !text.contains(personal),
                "[{engine:?}] {personal} in {text}"
            );
        }
        assert!(
            !text.contains(&person),
            "[{engine:?}] the person's id is not an event's subject"
        );
        // A client with `events:read` only reads its organization's feed.
        let client = app.token_with(TokenRequest {
            subject: format!("client:sync-{}", uuid::Uuid::now_v7()),
            kind: ViewerKind::Client,
            organization: Some(app.organization_id("Caritas diocesana di Pisa").await),
            roles: vec![],
            scopes: vec!["events:read".to_owned()],
            name: Some("Sync".to_owned()),
            ttl: std::time::Duration::from_secs(600),
        });
        let synced = walk(
            &app,
            Some(&client),
            json!({ "types": ["referral.accepted"] }),
            100,
        )
        .await;
        assert_eq!(
            of_subject(&synced, &referral),
            ["referral.accepted"],
            "[{engine:?}] {synced:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_feed_resumes_from_a_cursor_without_gaps_or_repeats() {
    on_every_engine(async |engine, app| {
        for _ in 0..3 {
            let (_, referral) = flow::sent_referral_for(&app).await;
            accept(&app, &referral).await;
        }
        let token = app.token(
            Some(app.organization_id("Centro per l'impiego di Pisa").await),
            &[Role::Operator],
        );
        let whole = walk(&app, Some(&token), json!({}), 100).await;
        assert!(whole.len() >= 12, "[{engine:?}] {}", whole.len());
        for page in [1, 2, 5] {
            let paged = walk(&app, Some(&token), json!({}), page).await;
            assert_eq!(paged, whole, "[{engine:?}] pages of {page}");
        }
        let ids: std::collections::HashSet<&Value> = whole.iter().map(|e| &e["eventId"]).collect();
        assert_eq!(ids.len(), whole.len(), "[{engine:?}] no event twice");
        let times: Vec<&str> = whole
            .iter()
            .filter_map(|e| e["occurredAt"].as_str())
            .collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "[{engine:?}] in the order they happened");

        // Resuming later: only what happened since.
        let cursor = {
            let body = app.query_as(&token, FEED, json!({ "first": 100 })).await.1;
            body["data"]["events"]["pageInfo"]["endCursor"].clone()
        };
        let (_, referral) = flow::sent_referral_for(&app).await;
        let body = app
            .query_as(&token, FEED, json!({ "first": 100, "after": cursor }))
            .await
            .1;
        let since: Vec<&str> = body["data"]["events"]["nodes"]
            .as_array()
            .map(|n| n.iter().filter_map(|e| e["type"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            since,
            ["referral.created", "referral.sent"],
            "[{engine:?}] {body}"
        );
        assert!(
            of_subject(
                body["data"]["events"]["nodes"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice),
                &referral
            )
            .len()
                == 2
        );
    })
    .await;
}

#[tokio::test]
async fn a_refused_change_writes_no_event_and_catalogue_changes_are_public() {
    on_every_engine(async |engine, app| {
        let before = walk(&app, None, json!({}), 100).await.len();
        // A capacity change refused for its input: nothing is written.
        let forium = admin_of(&app, "Forium").await;
        let service = app
            .data("query($o: ID) { services(filter: {provider: $o}, first: 1) { nodes { id rowVersion } } }", json!({ "o": flow::gid(&app, "Forium").await }))
            .await["services"]["nodes"][0]
            .clone();
        let update = "mutation($input: UpdateServiceCapacityInput!) { updateServiceCapacity(input: $input) { service { id } userErrors { code } } }";
        let refused = flow::ok(&app, &forium, update, json!({ "id": service["id"], "expectedVersion": service["rowVersion"], "openPlaces": -1 })).await;
        assert_eq!(refused["updateServiceCapacity"]["userErrors"][0]["code"], "OUT_OF_RANGE", "[{engine:?}]");
        assert_eq!(walk(&app, None, json!({}), 100).await.len(), before, "[{engine:?}]");
        // Accepted: one public event, readable by anyone.
        flow::ok(&app, &forium, update, json!({ "id": service["id"], "expectedVersion": service["rowVersion"], "openPlaces": 3 })).await;
        let after = walk(&app, None, json!({ "types": ["service.capacity_changed"] }), 100).await;
        assert_eq!(of_subject(&after, service["id"].as_str().unwrap_or_default()), ["service.capacity_changed"], "[{engine:?}] {after:?}");
        // An unknown type is refused.
        let body = app.query(FEED, json!({ "filter": { "types": ["referral.exploded"] } })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "[{engine:?}] {body}");
    })
    .await;
}

/// The positions readers see commit in order: while one transaction that wrote an
/// event is open, another waits to take its position, so a reader that resumed after
/// the later one could never skip the earlier.
#[tokio::test]
async fn on_postgresql_an_event_takes_its_position_only_after_the_earlier_one_committed() {
    use melt_api::events::service::{Audience, record};
    use melt_api::graphql::relay::NodeKind;
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    for engine in melt_tests::engines() {
        if engine != melt_tests::Engine::Postgres {
            continue;
        }
        let app = melt_tests::spawn_app(engine).await;
        let first = app.db.begin().await.expect("begin");
        let subject = (NodeKind::Service, uuid::Uuid::now_v7());
        record(&first, "service.changed", subject, Audience::Public)
            .await
            .expect("first event");
        let db = app.db.clone();
        let second = tokio::spawn(async move {
            let txn = db.begin().await.expect("begin");
            let subject = (NodeKind::Service, uuid::Uuid::now_v7());
            record(&txn, "service.changed", subject, Audience::Public)
                .await
                .expect("second event");
            txn.commit().await.expect("commit");
        });
        // The second transaction waits on the order lock (seen in pg_locks).
        let waiting =
            "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";
        let mut seen = false;
        for _ in 0..10_000 {
            let row = app
                .db
                .query_one_raw(Statement::from_string(
                    app.db.get_database_backend(),
                    waiting,
                ))
                .await
                .expect("pg_locks")
                .expect("a row");
            if row.try_get::<i64>("", "n").expect("count") == 1 {
                seen = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(seen, "the second transaction never waited for the first");
        let before = walk(&app, None, json!({ "types": ["service.changed"] }), 100).await;
        assert!(before.is_empty(), "nothing committed yet: {before:?}");
        first.commit().await.expect("commit");
        second.await.expect("second transaction");
        let after = walk(&app, None, json!({ "types": ["service.changed"] }), 100).await;
        let subjects: Vec<&Value> = after.iter().map(|e| &e["subjectId"]).collect();
        assert_eq!(subjects.len(), 2, "{after:?}");
        assert_eq!(
            after[0]["subjectId"],
            melt_tests::global_id("Service", subject.1),
            "the first transaction's event comes first: {after:?}"
        );
    }
}
