//! Referrals: the whole transition table, consent and protocol checks on sending,
//! idempotency, concurrency, cross-organization visibility, expiry, re-routing and
//! counts.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use melt_api::audit::service::Actor;
use melt_api::auth::Viewer;
use melt_api::auth::viewer::ViewerKind;
use melt_tests::{Role, TestApp, first_error_code, global_id, on_every_engine, row_id};
use sea_orm::prelude::DateTimeUtc;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use uuid::Uuid;

const SENDER: &str = "Centro per l'impiego di Pisa";
const RECEIVER: &str = "Caritas diocesana di Pisa";
const OUTSIDER: &str = "Forium";
const UNSIGNED: &str = "ARCI Comitato territoriale di Prato";

fn now() -> DateTimeUtc {
    DateTimeUtc::from(SystemTime::now())
}

async fn exec(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) -> u64 {
    app.exec(sql, values).await
}

async fn count_by_id(app: &TestApp, sql: &str, id: Uuid) -> i64 {
    let backend = app.db.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        sql.replacen('?', "$1", 1)
    } else {
        sql.to_owned()
    };
    app.db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            vec![id.into()],
        ))
        .await
        .expect("query")
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("a count")
}

async fn one_uuid(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) -> Uuid {
    let backend = app.db.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        sql.replacen('?', "$1", 1).replacen('?', "$2", 1)
    } else {
        sql.to_owned()
    };
    app.db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .expect("query")
        .expect("a row")
        .try_get::<Uuid>("", "id")
        .expect("id")
}

/// The demo network's parties plus a person the sender registered, living in Pisa,
/// who consented to sharing with the receiver.
struct Fixture {
    sender: Uuid,
    receiver: Uuid,
    service: Uuid,
    person: Uuid,
    sender_token: String,
    receiver_token: String,
    outsider_token: String,
}

async fn service_of(app: &TestApp, org: Uuid) -> Uuid {
    one_uuid(
        app,
        "SELECT id FROM service WHERE organization_id = ? ORDER BY id",
        vec![org.into()],
    )
    .await
}

async fn insert_person(app: &TestApp, registered_by: Uuid, municipality: Option<Uuid>) -> Uuid {
    let id = Uuid::now_v7();
    exec(
        app,
        "INSERT INTO person (id, created_at, updated_at, languages, contact_channel, registered_by_organization_id, residence_municipality_id, row_version) VALUES (?, ?, ?, 'it', 'EMAIL', ?, ?, 1)",
        vec![
            id.into(),
            now().into(),
            now().into(),
            registered_by.into(),
            municipality.into(),
        ],
    )
    .await;
    id
}

async fn insert_consent(app: &TestApp, person: Uuid, recorded_by: Uuid, recipient: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    let granted = now() - chrono_days(1);
    exec(
        app,
        "INSERT INTO consent (id, created_at, updated_at, person_id, purpose, legal_basis, granted_at, evidence_kind, evidence, recorded_by_organization_id, row_version) VALUES (?, ?, ?, ?, 'referral', 'CONSENT', ?, 'DOCUMENT', ?, ?, 1)",
        vec![
            id.into(),
            now().into(),
            now().into(),
            person.into(),
            granted.into(),
            app.protection()
                .encrypt("signed form")
                .expect("encrypt")
                .into(),
            recorded_by.into(),
        ],
    )
    .await;
    exec(
        app,
        "INSERT INTO consent_recipient (consent_id, organization_id, created_at) VALUES (?, ?, ?)",
        vec![id.into(), recipient.into(), now().into()],
    )
    .await;
    id
}

fn chrono_days(days: u64) -> Duration {
    Duration::from_secs(days * 86_400)
}

async fn pisa(app: &TestApp) -> Uuid {
    one_uuid(
        app,
        "SELECT id FROM territory WHERE kind = 'MUNICIPALITY' AND name = ?",
        vec!["Pisa".into()],
    )
    .await
}

async fn fixture(app: &TestApp) -> Fixture {
    let sender = app.organization_id(SENDER).await;
    let receiver = app.organization_id(RECEIVER).await;
    let outsider = app.organization_id(OUTSIDER).await;
    let service = service_of(app, receiver).await;
    let person = insert_person(app, sender, Some(pisa(app).await)).await;
    insert_consent(app, person, sender, receiver).await;
    Fixture {
        sender,
        receiver,
        service,
        person,
        sender_token: app.token(Some(sender), &[Role::Operator]),
        receiver_token: app.token(Some(receiver), &[Role::Operator]),
        outsider_token: app.token(Some(outsider), &[Role::OrgAdmin]),
    }
}

const FIELDS: &str = "id status rowVersion dueAt personId needs { code label } priority
  protocol { title } reroutedFrom { id } receiver { name } sender { name }
  events { action fromStatus toStatus actorSubject actorKind reasonCode reason { code label } declinedBy outcome }";

