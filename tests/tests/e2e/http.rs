//! GraphQL over HTTP: methods, media types, status codes, limits, the IDE, health.

use melt_tests::{engines, first_error_code, on_every_engine, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use serde_json::{Value, json};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[tokio::test]
async fn a_query_over_get_runs() {
    on_every_engine(async |engine, app| {
        let response = app
            .client
            .get(format!("{}/graphql", app.address))
            .query(&[(
                "query",
                "query($n: Int) { services(first: $n) { nodes { name } } }",
            )])
            .query(&[("variables", r#"{"n": 2}"#)])
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{engine:?}");
        let body: Value = response.json().await.expect("json");
        let nodes = body["data"]["services"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(nodes.len(), 2, "{engine:?}: {body}");
    })
    .await;
}

#[tokio::test]
async fn a_mutation_over_get_is_refused_with_405_and_allow_post() {
    on_every_engine(async |engine, app| {
        let response = app
            .client
            .get(format!("{}/graphql", app.address))
            .query(&[("query", "mutation { __typename }")])
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{engine:?}"
        );
        assert_eq!(
            response.headers().get(ALLOW).map(|v| v.as_bytes()),
            Some(&b"POST"[..])
        );
        let body: Value = response.json().await.expect("json");
        assert_eq!(first_error_code(&body), "METHOD_NOT_ALLOWED");
    })
    .await;
}

#[tokio::test]
async fn a_named_mutation_among_several_operations_over_get_is_refused() {
    let app = spawn_app(engines()[0]).await;
    let document = "query A { __typename } mutation B { __typename }";
    let get = |name: &'static str| {
        app.client
            .get(format!("{}/graphql", app.address))
            .query(&[("query", document), ("operationName", name)])
            .send()
    };
    assert_eq!(
        get("B").await.expect("request").status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(get("A").await.expect("request").status(), StatusCode::OK);
}

#[tokio::test]
async fn other_methods_on_the_endpoint_are_405() {
    let app = spawn_app(engines()[0]).await;
    let response = app
        .client
        .put(format!("{}/graphql", app.address))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.headers().get(ALLOW).map(|v| v.as_bytes()),
        Some(&b"GET, POST"[..])
    );
}

async fn post_raw(
    app: &melt_tests::TestApp,
    accept: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn a_parse_error_is_400_for_graphql_response_json_and_200_for_json() {
    let app = spawn_app(engines()[0]).await;
    let body = json!({ "query": "{ services { " }).to_string();

    let modern = post_raw(&app, Some(GRAPHQL_RESPONSE), &body).await;
    assert_eq!(modern.status(), StatusCode::BAD_REQUEST);
    let content_type = modern.headers().get(CONTENT_TYPE).cloned();
    assert!(content_type.is_some_and(|v| v.as_bytes().starts_with(GRAPHQL_RESPONSE.as_bytes())));
    let modern: Value = modern.json().await.expect("json");
    assert!(
        modern.get("data").is_none(),
        "a request error has no data entry: {modern}"
    );
    assert_eq!(first_error_code(&modern), "GRAPHQL_PARSE_FAILED");

    let legacy = post_raw(&app, Some("application/json"), &body).await;
    assert_eq!(legacy.status(), StatusCode::OK);
    let legacy: Value = legacy.json().await.expect("json");
    assert_eq!(first_error_code(&legacy), "GRAPHQL_PARSE_FAILED");
}

#[tokio::test]
async fn a_validation_error_is_400_for_graphql_response_json_and_200_for_json() {
    let app = spawn_app(engines()[0]).await;
    let body = json!({ "query": "{ services { nodes { noSuchField } } }" }).to_string();
    let modern = post_raw(&app, Some(GRAPHQL_RESPONSE), &body).await;
    assert_eq!(modern.status(), StatusCode::BAD_REQUEST);
    let modern: Value = modern.json().await.expect("json");
    assert_eq!(first_error_code(&modern), "GRAPHQL_VALIDATION_FAILED");
    let legacy = post_raw(&app, None, &body).await;
    assert_eq!(legacy.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_field_error_keeps_status_200_with_both_media_types() {
    let app = spawn_app(engines()[0]).await;
    let body = json!({ "query": "{ services(first: 500) { totalCount } }" }).to_string();
    for accept in [GRAPHQL_RESPONSE, "application/json"] {
        let response = post_raw(&app, Some(accept), &body).await;
        assert_eq!(response.status(), StatusCode::OK, "{accept}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            first_error_code(&body),
            "BAD_USER_INPUT",
            "{accept}: {body}"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_400() {
    let app = spawn_app(engines()[0]).await;
    let response = post_raw(&app, None, "query { services }").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(first_error_code(&body), "BAD_REQUEST");
}

#[tokio::test]
async fn an_unsupported_content_type_is_415() {
    let app = spawn_app(engines()[0]).await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(CONTENT_TYPE, "text/plain")
        .body("{ __typename }")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn an_unacceptable_accept_header_is_406() {
    let app = spawn_app(engines()[0]).await;
    let body = json!({ "query": "{ __typename }" }).to_string();
    let response = post_raw(&app, Some("application/xml"), &body).await;
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(engines()[0], |s| s.max_body_bytes = 1024).await;
    let padding = " ".repeat(2048);
    let body = json!({ "query": format!("{{ __typename {padding} }}") }).to_string();
    let response = post_raw(&app, None, &body).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn batches_run_each_operation_up_to_the_limit() {
    let app = spawn_app_with(engines()[0], |s| s.max_batch_size = 2).await;
    let one = json!({ "query": "{ __typename }" });
    let ok = post_raw(&app, None, &json!([one, one]).to_string()).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let ok: Value = ok.json().await.expect("json");
    assert_eq!(ok.as_array().map(Vec::len), Some(2), "{ok}");
    assert_eq!(ok[1]["data"]["__typename"], "Query");
    let too_many = post_raw(&app, None, &json!([one, one, one]).to_string()).await;
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn queries_deeper_than_the_limit_are_refused() {
    let app = spawn_app_with(engines()[0], |s| s.max_query_depth = 4).await;
    let deep = "{ services { nodes { provider { services { provider { name } } } } } }";
    let body = app.query(deep, json!({})).await;
    assert_eq!(
        first_error_code(&body),
        "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("deep"),
        "{body}"
    );
    let shallow = app
        .query("{ services { nodes { name } } }", json!({}))
        .await;
    assert!(shallow.get("errors").is_none(), "{shallow}");
}

#[tokio::test]
async fn connections_are_costed_by_their_page_size() {
    let app = spawn_app_with(engines()[0], |s| s.max_query_complexity = 200).await;
    let query = "query($n: Int) { services(first: $n) { nodes { name description status } } }";
    let small = app.query(query, json!({ "n": 10 })).await;
    assert!(small.get("errors").is_none(), "{small}");
    let large = app.query(query, json!({ "n": 100 })).await;
    assert_eq!(first_error_code(&large), "QUERY_TOO_COMPLEX", "{large}");
    assert!(
        large["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("complex")
    );
}

#[tokio::test]
async fn internal_errors_are_masked_with_an_error_id() {
    on_every_engine(async |engine, app| {
        // Break the database under the running app.
        sea_orm::ConnectionTrait::execute_unprepared(&app.db, "DROP TABLE signatory")
            .await
            .expect("drop table");
        let body = app
            .query(
                "{ protocols { nodes { signatories { role } } } }",
                json!({}),
            )
            .await;
        let error = &body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "INTERNAL_SERVER_ERROR",
            "{engine:?}: {body}"
        );
        let error_id = error["extensions"]["errorId"].as_str().unwrap_or_default();
        assert!(!error_id.is_empty(), "{engine:?}: {body}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(error_id), "{engine:?}: {message}");
        let text = body.to_string().to_lowercase();
        for leak in [
            "signatory\"",
            "sqlite",
            "postgres",
            "relation",
            "no such table",
            "select",
        ] {
            assert!(
                !text.contains(leak),
                "{engine:?}: database text leaked ({leak}): {body}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn every_error_has_a_code() {
    let app = spawn_app(engines()[0]).await;
    for query in [
        "{ node(id: \"nope\") { id } }",
        "{ services(first: 1, after: \"bad\") { totalCount } }",
        "{ services(filter: { nope: 1 }) { totalCount } }",
        "{ municipality(istatCode: \"12\") { name } }",
    ] {
        let body = app.query(query, json!({})).await;
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        assert!(!errors.is_empty(), "{query}: {body}");
        for error in errors {
            assert!(error["extensions"]["code"].is_string(), "{query}: {error}");
        }
    }
}

#[tokio::test]
async fn the_ide_is_served_from_the_api_without_any_cdn() {
    let app = spawn_app(engines()[0]).await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("GraphiQL"));
    let mut assets = 0;
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let url = part.split('"').next().unwrap_or_default();
            assert!(url.starts_with('/'), "asset not served locally: {url}");
            let asset = app
                .client
                .get(format!("{}{url}", app.address))
                .send()
                .await
                .expect("asset");
            assert_eq!(asset.status(), StatusCode::OK, "{url}");
            let text = asset.text().await.expect("asset body");
            assert!(
                !text.contains("unpkg.com") && !text.contains("cdn.jsdelivr"),
                "{url}"
            );
            assets += 1;
        }
    }
    assert!(
        assets >= 4,
        "the page loads its scripts and styles: {assets}"
    );
}

#[tokio::test]
async fn the_ide_can_be_turned_off() {
    let app = spawn_app_with(engines()[0], |s| s.graphiql = false).await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .expect("request");
    assert_ne!(page.status(), StatusCode::OK);
    let asset = app
        .client
        .get(format!("{}/graphiql/graphiql.min.js", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(asset.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_and_readiness_answer_and_requests_carry_an_id() {
    on_every_engine(async |engine, app| {
        let health = app
            .client
            .get(format!("{}/health", app.address))
            .send()
            .await
            .expect("health");
        assert_eq!(health.status(), StatusCode::OK);
        let ready = app
            .client
            .get(format!("{}/ready", app.address))
            .send()
            .await
            .expect("ready");
        assert_eq!(ready.status(), StatusCode::OK, "{engine:?}");
        let id = ready.headers().get("x-request-id").cloned();
        assert!(id.is_some_and(|v| !v.is_empty()), "{engine:?}");
    })
    .await;
}

/// The introspection query GraphiQL and other tools send (graphql-js `getIntrospectionQuery`).
const INTROSPECTION_QUERY: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

#[tokio::test]
async fn the_introspection_query_of_the_ide_passes_the_default_limits() {
    let app = spawn_app(engines()[0]).await;
    let body = app.query(INTROSPECTION_QUERY, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let types = body["data"]["__schema"]["types"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    assert!(types > 20, "{types} types");
}

#[tokio::test]
async fn requests_over_the_ip_limit_get_429_with_retry_after() {
    let app = spawn_app_with(engines()[0], |s| s.rate_limit_ip_per_minute = 2).await;
    let get = || app.client.get(format!("{}/health", app.address)).send();
    assert_eq!(get().await.expect("first").status(), StatusCode::OK);
    assert_eq!(get().await.expect("second").status(), StatusCode::OK);
    let refused = get().await.expect("third");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok());
    let seconds: u64 = retry_after.and_then(|v| v.parse().ok()).unwrap_or_default();
    assert!((1..=60).contains(&seconds), "Retry-After: {retry_after:?}");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(first_error_code(&body), "RATE_LIMITED");
}

#[tokio::test]
async fn each_client_has_its_own_bucket() {
    let app = spawn_app_with(engines()[0], |s| {
        s.rate_limit_ip_per_minute = 0;
        s.rate_limit_client_per_minute = 2;
    })
    .await;
    let (alice, bob) = (app.token(None, &[]), app.token(None, &[]));
    let viewer = "{ viewer { kind } }";
    for _ in 0..2 {
        assert_eq!(app.query_as(&alice, viewer, json!({})).await.0, 200);
    }
    let (status, body) = app.query_as(&alice, viewer, json!({})).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        app.query_as(&bob, viewer, json!({})).await.0,
        200,
        "another client is not limited"
    );
    assert_eq!(
        app.query(viewer, json!({})).await["data"]["viewer"]["kind"],
        "ANONYMOUS"
    );
}

#[tokio::test]
async fn the_token_endpoint_has_a_stricter_limit() {
    let app = spawn_app_with(engines()[0], |s| s.token_rate_limit_per_minute = 1).await;
    let post = || {
        app.client
            .post(format!("{}/oauth/token", app.address))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
    };
    assert_ne!(
        post().await.expect("first").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        post().await.expect("second").status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let graphql = app.query("{ viewer { kind } }", json!({})).await;
    assert_eq!(
        graphql["data"]["viewer"]["kind"], "ANONYMOUS",
        "other paths are not affected"
    );
}

#[tokio::test]
async fn the_fields_of_a_response_come_in_the_order_of_the_query() {
    on_every_engine(async |engine, app| {
        let query = "{ zeta: __typename alpha: __typename
                       services(first: 1) { totalCount nodes { name id } } }";
        for batch in [false, true] {
            let request = json!({ "query": query });
            let body = if batch {
                json!([request, request])
            } else {
                request
            };
            let text = app
                .client
                .post(format!("{}/graphql", app.address))
                .json(&body)
                .send()
                .await
                .expect("request")
                .text()
                .await
                .expect("body");
            let at = |key: &str| {
                text.find(&format!("\"{key}\""))
                    .unwrap_or_else(|| panic!("[{engine:?}] no {key} in {text}"))
            };
            assert!(at("zeta") < at("alpha"), "[{engine:?}] {text}");
            assert!(at("totalCount") < at("nodes"), "[{engine:?}] {text}");
            assert!(at("name") < at("id"), "[{engine:?}] {text}");
            let parsed: Value = serde_json::from_str(&text).expect("JSON");
            let first = if batch { &parsed[1] } else { &parsed };
            assert_eq!(first["data"]["zeta"], "Query", "[{engine:?}] {text}");
        }
    })
    .await;
}
