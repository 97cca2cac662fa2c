//! Incremental sync: a mirror reads what changed since its last read, in order of last
//! change, resumes by cursor, learns from tombstones what left its view, and a machine
//! client reading its inbox changes nothing.

use melt_api::auth::token::TokenRequest;
use melt_api::auth::viewer::ViewerKind;
use melt_tests::{Role, TestApp, first_error_code, flow, on_every_engine, row_id};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const CHANGED: &str = "query($since: DateTime, $first: Int, $after: String) {
  services(filter: {updatedSince: $since}, orderBy: {field: UPDATED_AT}, first: $first, after: $after) {
    totalCount pageInfo { endCursor hasNextPage } nodes { id updatedAt } } }";

const TOMBSTONES: &str = "query($filter: TombstoneFilter, $after: String) {
  tombstones(filter: $filter, first: 100, after: $after) {
    totalCount pageInfo { endCursor } nodes { subjectId subjectType reason removedAt } } }";

const INBOX: &str = "query($mark: Boolean) {
  referrals(filter: {direction: INBOX}, markReceived: $mark) { nodes { id status } } }";

const CAPACITY: &str = "mutation($input: UpdateServiceCapacityInput!) {
  updateServiceCapacity(input: $input) { service { id rowVersion } userErrors { code } } }";

/// Services of one provider that has at least three: its admin's token and the
/// services (id, rowVersion).
async fn provider_with_three_services(app: &TestApp) -> (String, Vec<Value>) {
    let data = app
        .data(
            "{ organizations(first: 100) { nodes { id servicesConnection(first: 3) { nodes { id rowVersion } } } } }",
            json!({}),
        )
        .await;
    let organization = data["organizations"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["servicesConnection"]["nodes"].as_array().map(Vec::len) == Some(3))
        .cloned()
        .expect("a demo provider with three services");
    let admin = app.token(
        Some(row_id(organization["id"].as_str().unwrap_or_default())),
        &[Role::OrgAdmin],
    );
    let services = organization["servicesConnection"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (admin, services)
}

/// Changes a service's capacity; returns its new row version.
async fn change(app: &TestApp, admin: &str, service: &Value, places: i64) -> Value {
    let input = json!({ "id": service["id"], "expectedVersion": service["rowVersion"], "openPlaces": places });
    let data = flow::ok(app, admin, CAPACITY, input).await;
    let changed = &data["updateServiceCapacity"]["service"];
    assert!(changed.is_object(), "{data}");
    json!({ "id": service["id"], "rowVersion": changed["rowVersion"] })
}

fn ids(nodes: &Value) -> Vec<String> {
    nodes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["id"].as_str().map(str::to_owned))
        .collect()
}

/// The moment between two changes (the clock moves on either side of it).
async fn a_moment() -> String {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let now = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    now
}