async fn create(app: &TestApp, f: &Fixture, key: Option<&str>) -> Value {
    let query = format!(
        "mutation($input: CreateReferralInput!) {{ createReferral(input: $input) {{ referral {{ {FIELDS} }} userErrors {{ field code message }} }} }}"
    );
    let input = json!({
        "person": global_id("Person", f.person),
        "receiverService": global_id("Service", f.service),
        "needs": ["EMPLOYMENT", "HOUSING"],
        "reason": "Needs help finding work and a home",
        "priority": "HIGH",
        "idempotencyKey": key,
    });
    let (status, body) = app
        .query_as(&f.sender_token, &query, json!({ "input": input }))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn create_draft(app: &TestApp, f: &Fixture) -> Value {
    let body = create(app, f, None).await;
    let referral = body["data"]["createReferral"]["referral"].clone();
    assert_eq!(referral["status"], "DRAFT", "{body}");
    referral
}

/// The mutations, their input extras, and the side of the design table.
const ACTIONS: [&str; 10] = [
    "send",
    "markReceived",
    "accept",
    "reject",
    "start",
    "hold",
    "resume",
    "complete",
    "fail",
    "cancel",
];

fn mutation_name(action: &str) -> String {
    match action {
        "markReceived" => "markReferralReceived".to_owned(),
        other => format!("{other}Referral"),
    }
}

fn input_type(action: &str) -> String {
    let name = mutation_name(action);
    let mut chars = name.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or('X');
    format!("{first}{}Input", chars.as_str())
}

fn extras(action: &str) -> Value {
    match action {
        "reject" => json!({ "reasonCode": "NO_CAPACITY", "declinedBy": "PROVIDER" }),
        "hold" | "fail" | "cancel" => json!({ "reasonCode": "PERSON_UNAVAILABLE" }),
        "complete" => json!({ "outcome": "EMPLOYED" }),
        _ => json!({}),
    }
}

/// Runs a transition mutation; returns the whole body.
async fn act(app: &TestApp, token: &str, action: &str, referral: &Value, extra: Value) -> Value {
    let name = mutation_name(action);
    let query = format!(
        "mutation($input: {}!) {{ {name}(input: $input) {{ referral {{ {FIELDS} }} userErrors {{ field code message }} }} }}",
        input_type(action)
    );
    let mut input = json!({ "id": referral["id"], "expectedVersion": referral["rowVersion"] });
    if let (Some(map), Some(more)) = (input.as_object_mut(), extra.as_object()) {
        for (k, v) in more {
            map.insert(k.clone(), v.clone());
        }
    }
    let (status, body) = app.query_as(token, &query, json!({ "input": input })).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Runs a transition that must succeed; returns the referral after it.
async fn must(app: &TestApp, token: &str, action: &str, referral: &Value) -> Value {
    let body = act(app, token, action, referral, extras(action)).await;
    let payload = &body["data"][mutation_name(action)];
    assert_eq!(payload["userErrors"], json!([]), "{action}: {body}");
    payload["referral"].clone()
}

async fn expire_one(app: &TestApp, referral: &Value) -> u64 {
    let id = Uuid::parse_str(
        std::str::from_utf8(
            &URL_SAFE_NO_PAD
                .decode(referral["id"].as_str().unwrap_or_default())
                .unwrap_or_default(),
        )
        .unwrap_or_default()
        .trim_start_matches("Referral:"),
    )
    .unwrap_or_default();
    exec(
        app,
        "UPDATE referral SET due_at = created_at WHERE id = ?",
        vec![id.into()],
    )
    .await;
    melt_api::referral::transition::expire_due(&app.db, now(), chrono::Duration::days(90))
        .await
        .expect("expire")
}

async fn reload(app: &TestApp, token: &str, referral: &Value) -> Value {
    let query = format!("query($id: ID!) {{ node(id: $id) {{ ... on Referral {{ {FIELDS} }} }} }}");
    let (_, body) = app
        .query_as(token, &query, json!({ "id": referral["id"] }))
        .await;
    body["data"]["node"].clone()
}

/// A referral driven into `state` by the sides allowed to.
async fn in_state(app: &TestApp, f: &Fixture, state: &str) -> Value {
    let (s, r) = (&f.sender_token, &f.receiver_token);
    let draft = create_draft(app, f).await;
    match state {
        "DRAFT" => draft,
        "CANCELLED" => must(app, s, "cancel", &draft).await,
        _ => {
            let sent = must(app, s, "send", &draft).await;
            match state {
                "SENT" => sent,
                "RECEIVED" => must(app, r, "markReceived", &sent).await,
                "REJECTED" => must(app, r, "reject", &sent).await,
                "EXPIRED" => {
                    assert_eq!(expire_one(app, &sent).await, 1);
                    reload(app, s, &sent).await
                }
                _ => {
                    let accepted = must(app, r, "accept", &sent).await;
                    match state {
                        "ACCEPTED" => accepted,
                        "ON_HOLD" => must(app, r, "hold", &accepted).await,
                        "FAILED" => must(app, r, "fail", &accepted).await,
                        _ => {
                            let started = must(app, r, "start", &accepted).await;
                            match state {
                                "IN_PROGRESS" => started,
                                "COMPLETED" => must(app, r, "complete", &started).await,
                                other => panic!("no path to {other}"),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// DESIGN.md §2.6, written out independently: (from, action, side) → to.
fn allowed(from: &str, action: &str, side: &str) -> Option<&'static str> {
    let open = ["SENT", "RECEIVED"];
    let working = ["ACCEPTED", "IN_PROGRESS", "ON_HOLD"];
    match (action, side) {
        ("send", "sender") if from == "DRAFT" => Some("SENT"),
        ("markReceived", "receiver") if from == "SENT" => Some("RECEIVED"),
        ("accept", "receiver") if open.contains(&from) => Some("ACCEPTED"),
        ("reject", "receiver") if open.contains(&from) => Some("REJECTED"),
        ("start", "receiver") if from == "ACCEPTED" => Some("IN_PROGRESS"),
        ("hold", "receiver") if ["ACCEPTED", "IN_PROGRESS"].contains(&from) => Some("ON_HOLD"),
        ("resume", "receiver") if from == "ON_HOLD" => Some("IN_PROGRESS"),
        ("complete", "receiver") if from == "IN_PROGRESS" => Some("COMPLETED"),
        ("fail", "receiver") if working.contains(&from) => Some("FAILED"),
        ("cancel", "sender") if ["DRAFT", "SENT", "RECEIVED"].contains(&from) => Some("CANCELLED"),
        ("cancel", "sender" | "receiver") if working.contains(&from) => Some("CANCELLED"),
        _ => None,
    }
}

const STATES: [&str; 11] = [
    "DRAFT",
    "SENT",
    "RECEIVED",
    "ACCEPTED",
    "REJECTED",
    "IN_PROGRESS",
    "ON_HOLD",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "EXPIRED",
];

#[tokio::test]
async fn every_transition_of_the_design_table_succeeds_for_its_side_and_every_other_is_refused() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let mut successes = 0;
        for state in STATES {
            let shared = in_state(&app, &f, state).await;
            assert_eq!(shared["status"], state, "[{engine:?}] {shared}");
            for action in ACTIONS {
                for (side, token) in [
                    ("sender", &f.sender_token),
                    ("receiver", &f.receiver_token),
                    ("outsider", &f.outsider_token),
                ] {
                    let expected = allowed(state, action, side);
                    if let Some(to) = expected {
                        let fresh = in_state(&app, &f, state).await;
                        let after = must(&app, token, action, &fresh).await;
                        assert_eq!(after["status"], to, "[{engine:?}] {state} {action} {side}");
                        let events = after["events"].as_array().cloned().unwrap_or_default();
                        let last = events.last().cloned().unwrap_or(Value::Null);
                        assert_eq!(last["fromStatus"], state, "[{engine:?}] {last}");
                        assert_eq!(last["toStatus"], to);
                        successes += 1;
                        continue;
                    }
                    let body = act(&app, token, action, &shared, extras(action)).await;
                    let payload = &body["data"][mutation_name(action)];
                    let other_side_may = ["sender", "receiver"]
                        .into_iter()
                        .any(|s| s != side && allowed(state, action, s).is_some());
                    // A referral never sent (a draft, or one cancelled as a draft)
                    // exists only for its sender.
                    let unsent = matches!(state, "DRAFT" | "CANCELLED");
                    if side == "outsider" || (side == "receiver" && unsent) {
                        assert_eq!(first_error_code(&body), "NOT_FOUND", "[{engine:?}] {body}");
                    } else if other_side_may {
                        assert_eq!(
                            first_error_code(&body),
                            "FORBIDDEN",
                            "[{engine:?}] {state} {action} {side}: {body}"
                        );
                    } else {
                        assert_eq!(
                            payload["userErrors"][0]["code"], "INVALID_STATE",
                            "[{engine:?}] {state} {action} {side}: {body}"
                        );
                        assert_eq!(payload["userErrors"][0]["field"], json!(["input", "id"]));
                        assert_eq!(payload["referral"], Value::Null);
                    }
                }
            }
            let still = reload(&app, &f.sender_token, &shared).await;
            assert_eq!(
                still["status"], state,
                "[{engine:?}] refusals changed {state}"
            );
        }
        assert_eq!(
            successes, 23,
            "[{engine:?}] allowed (state, action, side) triples"
        );
        melt_tests::assert_counts_are_kept(&app, "after every transition").await;
    })
    .await;
}

#[tokio::test]
async fn sending_records_the_protocol_and_a_due_date_in_working_days() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let draft = create_draft(&app, &f).await;
        assert_eq!(draft["protocol"], Value::Null);
        let sent = must(&app, &f.sender_token, "send", &draft).await;
        let title = sent["protocol"]["title"].as_str().unwrap_or_default();
        assert!(title.contains("MeLT"), "[{engine:?}] {sent}");
        let due = sent["dueAt"].as_str().unwrap_or_default();
        // 10 working days are 14 calendar days from a weekday, 12 or 13 from a weekend.
        let due: DateTimeUtc = due.parse().expect("dueAt is a timestamp");
        let days = (due - now()).num_days();
        assert!((11..=14).contains(&days), "[{engine:?}] due in {days} days");
        let events = sent["events"].as_array().cloned().unwrap_or_default();
        let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
        assert_eq!(actions, ["CREATE", "SEND"]);
    })
    .await;
}

#[tokio::test]
async fn sending_without_a_valid_consent_for_the_receiver_is_refused() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        exec(
            &app,
            "UPDATE consent SET withdrawn_at = ? WHERE person_id = ?",
            vec![now().into(), f.person.into()],
        )
        .await;
        let draft = create_draft(&app, &f).await;
        let body = act(&app, &f.sender_token, "send", &draft, json!({})).await;
        let payload = &body["data"]["sendReferral"];
        assert_eq!(
            payload["userErrors"][0]["code"], "NO_VALID_CONSENT",
            "[{engine:?}] {body}"
        );
        assert_eq!(
            reload(&app, &f.sender_token, &draft).await["status"],
            "DRAFT"
        );
    })
    .await;
}

