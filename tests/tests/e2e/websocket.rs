//! GraphQL over websocket: the token travels in the `connection_init` payload; the
//! socket closes when the token expires (4401) or its client is revoked (4403); every
//! operation is charged to the caller's rate limit and gets loaders of its own.

use futures_util::{SinkExt, StreamExt};
use melt_api::auth::token::TokenRequest;
use melt_api::auth::viewer::ViewerKind;
use melt_api::graphql::relay::{NodeKind, to_global_id};
use melt_tests::{Role, TestApp, engines, on_every_engine, spawn_app, spawn_app_with};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(app: &TestApp) -> Socket {
    connect_to(&app.address).await
}

/// A socket to the server at `address` (`http://...`).
pub(crate) async fn connect_to(address: &str) -> Socket {
    let url = address.replace("http://", "ws://") + "/graphql/ws";
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .expect("connect")
        .0
}

/// The next JSON message, or None when the server closed the connection.
pub(crate) async fn next_json(socket: &mut Socket) -> Option<Value> {
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Text(text)) => return serde_json::from_str(text.as_str()).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
    None
}

pub(crate) async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .expect("send");
}

#[tokio::test]
async fn a_websocket_authenticated_in_connection_init_runs_as_the_caller() {
    on_every_engine(async |engine, app| {
        let token = app.token(Some(app.organization_id("Forium").await), &[Role::OrgAdmin]);
        let mut socket = connect(&app).await;
        let init = json!({ "Authorization": format!("Bearer {token}") });
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": init }),
        )
        .await;
        let ack = next_json(&mut socket).await;
        assert_eq!(
            ack.as_ref().map(|a| a["type"].clone()),
            Some(json!("connection_ack")),
            "{engine:?}"
        );
        let query = "{ viewer { kind roles organization { name } } }";
        send(
            &mut socket,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
        )
        .await;
        let result = next_json(&mut socket).await.unwrap_or_default();
        assert_eq!(result["type"], "next", "{engine:?}: {result}");
        assert_eq!(result["payload"]["data"]["viewer"]["kind"], "USER");
        assert_eq!(
            result["payload"]["data"]["viewer"]["organization"]["name"],
            "Forium"
        );
    })
    .await;
}

#[tokio::test]
async fn a_websocket_with_a_bad_token_is_refused() {
    let app = spawn_app(engines()[0]).await;
    let mut socket = connect(&app).await;
    let init = json!({ "Authorization": "Bearer not-a-token" });
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": init }),
    )
    .await;
    let answer = next_json(&mut socket).await;
    assert!(
        answer
            .as_ref()
            .is_none_or(|a| a["type"] != "connection_ack"),
        "the connection must not be acknowledged: {answer:?}"
    );
}

#[tokio::test]
async fn a_websocket_without_a_token_is_anonymous() {
    let app = spawn_app(engines()[0]).await;
    let mut socket = connect(&app).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    let ack = next_json(&mut socket).await.unwrap_or_default();
    assert_eq!(ack["type"], "connection_ack");
    let query = "{ viewer { kind } }";
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    let result = next_json(&mut socket).await.unwrap_or_default();
    assert_eq!(
        result["payload"]["data"]["viewer"]["kind"], "ANONYMOUS",
        "{result}"
    );
}

/// The `next` payload of operation `id` (skipping `complete` messages), or None when the
/// server closed the socket first.
async fn result_of(socket: &mut Socket, id: &str) -> Option<Value> {
    while let Some(message) = next_json(socket).await {
        if message["type"] == "next" && message["id"] == id {
            return Some(message["payload"].clone());
        }
    }
    None
}

/// The close code the server ends the socket with (waits at most 20 s, so that a
/// socket that is never closed fails the test instead of hanging it).
async fn close_code(socket: &mut Socket) -> Option<u16> {
    let wait = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), wait)
        .await
        .ok()
        .flatten()
}

/// Opens a socket and sends `connection_init` with the token (none: anonymous).
async fn open(app: &TestApp, token: Option<&str>) -> Socket {
    let mut socket = connect(app).await;
    let payload = token.map_or_else(
        || json!({}),
        |t| json!({ "Authorization": format!("Bearer {t}") }),
    );
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    socket
}

async fn acknowledged(app: &TestApp, token: &str) -> Socket {
    let mut socket = open(app, Some(token)).await;
    let ack = next_json(&mut socket).await.unwrap_or_default();
    assert_eq!(ack["type"], "connection_ack", "[{:?}] {ack}", app.engine);
    socket
}

