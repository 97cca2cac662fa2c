//! GraphQL over websocket: the token travels in the `connection_init` payload.

use futures_util::{SinkExt, StreamExt};
use melt_tests::{Role, TestApp, engines, spawn_app};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Socket {
    let url = app.address.replace("http://", "ws://") + "/graphql/ws";
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
async fn next_json(socket: &mut Socket) -> Option<Value> {
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Text(text)) => return serde_json::from_str(text.as_str()).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
    None
}

async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .expect("send");
}

#[tokio::test]
async fn a_websocket_authenticated_in_connection_init_runs_as_the_caller() {
    for engine in engines() {
        let app = spawn_app(engine).await;
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
    }
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