#[tokio::test]
async fn sending_to_an_organization_invited_to_the_protocol_but_not_signed_is_refused_with_its_own_code()
 {
    on_every_engine(async |engine, app| {
        let mut f = fixture(&app).await;
        let unsigned = app.organization_id(UNSIGNED).await;
        f.service = service_of(&app, unsigned).await;
        insert_consent(&app, f.person, f.sender, unsigned).await;
        // The service covers the person's municipality and does not count its places:
        // only the protocol is missing.
        exec(
            &app,
            "INSERT INTO service_area (service_id, municipality_id, created_at) \
             SELECT ?, residence_municipality_id, created_at FROM person WHERE id = ?",
            vec![f.service.into(), f.person.into()],
        )
        .await;
        exec(
            &app,
            "UPDATE service SET open_places = NULL WHERE id = ?",
            vec![f.service.into()],
        )
        .await;
        let draft = create_draft(&app, &f).await;
        let body = act(&app, &f.sender_token, "send", &draft, json!({})).await;
        let payload = &body["data"]["sendReferral"];
        assert_eq!(
            payload["userErrors"].as_array().map(|e| e.len()),
            Some(1),
            "[{engine:?}] {body}"
        );
        assert_eq!(
            payload["userErrors"][0]["code"], "RECEIVER_NOT_SIGNED",
            "[{engine:?}] {body}"
        );
        // A person without a residence municipality is covered by no protocol either.
        let homeless = insert_person(&app, f.sender, None).await;
        insert_consent(&app, homeless, f.sender, f.receiver).await;
        let f2 = Fixture {
            person: homeless,
            service: service_of(&app, f.receiver).await,
            ..f
        };
        let draft = create_draft(&app, &f2).await;
        let body = act(&app, &f2.sender_token, "send", &draft, json!({})).await;
        assert_eq!(
            body["data"]["sendReferral"]["userErrors"][0]["code"], "RESIDENCE_UNKNOWN",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_repeated_create_with_the_same_key_returns_the_first_referral() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let first = create(&app, &f, Some("key-1")).await;
        let second = create(&app, &f, Some("key-1")).await;
        let a = &first["data"]["createReferral"]["referral"];
        let b = &second["data"]["createReferral"]["referral"];
        assert!(a["id"].is_string(), "[{engine:?}] {first}");
        assert_eq!(a["id"], b["id"], "[{engine:?}] {second}");
        assert_eq!(b["events"].as_array().map(Vec::len), Some(1), "{second}");
        let counts = "{ referralCounts(direction: OUTBOX) { status count } }";
        let (_, body) = app.query_as(&f.sender_token, counts, json!({})).await;
        let drafts = &body["data"]["referralCounts"][0];
        assert_eq!(drafts, &json!({ "status": "DRAFT", "count": 1 }), "{body}");

        // The same key with another payload is a conflict.
        let query = "mutation($input: CreateReferralInput!) { createReferral(input: $input) { referral { id } } }";
        let input = json!({
            "person": global_id("Person", f.person),
            "receiverService": global_id("Service", f.service),
            "needs": ["EMPLOYMENT"],
            "reason": "Something else entirely",
            "idempotencyKey": "key-1",
        });
        let (_, body) = app
            .query_as(&f.sender_token, query, json!({ "input": input }))
            .await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
    })
    .await;
}

#[tokio::test]
async fn creating_a_referral_validates_its_input_and_the_callers_involvement() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let query = "mutation($input: CreateReferralInput!) { createReferral(input: $input) { referral { id } userErrors { field code } } }";
        let input = json!({
            "person": global_id("Person", f.person),
            "receiverService": global_id("Service", f.service),
            "needs": ["NOT_A_NEED"],
            "reason": " ",
        });
        let (_, body) = app
            .query_as(&f.sender_token, query, json!({ "input": input }))
            .await;
        let errors = &body["data"]["createReferral"]["userErrors"];
        assert!(
            errors.as_array().is_some_and(|e| e.len() == 2),
            "[{engine:?}] {body}"
        );
        assert_eq!(
            errors[0],
            json!({ "field": ["input", "reason"], "code": "REQUIRED" })
        );
        assert_eq!(
            errors[1],
            json!({ "field": ["input", "needs"], "code": "INVALID" })
        );

        // An organization not involved with the person cannot refer them.
        let input = json!({
            "person": global_id("Person", f.person),
            "receiverService": global_id("Service", f.service),
            "needs": ["EMPLOYMENT"],
            "reason": "Work",
        });
        let (_, body) = app
            .query_as(&f.outsider_token, query, json!({ "input": input.clone() }))
            .await;
        let errors = &body["data"]["createReferral"]["userErrors"];
        assert_eq!(
            errors[0],
            json!({ "field": ["input", "person"], "code": "NOT_FOUND" }),
            "{body}"
        );

        let admin = app.token(None, &[Role::RegionalAdmin]);
        let (_, body) = app
            .query_as(&admin, query, json!({ "input": input.clone() }))
            .await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
        let body = app.query(query, json!({ "input": input })).await;
        assert_eq!(first_error_code(&body), "UNAUTHENTICATED", "{body}");
    })
    .await;
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_a_missing_or_blank_reason_is_required() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let draft = create_draft(&app, &f).await;
        let sent = must(&app, &f.sender_token, "send", &draft).await;
        let body = act(&app, &f.receiver_token, "accept", &draft, json!({})).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
        let body = act(
            &app,
            &f.receiver_token,
            "reject",
            &sent,
            json!({ "reasonText": "x" }),
        )
        .await;
        // The schema says the reason and who declined are required: the request is
        // refused before it runs.
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("reasonCode") && body["data"].is_null(),
            "[{engine:?}] {body}"
        );
        let body = act(
            &app,
            &f.receiver_token,
            "reject",
            &sent,
            json!({ "reasonCode": " ", "declinedBy": "PROVIDER", "reasonText": "x" }),
        )
        .await;
        let errors = &body["data"]["rejectReferral"]["userErrors"];
        assert_eq!(errors[0]["field"], json!(["input", "reasonCode"]), "{body}");
        assert_eq!(errors[0]["code"], "REQUIRED");
    })
    .await;
}