async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
}

const VIEWER_KIND: &str = "{ viewer { kind } }";

#[tokio::test]
async fn a_socket_is_closed_with_4401_when_its_token_expires() {
    for engine in engines() {
        let app = spawn_app_with(engine, |s| s.auth_leeway_secs = 0).await;
        let org = app.organization_id("Forium").await;
        let token = app.token_with(TokenRequest {
            subject: "short-lived".into(),
            kind: ViewerKind::User,
            organization: Some(org),
            roles: vec![Role::OrgAdmin],
            scopes: vec![],
            name: None,
            ttl: std::time::Duration::from_secs(2),
        });
        let mut socket = acknowledged(&app, &token).await;
        subscribe(&mut socket, "1", VIEWER_KIND, json!({})).await;
        let result = result_of(&mut socket, "1").await.unwrap_or_default();
        assert_eq!(
            result["data"]["viewer"]["kind"], "USER",
            "[{engine:?}] {result}"
        );
        assert_eq!(close_code(&mut socket).await, Some(4401), "[{engine:?}]");
    }
}

const CREATE_CLIENT: &str = "mutation($input: CreateApiClientInput!) {
  createApiClient(input: $input) { apiClient { id rowVersion } clientSecret }
}";
const REVOKE_CLIENT: &str = "mutation($input: RevokeApiClientInput!) {
  revokeApiClient(input: $input) { apiClient { revokedAt } }
}";