/// Every tombstone `token` may read (anonymous without).
async fn tombstones(app: &TestApp, token: Option<&str>, filter: Value) -> Vec<Value> {
    let variables = json!({ "filter": filter });
    let body = match token {
        Some(token) => app.query_as(token, TOMBSTONES, variables).await.1,
        None => app.query(TOMBSTONES, variables).await,
    };
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["tombstones"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn about<'a>(tombstones: &'a [Value], subject: &Value) -> Vec<(&'a str, &'a str)> {
    tombstones
        .iter()
        .filter(|t| t["subjectId"] == *subject)
        .map(|t| {
            let kind = t["subjectType"].as_str().unwrap_or_default();
            (kind, t["reason"].as_str().unwrap_or_default())
        })
        .collect()
}

/// A machine client of the organization named like `name` with `scopes`.
async fn client(app: &TestApp, name: &str, scopes: &[&str]) -> String {
    app.token_with(TokenRequest {
        subject: format!("client:mirror-{}", uuid::Uuid::now_v7()),
        kind: ViewerKind::Client,
        organization: Some(app.organization_id(name).await),
        roles: vec![],
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        name: Some("Mirror".to_owned()),
        ttl: std::time::Duration::from_secs(600),
    })
}

async fn inbox_status(app: &TestApp, token: &str, mark: Value, referral: &str) -> Value {
    let (_, body) = app.query_as(token, INBOX, json!({ "mark": mark })).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["referrals"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["id"] == referral)
        .map(|n| n["status"].clone())
        .unwrap_or(Value::Null)
}

const CARITAS: &str = "Caritas diocesana di Pisa";
const PISA: &str = "Centro per l'impiego di Pisa";

#[tokio::test]
async fn a_mirror_reading_services_updated_since_sees_exactly_those_changed_after_in_order_and_resumes_by_cursor()
 {
    on_every_engine(async |engine, app| {
        let (admin, services) = provider_with_three_services(&app).await;
        let [a, b, c] = [&services[0], &services[1], &services[2]];
        let a = change(&app, &admin, a, 1).await;
        let since = a_moment().await;
        let b = change(&app, &admin, b, 2).await;
        let c = change(&app, &admin, c, 3).await;
        let a = change(&app, &admin, &a, 4).await;

        let first = app
            .data(CHANGED, json!({ "since": since, "first": 2 }))
            .await;
        let page = &first["services"];
        assert_eq!(
            page["totalCount"], 3,
            "[{engine:?}] only the three changed after T: {first}"
        );
        assert_eq!(
            ids(&page["nodes"]),
            [&b["id"], &c["id"]].map(|v| v.as_str().unwrap_or_default().to_owned()),
            "[{engine:?}] oldest change first"
        );
        assert_eq!(page["pageInfo"]["hasNextPage"], true, "[{engine:?}]");
        let cursor = page["pageInfo"]["endCursor"].clone();
        let next = app
            .data(
                CHANGED,
                json!({ "since": since, "first": 2, "after": cursor }),
            )
            .await;
        assert_eq!(
            ids(&next["services"]["nodes"]),
            [a["id"].as_str().unwrap_or_default()],
            "[{engine:?}] {next}"
        );
        let end = next["services"]["pageInfo"]["endCursor"].clone();

        // The mirror comes back later: from its last cursor it sees what changed since.
        let nothing = app
            .data(CHANGED, json!({ "since": since, "first": 2, "after": end }))
            .await;
        assert_eq!(
            ids(&nothing["services"]["nodes"]),
            Vec::<String>::new(),
            "[{engine:?}]"
        );
        change(&app, &admin, &b, 5).await;
        let resumed = app
            .data(CHANGED, json!({ "since": since, "first": 2, "after": end }))
            .await;
        assert_eq!(
            ids(&resumed["services"]["nodes"]),
            [b["id"].as_str().unwrap_or_default()],
            "[{engine:?}] {resumed}"
        );
    })
    .await;
}

#[tokio::test]
async fn hiding_a_service_or_deleting_a_site_leaves_a_public_tombstone() {
    on_every_engine(async |engine, app| {
        let (admin, services) = provider_with_three_services(&app).await;
        let service = &services[0];
        let since = a_moment().await;
        let status = "mutation($input: ChangeServiceStatusInput!) { changeServiceStatus(input: $input) { service { rowVersion status } userErrors { code } } }";
        let defunct = flow::ok(&app, &admin, status, json!({ "id": service["id"], "expectedVersion": service["rowVersion"], "status": "DEFUNCT" })).await;
        let version = defunct["changeServiceStatus"]["service"]["rowVersion"].clone();
        assert!(version.is_number(), "{defunct}");
        // Out of the active catalogue already: a second move writes nothing more.
        flow::ok(&app, &admin, status, json!({ "id": service["id"], "expectedVersion": version, "status": "INACTIVE" })).await;

        let organization = app
            .data("query($id: ID!) { node(id: $id) { ... on Service { provider { id } } } }", json!({ "id": service["id"] }))
            .await["node"]["provider"]["id"]
            .clone();
        let create = "mutation($input: CreateLocationInput!) { createLocation(input: $input) { location { id rowVersion } userErrors { code } } }";
        let site = flow::ok(&app, &admin, create, json!({ "organization": organization, "name": "Sede temporanea", "address": "Via Roma 1", "municipalityIstatCode": "050026" })).await["createLocation"]["location"].clone();
        let delete = "mutation($input: DeleteLocationInput!) { deleteLocation(input: $input) { deletedLocationId userErrors { code } } }";
        let deleted = flow::ok(&app, &admin, delete, json!({ "id": site["id"], "expectedVersion": site["rowVersion"] })).await;
        assert_eq!(deleted["deleteLocation"]["deletedLocationId"], site["id"], "{deleted}");

        let public = tombstones(&app, None, json!({ "since": since })).await;
        assert_eq!(about(&public, &service["id"]), [("SERVICE", "HIDDEN")], "[{engine:?}] {public:?}");
        assert_eq!(about(&public, &site["id"]), [("LOCATION", "DELETED")], "[{engine:?}] {public:?}");
        let only_sites = tombstones(&app, None, json!({ "types": ["LOCATION"], "since": since })).await;
        assert_eq!(only_sites.len(), 1, "[{engine:?}] {only_sites:?}");
        let before = tombstones(&app, None, json!({ "since": "2000-01-01T00:00:00Z" })).await.len();
        let later = tombstones(&app, None, json!({ "since": "2999-01-01T00:00:00Z" })).await;
        assert!(later.is_empty() && before >= 2, "[{engine:?}] since bounds the list");
        // The hidden service is still there for whoever asks for its status.
        let node = app.data("query($id: ID!) { node(id: $id) { ... on Service { status } } }", json!({ "id": service["id"] })).await;
        assert_eq!(node["node"]["status"], "INACTIVE", "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn a_referral_tombstone_is_visible_only_to_its_organizations() {
    on_every_engine(async |engine, app| {
        let (person, referral) = flow::sent_referral_for(&app).await;
        let sender = app.token(Some(app.organization_id(PISA).await), &[Role::Operator]);
        let receiver = app.token(Some(app.organization_id(CARITAS).await), &[Role::Operator]);
        let stranger = app.token(Some(app.organization_id("Forium").await), &[Role::Operator]);
        let version = app.row_version(&sender, &json!(person)).await;
        let erase = "mutation($input: ErasePersonInput!) { erasePerson(input: $input) { person { id } userErrors { code } } }";
        flow::ok(&app, &sender, erase, json!({ "id": person, "expectedVersion": version })).await;

        let subject = json!(referral);
        for (who, token) in [("sender", &sender), ("receiver", &receiver)] {
            let seen = tombstones(&app, Some(token), json!({ "types": ["REFERRAL"] })).await;
            assert_eq!(about(&seen, &subject), [("REFERRAL", "ERASED")], "[{engine:?}] the {who}: {seen:?}");
            let text = serde_json::to_string(&seen).unwrap_or_default();
            assert!(!text.contains("Mario") && !text.contains("Orientamento"), "[{engine:?}] no personal values");
        }
        for token in [Some(&stranger), None] {
            let seen = tombstones(&app, token.map(String::as_str), json!({})).await;
            assert!(about(&seen, &subject).is_empty(), "[{engine:?}] {seen:?}");
        }
        // A machine client with `referrals:read` reads its organization's too.
        let mirror = client(&app, CARITAS, &["referrals:read"]).await;
        let seen = tombstones(&app, Some(&mirror), json!({ "types": ["REFERRAL"] })).await;
        assert_eq!(about(&seen, &subject).len(), 1, "[{engine:?}]");

        // The receiver's reading period ends: a tombstone for the receiver alone, once.
        app.db
            .execute_unprepared("UPDATE referral SET receiver_access_until = '2020-01-01T00:00:00+00:00'")
            .await
            .expect("end the reading period");
        let run = melt_api::jobs::run_once(&app.db, &app.settings).await.expect("run");
        assert_eq!(run.access_ended, 1, "[{engine:?}]");
        let again = melt_api::jobs::run_once(&app.db, &app.settings).await.expect("run");
        assert_eq!(again.access_ended, 0, "[{engine:?}] written once");
        let receiver_sees = tombstones(&app, Some(&receiver), json!({ "types": ["REFERRAL"] })).await;
        assert_eq!(about(&receiver_sees, &subject), [("REFERRAL", "ERASED"), ("REFERRAL", "ACCESS_ENDED")], "[{engine:?}]");
        let sender_sees = tombstones(&app, Some(&sender), json!({ "types": ["REFERRAL"] })).await;
        assert_eq!(about(&sender_sees, &subject), [("REFERRAL", "ERASED")], "[{engine:?}] the sender still reads it");
    })
    .await;
}

#[tokio::test]
async fn a_client_with_only_referrals_read_reads_its_inbox_without_marking_it_and_cannot_change_it()
{
    on_every_engine(async |engine, app| {
        let (_person, referral) = flow::sent_referral_for(&app).await;
        let mirror = client(&app, CARITAS, &["referrals:read"]).await;
        for _ in 0..2 {
            assert_eq!(inbox_status(&app, &mirror, Value::Null, &referral).await, "SENT", "[{engine:?}] reading changes nothing");
        }
        let node = "query($id: ID!) { node(id: $id) { ... on Referral { status rowVersion } } }";
        let (_, body) = app.query_as(&mirror, node, json!({ "id": referral })).await;
        assert_eq!(body["data"]["node"]["status"], "SENT", "[{engine:?}] {body}");
        let version = body["data"]["node"]["rowVersion"].clone();
        let counts = "{ referralCounts(direction: INBOX) { status count } }";
        let (_, body) = app.query_as(&mirror, counts, json!({})).await;
        assert!(body["errors"].is_null(), "[{engine:?}] {body}");

        // Asking to mark, accepting, marking: all need `referrals:write`.
        let (_, body) = app.query_as(&mirror, INBOX, json!({ "mark": true })).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        for mutation in ["acceptReferral", "markReferralReceived"] {
            let input = if mutation == "acceptReferral" { "AcceptReferralInput" } else { "MarkReferralReceivedInput" };
            let query = format!("mutation($input: {input}!) {{ {mutation}(input: $input) {{ referral {{ status }} }} }}");
            let (_, body) = app.query_as(&mirror, &query, json!({ "input": { "id": referral, "expectedVersion": version } })).await;
            assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {mutation}: {body}");
        }
        let send = "mutation($input: SendReferralInput!) { sendReferral(input: $input) { referral { status } } }";
        let sender_mirror = client(&app, PISA, &["referrals:read"]).await;
        let (_, body) = app.query_as(&sender_mirror, send, json!({ "input": { "id": referral, "expectedVersion": version } })).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] send: {body}");
        assert_eq!(inbox_status(&app, &mirror, Value::Null, &referral).await, "SENT", "[{engine:?}]");

        // A client with `referrals:write` reads without marking too, unless it asks.
        let writer = client(&app, CARITAS, &["referrals:write"]).await;
        assert_eq!(inbox_status(&app, &writer, Value::Null, &referral).await, "SENT", "[{engine:?}]");
        assert_eq!(inbox_status(&app, &writer, json!(true), &referral).await, "RECEIVED", "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn a_person_reading_the_inbox_still_marks_it_received_unless_told_not_to() {
    on_every_engine(async |engine, app| {
        let (_person, referral) = flow::sent_referral_for(&app).await;
        let operator = app.token(Some(app.organization_id(CARITAS).await), &[Role::Operator]);
        assert_eq!(
            inbox_status(&app, &operator, json!(false), &referral).await,
            "SENT",
            "[{engine:?}]"
        );
        assert_eq!(
            inbox_status(&app, &operator, Value::Null, &referral).await,
            "RECEIVED",
            "[{engine:?}] the first read marks it"
        );
    })
    .await;
}

#[tokio::test]
async fn a_mirror_reads_its_referrals_changed_since_in_order_of_change() {
    on_every_engine(async |engine, app| {
        let (_, first) = flow::sent_referral_for(&app).await;
        let since = a_moment().await;
        let (_, second) = flow::sent_referral_for(&app).await;
        let mirror = client(&app, CARITAS, &["referrals:read"]).await;
        let query = "query($since: DateTime) { referrals(filter: {direction: INBOX, updatedSince: $since}, orderBy: {field: UPDATED_AT}) { nodes { id } } }";
        let (_, body) = app.query_as(&mirror, query, json!({ "since": since })).await;
        assert_eq!(ids(&body["data"]["referrals"]["nodes"]), std::slice::from_ref(&second), "[{engine:?}] {body}");
        // The first one changes (the receiver marks it): it comes after the second.
        let operator = app.token(Some(app.organization_id(CARITAS).await), &[Role::Operator]);
        let node = "query($id: ID!) { node(id: $id) { ... on Referral { status } } }";
        let (_, read) = app.query_as(&operator, node, json!({ "id": first })).await;
        assert_eq!(read["data"]["node"]["status"], "RECEIVED", "[{engine:?}] {read}");
        let (_, body) = app.query_as(&mirror, query, json!({ "since": since })).await;
        assert_eq!(ids(&body["data"]["referrals"]["nodes"]), [second, first], "[{engine:?}] {body}");
    })
    .await;
}

#[tokio::test]
async fn a_bad_updated_since_is_refused_with_a_clear_error() {
    on_every_engine(async |engine, app| {
        let body = app.query(CHANGED, json!({ "since": "last tuesday" })).await;
        assert!(body["data"].is_null(), "[{engine:?}] {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("DateTime") && message.contains("ServiceFilter"),
            "[{engine:?}] {body}"
        );
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "[{engine:?}] {body}");
        let inline = app
            .query(
                "{ referrals(filter: {direction: INBOX, updatedSince: \"2026-13-45T00:00:00Z\"}) { totalCount } }",
                json!({}),
            )
            .await;
        assert!(inline["data"].is_null(), "[{engine:?}] {inline}");
        let message = inline["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("DateTime"), "[{engine:?}] {inline}");
    })
    .await;
}

#[tokio::test]
async fn an_org_admin_grants_referrals_read_to_a_client_whose_token_reads_the_inbox_unchanged() {
    on_every_engine(async |engine, app| {
        let (_person, referral) = flow::sent_referral_for(&app).await;
        let admin = app.token(Some(app.organization_id(CARITAS).await), &[Role::OrgAdmin]);
        let create = "mutation($input: CreateApiClientInput!) { createApiClient(input: $input) {
            apiClient { id scopes } clientSecret userErrors { field code } } }";
        let input = json!({ "organization": flow::gid(&app, CARITAS).await, "name": "Mirror", "scopes": ["referrals:read"] });
        let created = flow::ok(&app, &admin, create, input).await["createApiClient"].clone();
        assert_eq!(created["userErrors"], json!([]), "[{engine:?}] {created}");
        assert_eq!(created["apiClient"]["scopes"], json!(["REFERRALS_READ"]), "[{engine:?}]");
        let id = created["apiClient"]["id"].as_str().unwrap_or_default();
        let secret = created["clientSecret"].as_str().unwrap_or_default();
        let reply: Value = app
            .client
            .post(format!("{}/oauth/token", app.address))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .unwrap_or(Value::Null);
        assert_eq!(reply["scope"], "referrals:read", "[{engine:?}] {reply}");
        let token = reply["access_token"].as_str().unwrap_or_default();
        assert_eq!(inbox_status(&app, token, Value::Null, &referral).await, "SENT", "[{engine:?}]");
        assert_eq!(inbox_status(&app, token, Value::Null, &referral).await, "SENT", "[{engine:?}]");
    })
    .await;
}