#[tokio::test]
async fn two_concurrent_accepts_of_one_referral_let_exactly_one_succeed() {
    // On PostgreSQL the row-version guard decides; SQLite refuses the colliding writer
    // outright, which the API reports as CONFLICT too.
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let sent = in_state(&app, &f, "RECEIVED").await;
        let (a, b) = tokio::join!(
            act(&app, &f.receiver_token, "accept", &sent, json!({})),
            act(&app, &f.receiver_token, "accept", &sent, json!({}))
        );
        let ok = |body: &Value| body["data"]["acceptReferral"]["referral"]["status"] == "ACCEPTED";
        assert_eq!(
            usize::from(ok(&a)) + usize::from(ok(&b)),
            1,
            "[{engine:?}] {a} {b}"
        );
        let loser = if ok(&a) { &b } else { &a };
        let refused = first_error_code(loser) == "CONFLICT"
            || loser["data"]["acceptReferral"]["userErrors"][0]["code"] == "INVALID_STATE";
        assert!(refused, "[{engine:?}] {loser}");
        let after = reload(&app, &f.receiver_token, &sent).await;
        let accepts = after["events"]
            .as_array()
            .map(|e| e.iter().filter(|e| e["action"] == "ACCEPT").count());
        assert_eq!(accepts, Some(1));
    })
    .await;
}

#[tokio::test]
async fn an_uninvolved_organization_cannot_see_referrals_or_their_events() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let sent = in_state(&app, &f, "SENT").await;
        let list = format!(
            "query($d: ReferralDirection!) {{ referrals(filter: {{direction: $d}}) {{ totalCount nodes {{ {FIELDS} }} }} }}"
        );
        for direction in ["INBOX", "OUTBOX"] {
            let (_, body) = app
                .query_as(&f.outsider_token, &list, json!({ "d": direction }))
                .await;
            assert_eq!(
                body["data"]["referrals"]["totalCount"], 0,
                "[{engine:?}] {body}"
            );
            assert_eq!(body["data"]["referrals"]["nodes"], json!([]));
        }
        assert_eq!(reload(&app, &f.outsider_token, &sent).await, Value::Null);
        let (_, body) = app
            .query_as(
                &f.outsider_token,
                "{ referralCounts(direction: INBOX) { count } }",
                json!({}),
            )
            .await;
        let total: u64 = body["data"]["referralCounts"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["count"].as_u64()).sum())
            .unwrap_or(99);
        assert_eq!(total, 0, "{body}");
        // An operator of another organization, a regional administrator and an
        // anonymous caller: no list, no node.
        let admin = app.token(None, &[Role::RegionalAdmin]);
        let (_, body) = app.query_as(&admin, &list, json!({ "d": "INBOX" })).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "{body}");
        assert_eq!(reload(&app, &admin, &sent).await, Value::Null);
        let body = app.query(&list, json!({ "d": "OUTBOX" })).await;
        assert_eq!(first_error_code(&body), "UNAUTHENTICATED", "{body}");
        let auditor = app.token(Some(f.sender), &[Role::Auditor]);
        assert_eq!(reload(&app, &auditor, &sent).await, Value::Null);

        // The sender sees it in its outbox, with its events; the outsider's node
        // lookup did not mark it received.
        let (_, body) = app
            .query_as(&f.sender_token, &list, json!({ "d": "OUTBOX" }))
            .await;
        assert_eq!(body["data"]["referrals"]["totalCount"], 1, "{body}");
        let node = &body["data"]["referrals"]["nodes"][0];
        assert_eq!(node["status"], "SENT");
        assert_eq!(node["events"].as_array().map(Vec::len), Some(2));
    })
    .await;
}

#[tokio::test]
async fn the_receivers_first_read_marks_a_sent_referral_received() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let by_node = in_state(&app, &f, "SENT").await;
        let read = reload(&app, &f.receiver_token, &by_node).await;
        assert_eq!(read["status"], "RECEIVED", "[{engine:?}] {read}");
        let last = read["events"].as_array().and_then(|e| e.last().cloned());
        assert_eq!(
            last.map(|e| e["action"].clone()),
            Some(json!("MARK_RECEIVED"))
        );

        let by_list = in_state(&app, &f, "SENT").await;
        let list = "{ referrals(filter: {direction: INBOX, statuses: [SENT, RECEIVED]}) { nodes { id status } } }";
        let (_, body) = app.query_as(&f.receiver_token, list, json!({})).await;
        let nodes = body["data"]["referrals"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(nodes.len(), 2, "[{engine:?}] {body}");
        assert!(nodes.iter().all(|n| n["status"] == "RECEIVED"), "{body}");
        // The sender's read changes nothing.
        let sent = in_state(&app, &f, "SENT").await;
        assert_eq!(reload(&app, &f.sender_token, &sent).await["status"], "SENT");
        assert_eq!(
            reload(&app, &f.sender_token, &by_list).await["status"],
            "RECEIVED"
        );
    })
    .await;
}

#[tokio::test]
async fn expiry_marks_only_overdue_sent_and_received_referrals_and_only_once() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let overdue_sent = in_state(&app, &f, "SENT").await;
        let overdue_received = in_state(&app, &f, "RECEIVED").await;
        let on_time = in_state(&app, &f, "SENT").await;
        let accepted = in_state(&app, &f, "ACCEPTED").await;
        exec(
            &app,
            "UPDATE referral SET due_at = created_at WHERE status IN ('SENT', 'RECEIVED', 'ACCEPTED')",
            vec![],
        )
        .await;
        // Push the on-time one back into the future.
        let on_time_uuid = {
            let raw = URL_SAFE_NO_PAD
                .decode(on_time["id"].as_str().unwrap_or_default())
                .unwrap_or_default();
            let raw = String::from_utf8(raw).unwrap_or_default();
            Uuid::parse_str(raw.trim_start_matches("Referral:")).unwrap_or_default()
        };
        exec(
            &app,
            "UPDATE referral SET due_at = ? WHERE id = ?",
            vec![(now() + chrono_days(5)).into(), on_time_uuid.into()],
        )
        .await;
        let expired =
            melt_api::referral::transition::expire_due(&app.db, now(), chrono::Duration::days(90))
                .await
                .expect("expire");
        assert_eq!(expired, 2, "[{engine:?}]");
        let again =
            melt_api::referral::transition::expire_due(&app.db, now(), chrono::Duration::days(90))
                .await
                .expect("expire again");
        assert_eq!(again, 0);
        for (referral, status) in [
            (&overdue_sent, "EXPIRED"),
            (&overdue_received, "EXPIRED"),
            (&on_time, "SENT"),
            (&accepted, "ACCEPTED"),
        ] {
            let now = reload(&app, &f.sender_token, referral).await;
            assert_eq!(now["status"], status, "[{engine:?}] {now}");
        }
        let expired = reload(&app, &f.sender_token, &overdue_sent).await;
        let last = expired["events"]
            .as_array()
            .and_then(|e| e.last().cloned())
            .unwrap_or_default();
        assert_eq!(last["action"], "EXPIRE");
        assert_eq!(last["actorSubject"], "system");
        assert_eq!(last["actorKind"], "SYSTEM", "the caller-kind enum has SYSTEM");
        assert_eq!(last["reasonCode"], "DUE_DATE_PASSED");
        assert!(last["reason"].is_null(), "an expiry's code is in no taxonomy");
        melt_tests::assert_counts_are_kept(&app, "after the expiry job").await;
    })
    .await;
}