#[tokio::test]
async fn a_revoked_clients_socket_is_closed_with_4403_before_its_next_operation() {
    on_every_engine(async |engine, app| {
        let org = app.organization_id("Forium").await;
        let admin = app.token(Some(org), &[Role::OrgAdmin]);
        let org_gid = to_global_id(NodeKind::Organization, org).to_string();
        let input = json!({ "organization": org_gid, "name": "SIL", "scopes": ["services:write"] });
        let (_, body) = app
            .query_as(&admin, CREATE_CLIENT, json!({ "input": input }))
            .await;
        let created = &body["data"]["createApiClient"];
        let id = created["apiClient"]["id"].as_str().unwrap_or_default();
        let secret = created["clientSecret"].as_str().unwrap_or_default();
        let issued: Value = app
            .client
            .post(format!("{}/oauth/token", app.address))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("json");
        let token = issued["access_token"].as_str().unwrap_or_default();

        let mut socket = acknowledged(&app, token).await;
        subscribe(&mut socket, "1", VIEWER_KIND, json!({})).await;
        let result = result_of(&mut socket, "1").await.unwrap_or_default();
        assert_eq!(
            result["data"]["viewer"]["kind"], "CLIENT",
            "[{engine:?}] {result}"
        );

        let (_, body) = app
            .query_as(
                &admin,
                REVOKE_CLIENT,
                json!({ "input": { "id": id, "expectedVersion": created["apiClient"]["rowVersion"] } }),
            )
            .await;
        assert!(body["data"]["revokeApiClient"]["apiClient"]["revokedAt"].is_string());
        let mutation = "mutation($input: CreateServiceInput!) { createService(input: $input) { userErrors { message } } }";
        subscribe(&mut socket, "2", mutation, json!({ "input": {} })).await;
        assert_eq!(close_code(&mut socket).await, Some(4403), "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn a_socket_whose_token_names_an_unknown_organization_is_closed_with_4403() {
    on_every_engine(async |engine, app| {
        let ghost = app.token(Some(uuid::Uuid::now_v7()), &[Role::OrgAdmin]);
        let mut socket = open(&app, Some(&ghost)).await;
        assert_eq!(close_code(&mut socket).await, Some(4403), "[{engine:?}]");
        let mut socket = open(&app, Some("not-a-token")).await;
        assert_eq!(close_code(&mut socket).await, Some(4403), "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn websocket_operations_count_against_the_callers_limit() {
    for engine in engines() {
        let app = spawn_app_with(engine, |s| {
            s.rate_limit_ip_per_minute = 0;
            s.rate_limit_client_per_minute = 2;
        })
        .await;
        let token = app.token(None, &[Role::Auditor]);
        let mut socket = acknowledged(&app, &token).await;
        for id in ["1", "2"] {
            subscribe(&mut socket, id, VIEWER_KIND, json!({})).await;
            let result = result_of(&mut socket, id).await.unwrap_or_default();
            assert_eq!(
                result["data"]["viewer"]["kind"], "USER",
                "[{engine:?}] {result}"
            );
        }
        subscribe(&mut socket, "3", VIEWER_KIND, json!({})).await;
        let limited = result_of(&mut socket, "3").await.unwrap_or_default();
        assert_eq!(
            limited["errors"][0]["extensions"]["code"], "RATE_LIMITED",
            "[{engine:?}] {limited}"
        );
        let (status, _) = app.query_as(&token, VIEWER_KIND, json!({})).await;
        assert_eq!(
            status, 429,
            "[{engine:?}] one bucket for HTTP and the socket"
        );
        // The socket stays open: a refused operation is an answer, not a close.
        send(&mut socket, json!({ "type": "ping" })).await;
        let mut pong = None;
        while let Some(message) = next_json(&mut socket).await {
            if message["type"] == "pong" {
                pong = Some(message);
                break;
            }
        }
        assert!(pong.is_some(), "[{engine:?}] the socket was closed");
    }
}

#[tokio::test]
async fn loader_caches_do_not_cross_websocket_operations() {
    on_every_engine(async |engine, app| {
        let org = app.organization_id("Forium").await;
        let id = to_global_id(NodeKind::Organization, org).to_string();
        let token = app.token(Some(org), &[Role::OrgAdmin]);
        let mut socket = acknowledged(&app, &token).await;
        let node = "query($id: ID!) { node(id: $id) { ... on Organization { name } } }";
        subscribe(&mut socket, "1", node, json!({ "id": id })).await;
        let before = result_of(&mut socket, "1").await.unwrap_or_default();
        assert_eq!(
            before["data"]["node"]["name"], "Forium",
            "[{engine:?}] {before}"
        );
        app.db
            .execute_unprepared("UPDATE organization SET name = 'Renamed between operations'")
            .await
            .expect("rename");
        subscribe(&mut socket, "2", node, json!({ "id": id })).await;
        let after = result_of(&mut socket, "2").await.unwrap_or_default();
        assert_eq!(
            after["data"]["node"]["name"], "Renamed between operations",
            "[{engine:?}] {after}"
        );
    })
    .await;
}

/// The errors answered to operation `id`: the payload of an `error` message, or the
/// `errors` of its `next` payload (None when the server closed the socket first).
async fn errors_of(socket: &mut Socket, id: &str) -> Option<Value> {
    while let Some(message) = next_json(socket).await {
        if message["id"] != id {
            continue;
        }
        match message["type"].as_str() {
            Some("error") => return Some(message["payload"].clone()),
            Some("next") => return Some(message["payload"]["errors"].clone()),
            _ => continue,
        }
    }
    None
}

#[tokio::test]
async fn an_operation_over_a_socket_passes_the_same_gate_as_over_http() {
    let app = spawn_app(engines()[0]).await;
    let mut socket = open(&app, None).await;
    let ack = next_json(&mut socket).await.unwrap_or_default();
    assert_eq!(ack["type"], "connection_ack", "{ack}");

    // A fragment bomb: 2^24 fields once expanded, a few hundred bytes as written.
    let bomb = crate::hostile::fragment_bomb(24);
    let hostile_text = "{ services(first: 1, filter: {search: \"a\\u0007b\"}) { totalCount } }";
    let cases = [
        ("bomb", bomb.as_str(), json!({}), "QUERY_TOO_COMPLEX"),
        ("inline", hostile_text, json!({}), "BAD_USER_INPUT"),
        (
            "variable",
            "query($q: String) { services(first: 1, filter: {search: $q}) { totalCount } }",
            json!({ "q": "a\u{1b}[31mb" }),
            "BAD_USER_INPUT",
        ),
    ];
    for (id, query, variables, code) in cases {
        subscribe(&mut socket, id, query, variables).await;
        let errors = errors_of(&mut socket, id).await.unwrap_or_default();
        assert_eq!(errors[0]["extensions"]["code"], code, "{id}: {errors}");
    }
    // The socket still serves a well-formed operation after the refusals.
    subscribe(&mut socket, "fine", VIEWER_KIND, json!({})).await;
    let result = result_of(&mut socket, "fine").await.unwrap_or_default();
    assert_eq!(result["data"]["viewer"]["kind"], "ANONYMOUS", "{result}");
}
