//! The websocket ends as graphql-transport-ws and RFC 6455 say: every close is a close
//! handshake (a Close frame with a code, never a dropped connection, which a client
//! sees as 1006), with the protocol's codes: 4400 for an invalid message, 4401 for a
//! subscription before the connection is acknowledged, 4408 when no `connection_init`
//! comes in time, 4409 for a subscription id already in use, 4429 for a second
//! `connection_init`, 1009 for a message over the body limit, and the peer's own code
//! echoed when the peer closes.

use super::websocket::{Socket, connect, next_json, send};
use futures_util::{SinkExt, StreamExt};
use melt_tests::{TestApp, engines, spawn_app_with};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// How the server ended the socket: the code of its Close frame, or the error the client
/// saw when the connection ended without one. Gives up after 20 s (a socket never closed
/// fails the test instead of hanging it).
async fn ending(socket: &mut Socket) -> Result<u16, String> {
    let wait = async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(Some(frame))) => return Ok(u16::from(frame.code)),
                Ok(Message::Close(None)) => return Err("a Close frame without a code".to_owned()),
                Ok(_) => continue,
                Err(error) => return Err(format!("no close handshake: {error}")),
            }
        }
        Err("the connection ended without a Close frame".to_owned())
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| Err("the server never closed the socket".to_owned()))
}

async fn app() -> Vec<TestApp> {
    let mut apps = Vec::new();
    for engine in engines() {
        apps.push(
            spawn_app_with(engine, |s| {
                s.websocket_init_timeout_secs = 1;
                s.max_body_bytes = 64 * 1024;
            })
            .await,
        );
    }
    apps
}

async fn acknowledged(app: &TestApp) -> Socket {
    let mut socket = connect(app).await;
    send(&mut socket, json!({ "type": "connection_init" })).await;
    let ack = next_json(&mut socket).await.unwrap_or_default();
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}

#[tokio::test]
async fn a_socket_the_client_closes_gets_the_clients_code_back_in_a_close_frame() {
    for app in app().await {
        let mut socket = acknowledged(&app).await;
        socket
            .close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "done".into(),
            }))
            .await
            .expect("close");
        assert_eq!(ending(&mut socket).await, Ok(1000), "[{:?}]", app.engine);
    }
}

#[tokio::test]
async fn an_invalid_message_closes_the_socket_with_4400() {
    for app in app().await {
        for invalid in ["not json", r#"{"type":"no_such_type"}"#, r#"[1,2]"#] {
            let mut socket = acknowledged(&app).await;
            socket
                .send(Message::Text(invalid.into()))
                .await
                .expect("send");
            assert_eq!(
                ending(&mut socket).await,
                Ok(4400),
                "[{:?}] {invalid}",
                app.engine
            );
        }
    }
}

#[tokio::test]
async fn a_subscription_before_the_acknowledgement_closes_the_socket_with_4401() {
    for app in app().await {
        let mut socket = connect(&app).await;
        send(
            &mut socket,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ viewer { kind } }" } }),
        )
        .await;
        assert_eq!(ending(&mut socket).await, Ok(4401), "[{:?}]", app.engine);
    }
}

#[tokio::test]
async fn a_socket_without_connection_init_in_time_is_closed_with_4408() {
    for app in app().await {
        let mut socket = connect(&app).await;
        assert_eq!(ending(&mut socket).await, Ok(4408), "[{:?}]", app.engine);
    }
}

#[tokio::test]
async fn a_second_connection_init_closes_the_socket_with_4429() {
    for app in app().await {
        let mut socket = acknowledged(&app).await;
        send(&mut socket, json!({ "type": "connection_init" })).await;
        assert_eq!(ending(&mut socket).await, Ok(4429), "[{:?}]", app.engine);
    }
}

#[tokio::test]
async fn a_subscription_id_already_in_use_closes_the_socket_with_4409() {
    for app in app().await {
        let mut socket = acknowledged(&app).await;
        let live = json!({ "id": "same", "type": "subscribe",
            "payload": { "query": "subscription { serviceChanged { event { type } } }" } });
        send(&mut socket, live.clone()).await;
        send(&mut socket, live).await;
        assert_eq!(ending(&mut socket).await, Ok(4409), "[{:?}]", app.engine);
    }
}

#[tokio::test]
async fn a_subscription_id_may_be_used_again_once_its_operation_completed() {
    for app in app().await {
        let mut socket = acknowledged(&app).await;
        for _ in 0..2 {
            send(
                &mut socket,
                json!({ "id": "again", "type": "subscribe",
                    "payload": { "query": "{ viewer { kind } }" } }),
            )
            .await;
            let mut completed = false;
            while let Some(message) = next_json(&mut socket).await {
                if message["type"] == "complete" && message["id"] == "again" {
                    completed = true;
                    break;
                }
            }
            assert!(
                completed,
                "[{:?}] the operation did not complete",
                app.engine
            );
        }
        socket.close(None).await.expect("close");
    }
}

#[tokio::test]
async fn a_message_over_the_body_limit_closes_the_socket_with_1009() {
    for app in app().await {
        let mut socket = acknowledged(&app).await;
        let query = format!("{{ viewer {{ kind }} }} #{}", "x".repeat(128 * 1024));
        send(
            &mut socket,
            json!({ "id": "big", "type": "subscribe", "payload": { "query": query } }),
        )
        .await;
        assert_eq!(ending(&mut socket).await, Ok(1009), "[{:?}]", app.engine);
    }
}