#[tokio::test]
async fn rerouting_creates_a_new_draft_linked_to_the_ended_referral() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let rejected = in_state(&app, &f, "REJECTED").await;
        let other = service_of(&app, f.sender).await;
        let query = format!(
            "mutation($input: RerouteReferralInput!) {{ rerouteReferral(input: $input) {{ referral {{ {FIELDS} }} userErrors {{ field code message }} }} }}"
        );
        let input = json!({
            "id": rejected["id"], "expectedVersion": rejected["rowVersion"],
            "receiverService": global_id("Service", other)
        });
        let (_, body) = app
            .query_as(&f.receiver_token, &query, json!({ "input": input.clone() }))
            .await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let (_, body) = app
            .query_as(&f.sender_token, &query, json!({ "input": input }))
            .await;
        let new = &body["data"]["rerouteReferral"]["referral"];
        assert_eq!(new["status"], "DRAFT", "[{engine:?}] {body}");
        assert_eq!(new["reroutedFrom"]["id"], rejected["id"]);
        assert_ne!(new["id"], rejected["id"]);
        assert_eq!(
            new["needs"],
            json!([{ "code": "EMPLOYMENT", "label": "Lavoro" }, { "code": "HOUSING", "label": "Casa" }])
        );
        assert_eq!(new["events"][0]["action"], "REROUTE");

        // An open referral cannot be re-routed.
        let open = in_state(&app, &f, "SENT").await;
        let input = json!({
            "id": open["id"], "expectedVersion": open["rowVersion"],
            "receiverService": global_id("Service", other)
        });
        let (_, body) = app
            .query_as(&f.sender_token, &query, json!({ "input": input }))
            .await;
        assert_eq!(
            body["data"]["rerouteReferral"]["userErrors"][0]["code"], "INVALID_STATE",
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_referral_is_rerouted_once_a_retry_returns_the_same_draft_and_the_original_links_to_it() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let rejected = in_state(&app, &f, "REJECTED").await;
        let other = service_of(&app, f.sender).await;
        let query = format!(
            "mutation($input: RerouteReferralInput!) {{ rerouteReferral(input: $input) {{ referral {{ {FIELDS} }} userErrors {{ field code message }} }} }}"
        );
        let reroute = |version: &Value, key: Option<&str>| {
            json!({ "input": {
                "id": rejected["id"], "expectedVersion": version,
                "receiverService": global_id("Service", other), "idempotencyKey": key
            }})
        };
        let (_, body) = app
            .query_as(&f.sender_token, &query, reroute(&rejected["rowVersion"], Some("r-1")))
            .await;
        let first = body["data"]["rerouteReferral"]["referral"].clone();
        assert_eq!(first["status"], "DRAFT", "[{engine:?}] {body}");

        // The original changed (it has a re-route now) and links to the new draft.
        let original = reload(&app, &f.sender_token, &rejected).await;
        assert_ne!(original["rowVersion"], rejected["rowVersion"], "[{engine:?}]");
        let link = "query($id: ID!) { node(id: $id) { ... on Referral { reroutedTo { id } } } }";
        let (_, body) = app
            .query_as(&f.sender_token, link, json!({ "id": rejected["id"] }))
            .await;
        assert_eq!(body["data"]["node"]["reroutedTo"]["id"], first["id"], "{body}");
        // The receiver of the original does not see the sender's new draft.
        let (_, body) = app
            .query_as(&f.receiver_token, link, json!({ "id": rejected["id"] }))
            .await;
        assert_eq!(
            body["data"]["node"],
            json!({ "reroutedTo": null }),
            "[{engine:?}] {body}"
        );

        // A retry with the same key (and the version it read) returns the same draft.
        let (_, body) = app
            .query_as(&f.sender_token, &query, reroute(&rejected["rowVersion"], Some("r-1")))
            .await;
        assert_eq!(
            body["data"]["rerouteReferral"]["referral"]["id"], first["id"],
            "[{engine:?}] {body}"
        );
        // A second re-route, with the current version and another key or none, is
        // refused with its own code.
        for key in [Some("r-2"), None] {
            let (_, body) = app
                .query_as(&f.sender_token, &query, reroute(&original["rowVersion"], key))
                .await;
            let payload = &body["data"]["rerouteReferral"];
            assert!(payload["referral"].is_null(), "[{engine:?}] {body}");
            assert_eq!(
                payload["userErrors"][0]["code"], "ALREADY_REROUTED",
                "[{engine:?}] {body}"
            );
        }
        let count = count_by_id(
            &app,
            "SELECT COUNT(*) FROM referral WHERE rerouted_from_id = ?",
            row_id(rejected["id"].as_str().unwrap_or_default()),
        )
        .await;
        assert_eq!(count, 1, "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn two_concurrent_reroutes_of_one_referral_make_one_draft() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let rejected = in_state(&app, &f, "REJECTED").await;
        let other = service_of(&app, f.sender).await;
        let query = "mutation($input: RerouteReferralInput!) { rerouteReferral(input: $input) { referral { id } userErrors { code } } }";
        let input = json!({ "input": {
            "id": rejected["id"], "expectedVersion": rejected["rowVersion"],
            "receiverService": global_id("Service", other)
        }});
        let (a, b) = tokio::join!(
            app.query_as(&f.sender_token, query, input.clone()),
            app.query_as(&f.sender_token, query, input.clone())
        );
        let made = |body: &Value| body["data"]["rerouteReferral"]["referral"]["id"].is_string();
        assert_eq!(
            usize::from(made(&a.1)) + usize::from(made(&b.1)),
            1,
            "[{engine:?}] {} {}",
            a.1,
            b.1
        );
        let loser = if made(&a.1) { &b.1 } else { &a.1 };
        let code = loser["data"]["rerouteReferral"]["userErrors"][0]["code"].clone();
        assert!(
            first_error_code(loser) == "CONFLICT" || code == "ALREADY_REROUTED",
            "[{engine:?}] {loser}"
        );
        let count = count_by_id(
            &app,
            "SELECT COUNT(*) FROM referral WHERE rerouted_from_id = ?",
            row_id(rejected["id"].as_str().unwrap_or_default()),
        )
        .await;
        assert_eq!(count, 1, "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn no_caller_can_create_a_referral_on_the_automated_rule_channel() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let query = "mutation($input: CreateReferralInput!) { createReferral(input: $input) { referral { id } userErrors { field code } } }";
        let client = app.token_with(melt_api::auth::token::TokenRequest {
            subject: "client:case-management".into(),
            kind: ViewerKind::Client,
            organization: Some(f.sender),
            roles: Vec::new(),
            scopes: vec!["referrals:write".into()],
            name: None,
            ttl: Duration::from_secs(600),
        });
        for token in [&f.sender_token, &client] {
            let input = json!({
                "person": global_id("Person", f.person),
                "receiverService": global_id("Service", f.service),
                "needs": ["EMPLOYMENT"],
                "reason": "Work",
                "channel": "AUTOMATED_RULE",
            });
            let (_, body) = app.query_as(token, query, json!({ "input": input })).await;
            let payload = &body["data"]["createReferral"];
            assert!(payload["referral"].is_null(), "[{engine:?}] {body}");
            assert_eq!(
                payload["userErrors"],
                json!([{ "field": ["input", "channel"], "code": "INVALID" }]),
                "[{engine:?}] {body}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn counts_per_status_and_the_inbox_order_follow_priority_and_due_date() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        in_state(&app, &f, "DRAFT").await;
        in_state(&app, &f, "ACCEPTED").await;
        in_state(&app, &f, "ACCEPTED").await;
        in_state(&app, &f, "REJECTED").await;
        let counts =
            "query($d: ReferralDirection!) { referralCounts(direction: $d) { status count } }";
        let (_, body) = app
            .query_as(&f.sender_token, counts, json!({ "d": "OUTBOX" }))
            .await;
        let get = |body: &Value, status: &str| {
            body["data"]["referralCounts"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["status"] == status).cloned())
                .map(|c| c["count"].clone())
        };
        assert_eq!(get(&body, "DRAFT"), Some(json!(1)), "[{engine:?}] {body}");
        assert_eq!(get(&body, "ACCEPTED"), Some(json!(2)));
        assert_eq!(get(&body, "REJECTED"), Some(json!(1)));
        assert_eq!(get(&body, "SENT"), Some(json!(0)));
        let (_, body) = app
            .query_as(&f.receiver_token, counts, json!({ "d": "INBOX" }))
            .await;
        assert_eq!(get(&body, "ACCEPTED"), Some(json!(2)), "{body}");

        // Order: URGENT before HIGH; among equals, soonest due first; no due date last.
        exec(
            &app,
            "UPDATE referral SET priority = 'URGENT' WHERE status = 'DRAFT'",
            vec![],
        )
        .await;
        let list = "query($after: String) { referrals(filter: {direction: OUTBOX}, first: 2, after: $after) { pageInfo { hasNextPage endCursor } nodes { status priority dueAt } } }";
        let (_, page1) = app.query_as(&f.sender_token, list, json!({})).await;
        let cursor = page1["data"]["referrals"]["pageInfo"]["endCursor"].clone();
        assert_eq!(
            page1["data"]["referrals"]["pageInfo"]["hasNextPage"], true,
            "{page1}"
        );
        let (_, page2) = app
            .query_as(&f.sender_token, list, json!({ "after": cursor }))
            .await;
        let mut nodes = page1["data"]["referrals"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        nodes.extend(
            page2["data"]["referrals"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(nodes.len(), 4, "[{engine:?}] {page1} {page2}");
        assert_eq!(nodes[0]["priority"], "URGENT");
        let dues: Vec<&str> = nodes[1..]
            .iter()
            .map(|n| n["dueAt"].as_str().unwrap_or(""))
            .collect();
        let mut sorted = dues.clone();
        sorted.sort();
        assert_eq!(dues, sorted, "{page1} {page2}");
    })
    .await;
}

#[tokio::test]
async fn withdrawing_consent_cancels_only_the_persons_drafts() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let draft = in_state(&app, &f, "DRAFT").await;
        let sent = in_state(&app, &f, "SENT").await;
        let actor = Actor {
            viewer: Viewer {
                kind: ViewerKind::User,
                subject: "operator-1".to_owned(),
                organization: Some(f.sender),
                roles: vec![Role::Operator],
                scopes: vec![],
                name: None,
            },
            request_id: None,
        };
        let cancelled = melt_api::referral::transition::cancel_drafts_of_person(
            &app.db,
            &actor,
            f.person,
            "CONSENT_WITHDRAWN",
        )
        .await
        .expect("cancel drafts");
        assert_eq!(cancelled, 1, "[{engine:?}]");
        let after = reload(&app, &f.sender_token, &draft).await;
        assert_eq!(after["status"], "CANCELLED");
        let last = after["events"]
            .as_array()
            .and_then(|e| e.last().cloned())
            .unwrap_or_default();
        assert_eq!(last["reasonCode"], "CONSENT_WITHDRAWN");
        assert_eq!(reload(&app, &f.sender_token, &sent).await["status"], "SENT");
    })
    .await;
}

const READINESS: &str = "query($s: ID!, $p: ID!, $w: Boolean) { referralReadiness(service: $s, person: $p, acceptWaitlist: $w) { ready waitlisted refusals { code message } protocol { title } } }";

/// `referralReadiness` of the fixture's person and service, as `token`.
async fn readiness(app: &TestApp, token: &str, f: &Fixture, waitlist: bool) -> Value {
    let variables = json!({
        "s": global_id("Service", f.service), "p": global_id("Person", f.person), "w": waitlist
    });
    app.query_as(token, READINESS, variables).await.1
}

fn refusal_codes(readiness: &Value) -> Vec<String> {
    readiness["data"]["referralReadiness"]["refusals"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| r["code"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Readiness names exactly `code`, and sending a new draft is refused with it.
async fn refused_with(app: &TestApp, f: &Fixture, code: &str, what: &str) {
    let body = readiness(app, &f.sender_token, f, false).await;
    assert_eq!(refusal_codes(&body), vec![code], "{what}: {body}");
    assert_eq!(body["data"]["referralReadiness"]["ready"], false, "{what}");
    let draft = create_draft(app, f).await;
    let body = act(app, &f.sender_token, "send", &draft, json!({})).await;
    let payload = &body["data"]["sendReferral"];
    assert!(payload["referral"].is_null(), "{what}: {body}");
    assert_eq!(
        payload["userErrors"][0]["code"], code,
        "{what}: sendReferral {body}"
    );
    assert_eq!(
        reload(app, &f.sender_token, &draft).await["status"],
        "DRAFT"
    );
}

async fn open_places(app: &TestApp, service: Uuid) -> Option<i32> {
    let backend = app.db.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        "SELECT open_places FROM service WHERE id = $1"
    } else {
        "SELECT open_places FROM service WHERE id = ?"
    };
    app.db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            vec![service.into()],
        ))
        .await
        .expect("query")
        .expect("a row")
        .try_get_by_index::<Option<i32>>(0)
        .expect("open_places")
}

#[tokio::test]
async fn each_gate_refuses_sending_with_its_code_and_readiness_names_it_beforehand() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        let what = |case: &str| format!("[{engine:?}] {case}");
        let body = readiness(&app, &f.sender_token, &f, false).await;
        let ready = &body["data"]["referralReadiness"];
        assert_eq!(ready["ready"], true, "{}: {body}", what("ready"));
        assert_eq!(ready["refusals"], json!([]));
        assert!(ready["protocol"]["title"].is_string(), "{body}");
        let (service, person) = (f.service, f.person);

        exec(
            &app,
            "UPDATE service SET status = 'INACTIVE' WHERE id = ?",
            vec![service.into()],
        )
        .await;
        refused_with(&app, &f, "SERVICE_NOT_ACTIVE", &what("inactive")).await;
        exec(
            &app,
            "UPDATE service SET status = 'ACTIVE' WHERE id = ?",
            vec![service.into()],
        )
        .await;

        let home = pisa(&app).await;
        exec(
            &app,
            "DELETE FROM service_area WHERE service_id = ? AND municipality_id = ?",
            vec![service.into(), home.into()],
        )
        .await;
        refused_with(&app, &f, "OUTSIDE_SERVICE_AREA", &what("area")).await;
        exec(
            &app,
            "INSERT INTO service_area (service_id, municipality_id, created_at) VALUES (?, ?, ?)",
            vec![service.into(), home.into(), now().into()],
        )
        .await;

        exec(
            &app,
            "UPDATE person SET residence_municipality_id = NULL WHERE id = ?",
            vec![person.into()],
        )
        .await;
        refused_with(&app, &f, "RESIDENCE_UNKNOWN", &what("residence")).await;
        exec(
            &app,
            "UPDATE person SET residence_municipality_id = ? WHERE id = ?",
            vec![home.into(), person.into()],
        )
        .await;

        // Ages: the range is checked against a recorded birth date.
        exec(
            &app,
            "UPDATE service SET minimum_age = 30, maximum_age = 40 WHERE id = ?",
            vec![service.into()],
        )
        .await;
        let today = chrono::Utc::now().date_naive();
        let years_ago = |years: u32| {
            today
                .checked_sub_months(chrono::Months::new(12 * years))
                .expect("a date")
        };
        for (age, refused) in [(20, true), (35, false), (70, true)] {
            exec(
                &app,
                "UPDATE person SET birth_date = ? WHERE id = ?",
                vec![years_ago(age).into(), person.into()],
            )
            .await;
            if refused {
                refused_with(&app, &f, "OUTSIDE_AGE_RANGE", &what(&format!("age {age}"))).await;
            } else {
                let body = readiness(&app, &f.sender_token, &f, false).await;
                assert_eq!(
                    refusal_codes(&body),
                    Vec::<String>::new(),
                    "{}",
                    what("age 35")
                );
            }
        }

        exec(
            &app,
            "UPDATE person SET birth_date = NULL WHERE id = ?",
            vec![person.into()],
        )
        .await;

        // Target groups: a service reserved to NEET youth refuses a person whose latest
        // assessment names other groups; one naming NEET youth (or none) passes.
        exec(
            &app,
            "INSERT INTO service_term (service_id, term_id, created_at) SELECT ?, id, ? FROM term WHERE taxonomy = 'TARGET_GROUP' AND code = 'NEET_YOUTH'",
            vec![service.into(), now().into()],
        )
        .await;
        let assess = async |groups: Value| {
            let query = "mutation($input: RecordNeedsAssessmentInput!) { recordNeedsAssessment(input: $input) { userErrors { code } } }";
            let input = json!({ "person": global_id("Person", person), "needs": [{ "need": "EMPLOYMENT", "severity": "LOW" }], "targetGroups": groups });
            let (_, body) = app.query_as(&f.sender_token, query, json!({ "input": input })).await;
            assert_eq!(body["data"]["recordNeedsAssessment"]["userErrors"], json!([]), "{body}");
        };
        let body = readiness(&app, &f.sender_token, &f, false).await;
        assert_eq!(refusal_codes(&body), Vec::<String>::new(), "{}", what("groups unknown"));
        assess(json!(["FOREIGN_NATIONALS"])).await;
        refused_with(&app, &f, "OUTSIDE_TARGET_GROUPS", &what("target groups")).await;
        assess(json!(["FOREIGN_NATIONALS", "NEET_YOUTH"])).await;
        let body = readiness(&app, &f.sender_token, &f, false).await;
        assert_eq!(refusal_codes(&body), Vec::<String>::new(), "{}", what("NEET youth"));
        exec(
            &app,
            "DELETE FROM service_term WHERE service_id = ? AND term_id IN (SELECT id FROM term WHERE taxonomy = 'TARGET_GROUP')",
            vec![service.into()],
        )
        .await;

        // No consent for the receiver.
        let unconsented = insert_person(&app, f.sender, Some(home)).await;
        let f2 = Fixture {
            person: unconsented,
            ..f
        };
        refused_with(&app, &f2, "NO_VALID_CONSENT", &what("consent")).await;
        let f = Fixture { person, ..f2 };

        // Several gates at once are all named, in the order they are checked.
        exec(
            &app,
            "UPDATE service SET status = 'INACTIVE', open_places = 0 WHERE id = ?",
            vec![service.into()],
        )
        .await;
        let body = readiness(&app, &f.sender_token, &f, false).await;
        assert_eq!(
            refusal_codes(&body),
            vec!["SERVICE_NOT_ACTIVE", "NO_OPEN_PLACES"],
            "{}: {body}",
            what("several")
        );
        exec(
            &app,
            "UPDATE service SET status = 'ACTIVE' WHERE id = ?",
            vec![service.into()],
        )
        .await;

        // A full service: refused unless the sender accepts the waiting list.
        refused_with(&app, &f, "NO_OPEN_PLACES", &what("full")).await;
        let body = readiness(&app, &f.sender_token, &f, true).await;
        let ready = &body["data"]["referralReadiness"];
        assert_eq!(
            (ready["ready"].clone(), ready["waitlisted"].clone()),
            (json!(true), json!(true)),
            "{body}"
        );
        let draft = create_draft(&app, &f).await;
        let body = act(
            &app,
            &f.sender_token,
            "send",
            &draft,
            json!({ "acceptWaitlist": true }),
        )
        .await;
        let sent = &body["data"]["sendReferral"]["referral"];
        assert_eq!(sent["status"], "SENT", "{}: {body}", what("waitlist"));
        let sent = reload(&app, &f.sender_token, sent).await;
        let flags =
            "query($id: ID!) { node(id: $id) { ... on Referral { waitlisted holdsPlace } } }";
        let (_, body) = app
            .query_as(&f.sender_token, flags, json!({ "id": sent["id"] }))
            .await;
        assert_eq!(
            body["data"]["node"],
            json!({ "waitlisted": true, "holdsPlace": false }),
            "{body}"
        );

        // Only an organization holding the person asks; others learn nothing.
        for token in [&f.outsider_token, &f.receiver_token] {
            let body = readiness(&app, token, &f, false).await;
            assert_eq!(
                first_error_code(&body),
                "NOT_FOUND",
                "{}: {body}",
                what("stranger")
            );
            assert!(body["data"].is_null() || body["data"]["referralReadiness"].is_null());
        }
    })
    .await;
}

