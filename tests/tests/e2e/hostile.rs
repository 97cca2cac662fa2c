//! Hostile requests are refused quickly, with a code, and the server keeps answering:
//! fragment bombs and cycles, introspection alias bombs, oversized bodies and headers,
//! empty batches; and nothing sent to an authenticated caller is cached.

use futures_util::{SinkExt, StreamExt};
use melt_tests::{
    Role, TestApp, engines, first_error_code, on_every_engine, spawn_app, spawn_app_with,
};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// `query { ...F0 }` where each of `levels` fragments spreads the next twice: it
/// expands to 2^levels selections of `__typename`.
pub(crate) fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("query { ...F0 }");
    for level in 0..levels {
        let next = level + 1;
        query.push_str(&format!(
            " fragment F{level} on Query {{ ...F{next} ...F{next} }}"
        ));
    }
    query.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
    query
}

/// A thousand aliases of the schema's types, their fields and their arguments.
fn introspection_alias_bomb() -> String {
    let aliases: String = (0..1_000)
        .map(|i| format!("a{i}: __schema {{ types {{ fields {{ args {{ name }} }} }} }} "))
        .collect();
    format!("{{ {aliases}}}")
}

/// POSTs a raw JSON body, with a bearer token when given.
async fn post(app: &TestApp, token: Option<&str>, body: String) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request")
}

async fn health(app: &TestApp) -> StatusCode {
    app.client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .expect("health")
        .status()
}

#[tokio::test]
async fn a_fragment_bomb_is_refused_with_a_code_and_health_still_answers() {
    let bomb = fragment_bomb(24);
    assert!(bomb.len() < 1_100, "the bomb is about 1 KB");
    on_every_engine(async |engine, app| {
        let body = app.query(&bomb, json!({})).await;
        assert_eq!(first_error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
        assert!(body["data"].is_null(), "{body}");

        let response = app
            .client
            .get(format!("{}/graphql", app.address))
            .query(&[("query", bomb.as_str())])
            .send()
            .await
            .expect("request");
        let body: Value = response.json().await.expect("json");
        assert_eq!(first_error_code(&body), "QUERY_TOO_COMPLEX", "GET: {body}");

        let batch = json!([{ "query": bomb }, { "query": "{ __typename }" }]);
        let response = post(&app, None, batch.to_string()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let bodies: Value = response.json().await.expect("json");
        assert_eq!(
            first_error_code(&bodies[0]),
            "QUERY_TOO_COMPLEX",
            "{bodies}"
        );
        assert_eq!(bodies[1]["data"]["__typename"], "Query", "{bodies}");

        assert_eq!(health(&app).await, StatusCode::OK, "{engine:?}");
    })
    .await;
}

#[tokio::test]
async fn a_fragment_bomb_over_a_websocket_is_refused_with_a_code() {
    let app = spawn_app(engines()[0]).await;
    let url = app.address.replace("http://", "ws://") + "/graphql/ws";
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let mut send = async |value: Value| {
        socket
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("send");
    };
    send(json!({ "type": "connection_init", "payload": {} })).await;
    let query = fragment_bomb(24);
    send(json!({ "id": "1", "type": "subscribe", "payload": { "query": query } })).await;
    let mut answers = Vec::new();
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message {
            let answer: Value = serde_json::from_str(text.as_str()).expect("json");
            if answer["id"] == "1" {
                answers.push(answer);
                break;
            }
        }
    }
    let answer = answers.pop().unwrap_or_default();
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX",
        "{answer}"
    );
    assert_eq!(health(&app).await, StatusCode::OK);
}

#[tokio::test]
async fn a_fragment_cycle_is_refused_with_a_code() {
    let cycle = "query { ...A } fragment A on Query { __typename ...B ...B } \
                 fragment B on Query { __typename ...A ...A }";
    on_every_engine(async |engine, app| {
        let body = app.query(cycle, json!({})).await;
        assert_eq!(
            first_error_code(&body),
            "GRAPHQL_VALIDATION_FAILED",
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("within itself"), "{body}");
        assert_eq!(health(&app).await, StatusCode::OK, "{engine:?}");
    })
    .await;
}

