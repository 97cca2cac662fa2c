//! Automatic persisted queries (by SHA-256 hash, over GET and POST), the allow-list
//! mode for production, and Cache-Control: public and short for anonymous directory
//! reads over GET, no-store for everything else.

use melt_api::persisted::hash;
use melt_tests::{Engine, Role, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};

const QUERY: &str =
    "query Zones { territories(filter: {kinds: [ZONE]}, first: 3) { nodes { name } } }";

fn extensions(query: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash(query) } })
}

async fn get_by_hash(app: &TestApp, query: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(format!("{}/graphql", app.address)).query(&[
        ("operationName", "Zones"),
        ("extensions", &extensions(query).to_string()),
    ]);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("GET")
}

async fn post(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}/graphql", app.address))
        .json(&body)
        .send()
        .await
        .expect("POST")
}

fn cache_control(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_query_sent_once_with_its_hash_then_runs_by_hash_over_get_and_is_cacheable() {
    let app = spawn_app(Engine::Sqlite).await;
    let unknown = get_by_hash(&app, QUERY, None).await;
    assert_eq!(unknown.status(), 200);
    assert_eq!(cache_control(&unknown), "no-store");
    let body: Value = unknown.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
        "{body}"
    );
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let registered = post(
        &app,
        json!({ "query": QUERY, "extensions": extensions(QUERY) }),
    )
    .await;
    assert_eq!(cache_control(&registered), "no-store");
    let body: Value = registered.json().await.expect("JSON");
    assert!(
        body["data"]["territories"]["nodes"][0]["name"].is_string(),
        "{body}"
    );

    let by_hash = get_by_hash(&app, QUERY, None).await;
    assert_eq!(by_hash.status(), 200);
    let control = cache_control(&by_hash);
    let again: Value = by_hash.json().await.expect("JSON");
    assert_eq!(control, "public, max-age=60", "{again}");
    assert_eq!(again["data"], body["data"]);

    // Authenticated answers are never stored by a cache.
    let token = app.token(
        Some(app.organization_id("Centro per l'impiego di Pisa").await),
        &[Role::Operator],
    );
    let private = get_by_hash(&app, QUERY, Some(&token)).await;
    assert_eq!(private.status(), 200);
    assert_eq!(cache_control(&private), "no-store");

    // A hash that is not the query's is refused; so is a malformed extension.
    let body: Value = post(
        &app,
        json!({ "query": QUERY, "extensions": extensions("{ x }") }),
    )
    .await
    .json()
    .await
    .expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let malformed = json!({ "persistedQuery": { "version": 2, "sha256Hash": "abc" } });
    let body: Value = post(&app, json!({ "query": QUERY, "extensions": malformed }))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

#[tokio::test]
async fn with_an_allow_list_only_the_listed_operations_run() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("operations.json");
    std::fs::write(&file, json!([QUERY]).to_string()).expect("write the list");
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.persisted_queries_file = Some(file.clone());
        s.persisted_queries_only = true;
    })
    .await;
    // Listed: runs by its hash alone, never sent before.
    let body: Value = get_by_hash(&app, QUERY, None)
        .await
        .json()
        .await
        .expect("JSON");
    assert!(body["data"]["territories"]["nodes"].is_array(), "{body}");
    // Sent in full, it runs too; anything else is refused, in full or by hash.
    let body: Value = post(&app, json!({ "query": QUERY }))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(body["errors"].is_null(), "{body}");
    let other = "{ __typename }";
    for request in [
        json!({ "query": other }),
        json!({ "query": other, "extensions": extensions(other) }),
        json!({ "extensions": extensions(other) }),
    ] {
        let body: Value = post(&app, request.clone())
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED",
            "{request}: {body}"
        );
    }
}