#[tokio::test]
async fn accepting_takes_a_place_and_ending_gives_it_back() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        exec(&app, "UPDATE service SET open_places = 1 WHERE id = ?", vec![f.service.into()]).await;
        let a = in_state(&app, &f, "RECEIVED").await;
        let b = in_state(&app, &f, "RECEIVED").await;
        let a = must(&app, &f.receiver_token, "accept", &a).await;
        assert_eq!(open_places(&app, f.service).await, Some(0), "[{engine:?}]");
        let flags = "query($id: ID!) { node(id: $id) { ... on Referral { status waitlisted holdsPlace } } }";
        let (_, body) = app.query_as(&f.receiver_token, flags, json!({ "id": a["id"] })).await;
        assert_eq!(body["data"]["node"]["holdsPlace"], true, "{body}");

        // The last place is gone: the other waits.
        let body = act(&app, &f.receiver_token, "accept", &b, json!({})).await;
        assert_eq!(
            body["data"]["acceptReferral"]["userErrors"][0]["code"], "NO_OPEN_PLACES",
            "[{engine:?}] {body}"
        );
        assert_eq!(reload(&app, &f.receiver_token, &b).await["status"], "RECEIVED");

        // Ending gives the place back, once.
        let started = must(&app, &f.receiver_token, "start", &a).await;
        let done = must(&app, &f.receiver_token, "complete", &started).await;
        assert_eq!(open_places(&app, f.service).await, Some(1), "[{engine:?}]");
        let (_, body) = app.query_as(&f.receiver_token, flags, json!({ "id": done["id"] })).await;
        assert_eq!(body["data"]["node"]["holdsPlace"], false, "{body}");

        let b = reload(&app, &f.receiver_token, &b).await;
        let b = must(&app, &f.receiver_token, "accept", &b).await;
        assert_eq!(open_places(&app, f.service).await, Some(0));
        must(&app, &f.sender_token, "cancel", &b).await;
        assert_eq!(open_places(&app, f.service).await, Some(1), "[{engine:?}]");

        // A service that does not count its places is never full.
        exec(&app, "UPDATE service SET open_places = NULL WHERE id = ?", vec![f.service.into()]).await;
        let c = in_state(&app, &f, "ACCEPTED").await;
        let (_, body) = app.query_as(&f.receiver_token, flags, json!({ "id": c["id"] })).await;
        assert_eq!(body["data"]["node"]["holdsPlace"], false, "{body}");
        assert_eq!(open_places(&app, f.service).await, None);
    })
    .await;
}