#[tokio::test]
async fn an_introspection_alias_bomb_is_refused_with_a_code() {
    let bomb = introspection_alias_bomb();
    on_every_engine(async |_, app| {
        let body = app.query(&bomb, json!({})).await;
        assert_eq!(first_error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
        assert!(body["data"].is_null(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn with_introspection_off_the_schema_is_refused() {
    for engine in engines() {
        let app = spawn_app_with(engine, |s| s.introspection = false).await;
        for query in [
            "{ __schema { queryType { name } } }",
            "{ __type(name: \"Query\") { name } }",
        ] {
            let body = app.query(query, json!({})).await;
            assert_eq!(
                first_error_code(&body),
                "INTROSPECTION_DISABLED",
                "{query}: {body}"
            );
        }
        let typename = app.data("{ __typename }", json!({})).await;
        assert_eq!(typename["__typename"], "Query");
    }
}

#[tokio::test]
async fn with_suggestions_off_an_unknown_field_gets_no_did_you_mean() {
    let misspelt = "{ servics { nodes { name } } }";
    let message = |body: &Value| {
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for engine in engines() {
        let on = spawn_app(engine).await;
        let body = on.query(misspelt, json!({})).await;
        assert!(message(&body).contains("Did you mean"), "{body}");

        let off = spawn_app_with(engine, |s| s.field_suggestions = false).await;
        let body = off.query(misspelt, json!({})).await;
        assert_eq!(
            first_error_code(&body),
            "GRAPHQL_VALIDATION_FAILED",
            "{body}"
        );
        assert!(message(&body).contains("servics"), "{body}");
        assert!(!message(&body).contains("Did you mean"), "{body}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_json_with_a_code() {
    for engine in engines() {
        let app = spawn_app_with(engine, |s| s.max_body_bytes = 1_024).await;
        let padding = "x".repeat(2_048);
        let body = json!({ "query": format!("{{ __typename }} # {padding}") });
        let response = post(&app, None, body.to_string()).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(first_error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
        assert_eq!(health(&app).await, StatusCode::OK, "{engine:?}");
    }
}

#[tokio::test]
async fn headers_over_the_limit_are_431_in_json_with_a_code() {
    let app = spawn_app_with(engines()[0], |s| s.max_header_bytes = 4_096).await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("x-padding", "x".repeat(8_192))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(first_error_code(&body), "HEADERS_TOO_LARGE", "{body}");
    // Within the limit, the same request runs.
    let body = app.data("{ __typename }", json!({})).await;
    assert_eq!(body["__typename"], "Query");
}

#[tokio::test]
async fn an_empty_batch_is_400_with_a_code() {
    on_every_engine(async |engine, app| {
        let response = post(&app, None, "[]".to_owned()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{engine:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(first_error_code(&body), "BAD_REQUEST", "{body}");
    })
    .await;
}

#[tokio::test]
async fn responses_to_an_authenticated_caller_are_not_stored() {
    on_every_engine(async |engine, app| {
        let token = app.token(None, &[Role::RegionalAdmin]);
        let body = json!({ "query": "{ viewer { kind } }" }).to_string();
        let response = post(&app, Some(&token), body.clone()).await;
        assert_eq!(response.status(), StatusCode::OK, "{engine:?}");
        assert_eq!(
            response.headers().get(CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"no-store"[..]),
            "{engine:?}"
        );
        let viewer: Value = response.json().await.expect("json");
        assert_eq!(viewer["data"]["viewer"]["kind"], "USER", "{viewer}");
        // A bad token's 401 is not stored either, nor an anonymous GraphQL answer.
        let refused = post(&app, Some("not-a-token"), body.clone()).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            refused.headers().get(CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
        let anonymous = post(&app, None, body).await;
        assert_eq!(
            anonymous.headers().get(CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
    })
    .await;
}