#[tokio::test]
async fn two_concurrent_accepts_of_the_last_place_let_exactly_one_take_it() {
    // On PostgreSQL the guarded decrement decides (the second waits for the first and
    // finds no place); SQLite refuses the colliding writer outright (CONFLICT).
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        exec(
            &app,
            "UPDATE service SET open_places = 1 WHERE id = ?",
            vec![f.service.into()],
        )
        .await;
        let a = in_state(&app, &f, "RECEIVED").await;
        let b = in_state(&app, &f, "RECEIVED").await;
        let (x, y) = tokio::join!(
            act(&app, &f.receiver_token, "accept", &a, json!({})),
            act(&app, &f.receiver_token, "accept", &b, json!({}))
        );
        let ok = |body: &Value| body["data"]["acceptReferral"]["referral"]["status"] == "ACCEPTED";
        assert_eq!(
            usize::from(ok(&x)) + usize::from(ok(&y)),
            1,
            "[{engine:?}] {x} {y}"
        );
        let loser = if ok(&x) { &y } else { &x };
        let refused = first_error_code(loser) == "CONFLICT"
            || loser["data"]["acceptReferral"]["userErrors"][0]["code"] == "NO_OPEN_PLACES";
        assert!(refused, "[{engine:?}] {loser}");
        assert_eq!(open_places(&app, f.service).await, Some(0), "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn reason_codes_are_terms_of_the_actions_taxonomy_and_others_are_refused() {
    on_every_engine(async |engine, app| {
        let f = fixture(&app).await;
        // The codes a front end offers, with labels.
        let terms = "query($t: [Taxonomy!]) { terms(filter: {taxonomies: $t}, first: 100) { nodes { code it: label(language: IT) en: label(language: EN) } } }";
        for (taxonomy, code) in [
            ("REJECTION_REASON", "NO_CAPACITY"),
            ("CANCELLATION_REASON", "PERSON_UNAVAILABLE"),
            ("FAILURE_REASON", "PERSON_DROPPED_OUT"),
            ("HOLD_REASON", "WAITING_DOCUMENTS"),
            ("OUTCOME", "EMPLOYED"),
            ("SERVICE_TYPE", "ITALIAN_LANGUAGE_COURSE"),
        ] {
            let body = app.query(terms, json!({ "t": [taxonomy] })).await;
            let found = body["data"]["terms"]["nodes"]
                .as_array()
                .and_then(|n| n.iter().find(|t| t["code"] == code).cloned())
                .unwrap_or_default();
            assert!(
                found["it"].is_string() && found["en"].is_string() && found["it"] != found["en"],
                "[{engine:?}] {taxonomy} {code}: {body}"
            );
        }
        // Each action checks its own taxonomy: a code of another one is refused.
        for (action, state, foreign, own) in [
            ("reject", "SENT", "WAITING_DOCUMENTS", "no_capacity"),
            ("hold", "ACCEPTED", "NO_CAPACITY", "WAITING_DOCUMENTS"),
            ("fail", "ACCEPTED", "WAITING_DOCUMENTS", "PERSON_DROPPED_OUT"),
            ("cancel", "SENT", "NOT_A_CODE", "SENT_IN_ERROR"),
        ] {
            let referral = in_state(&app, &f, state).await;
            let token = if action == "cancel" {
                &f.sender_token
            } else {
                &f.receiver_token
            };
            let mut extra = extras(action);
            extra["reasonCode"] = json!(foreign);
            let body = act(&app, token, action, &referral, extra.clone()).await;
            let payload = &body["data"][mutation_name(action)];
            assert_eq!(
                payload["userErrors"],
                json!([{ "field": ["input", "reasonCode"], "code": "INVALID",
                         "message": payload["userErrors"][0]["message"] }]),
                "[{engine:?}] {action} {foreign}: {body}"
            );
            // Read by the sender: the receiver's first read would mark it RECEIVED.
            let referral = reload(&app, &f.sender_token, &referral).await;
            assert_eq!(referral["status"], state, "[{engine:?}] nothing changed");
            extra["reasonCode"] = json!(own);
            let body = act(&app, token, action, &referral, extra).await;
            let payload = &body["data"][mutation_name(action)];
            assert_eq!(payload["userErrors"], json!([]), "[{engine:?}] {action} {own}: {body}");
            let events = payload["referral"]["events"].as_array().cloned().unwrap_or_default();
            let last = events.last().cloned().unwrap_or_default();
            assert_eq!(
                last["reasonCode"],
                json!(own.to_ascii_uppercase()),
                "[{engine:?}] stored as the term's code"
            );
            assert_eq!(
                last["reason"]["code"],
                json!(own.to_ascii_uppercase()),
                "[{engine:?}] read back as the term: {last}"
            );
            assert!(
                last["reason"]["label"].as_str().is_some_and(|l| !l.is_empty()),
                "[{engine:?}] with its label: {last}"
            );
            assert_eq!(last["actorKind"], "USER", "[{engine:?}] {last}");
        }
    })
    .await;
}
