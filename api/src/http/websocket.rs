//! GraphQL over websocket at `GET /graphql/ws` (graphql-transport-ws, and the older
//! graphql-ws), authenticated by the `connection_init` payload
//! (`{"Authorization": "Bearer <JWT>"}`; none is anonymous).
//!
//! A socket lives no longer than its token: it is closed with **4401** (Unauthorized)
//! when the token expires (a timer at `exp` plus the clock leeway, and a check at the
//! start of every operation), and with **4403** (Forbidden) when its API client is
//! revoked or its organization is gone (checked at the start of every operation). A
//! `connection_init` whose token is refused is closed with 4403, as graphql-transport-ws
//! recommends. Every operation is charged to the caller's rate limit (the verified
//! subject, else the IP address); over it, the operation gets a RATE_LIMITED error and
//! the socket stays open. Every operation gets DataLoaders of its own, so no cache
//! outlives an operation.

use super::admission::{Refusal, identify, request_meta};
use super::transport_ws::{CLOSE_INIT_TIMEOUT, TransportRules};
use crate::auth::Viewer;
use crate::auth::standing::{self, Standing};
use crate::context::AppState;
use crate::rate_limit::Payer;
use crate::schema::MeltSchema;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseReason, ProtocolError, Session};
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::{Data, ErrorExtensions, Executor, Request, Response, ServerError};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// graphql-transport-ws: the token expired.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// graphql-transport-ws: the caller may no longer use the socket (revoked client, gone
/// organization, refused token at `connection_init`).
pub const CLOSE_FORBIDDEN: u16 = 4403;

/// The server is shutting down (RFC 6455 Going Away).
const CLOSE_GOING_AWAY: u16 = 1001;

/// How often the server pings, and how long a silent peer is kept.
const HEARTBEAT: Duration = Duration::from_secs(5);
const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server closes a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closing {
    /// The token expired.
    Expired,
    /// The API client was revoked, the organization is gone, or the token was refused.
    Forbidden,
    /// The caller could not be checked.
    Internal,
}

impl Closing {
    fn reason(self) -> CloseReason {
        let (code, description) = match self {
            Self::Expired => (CLOSE_UNAUTHORIZED, "Unauthorized: the access token expired"),
            Self::Forbidden => (CLOSE_FORBIDDEN, "Forbidden"),
            Self::Internal => (1011, "the caller could not be checked"),
        };
        CloseReason {
            code: code.into(),
            description: Some(description.to_owned()),
        }
    }
}

/// Who is on the socket, once `connection_init` was accepted.
#[derive(Clone, Debug, Default)]
struct Identity {
    viewer: Option<Viewer>,
    expires_at: Option<i64>,
    refused: Option<Closing>,
}

/// One socket: the caller and the way to close it.
struct Connection {
    state: Arc<AppState>,
    schema: MeltSchema,
    ip: Option<IpAddr>,
    identity: Mutex<Identity>,
    closing: mpsc::UnboundedSender<Closing>,
}

/// What to do with an operation.
enum Verdict {
    Run,
    Answer(Box<Response>),
    Close,
}

fn error_response(message: &str, code: &str, retry_after: Option<u64>) -> Response {
    let mut error = ServerError::new(message, None);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", code);
    if let Some(seconds) = retry_after {
        extensions.set("retryAfterSeconds", seconds);
    }
    Response::from_errors(vec![error])
}

impl Connection {
    fn identity(&self) -> Identity {
        self.identity
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_identity(&self, identity: Identity) {
        *self.identity.lock().unwrap_or_else(PoisonError::into_inner) = identity;
    }

    fn leeway(&self) -> i64 {
        i64::try_from(self.state.settings.auth_leeway_secs.min(60)).unwrap_or(60)
    }

    /// When the token stops being valid (`exp` plus the leeway), as an instant.
    fn deadline(&self) -> Option<Instant> {
        let expires_at = self.identity().expires_at?;
        let left = expires_at
            .saturating_add(self.leeway())
            .saturating_sub(chrono::Utc::now().timestamp());
        Some(Instant::now() + Duration::from_secs(u64::try_from(left).unwrap_or(0)))
    }

    fn close(&self, why: Closing) -> Verdict {
        // The receiver lives as long as the socket's loop; a failed send means it ended.
        let _ = self.closing.send(why);
        Verdict::Close
    }

    /// The checks at the start of every operation: the token has not expired, what it
    /// names still stands, and the caller is within its rate limit.
    async fn admit(&self) -> Verdict {
        let identity = self.identity();
        let viewer = identity.viewer.unwrap_or_else(Viewer::anonymous);
        if let Some(expires_at) = identity.expires_at
            && chrono::Utc::now().timestamp() >= expires_at.saturating_add(self.leeway())
        {
            return self.close(Closing::Expired);
        }
        match standing::check(&self.state.db, &viewer).await {
            Ok(Standing::Good) => {}
            Ok(Standing::Unknown | Standing::Revoked) => return self.close(Closing::Forbidden),
            Err(error) => {
                tracing::error!(error = ?error, "cannot check the caller of a websocket");
                return Verdict::Answer(Box::new(error_response(
                    "the caller could not be checked; try again later",
                    "INTERNAL_SERVER_ERROR",
                    None,
                )));
            }
        }
        let payer = if viewer.is_anonymous() {
            Payer::Address(self.ip)
        } else {
            Payer::Verified(&viewer.subject)
        };
        match self.state.limits.charge(payer, 1) {
            Ok(()) => Verdict::Run,
            Err(wait) => Verdict::Answer(Box::new(error_response(
                "too many requests; retry later",
                "RATE_LIMITED",
                Some(crate::rate_limit::retry_after_seconds(wait)),
            ))),
        }
    }

    /// `connection_init`: verifies the token and checks what it names.
    async fn init(&self, payload: serde_json::Value) -> async_graphql::Result<Data> {
        let header = payload
            .get("Authorization")
            .or_else(|| payload.get("authorization"))
            .map(serde_json::Value::as_str);
        match identify(&self.state, header).await {
            Ok(verified) => {
                let (viewer, expires_at) = match verified {
                    Some(v) => (v.viewer, Some(v.expires_at)),
                    None => (Viewer::anonymous(), None),
                };
                self.set_identity(Identity {
                    viewer: Some(viewer.clone()),
                    expires_at,
                    refused: None,
                });
                let mut data = Data::default();
                data.insert(viewer);
                Ok(data)
            }
            Err(refusal) => {
                let closing = if refusal == Refusal::Internal {
                    Closing::Internal
                } else {
                    Closing::Forbidden
                };
                self.set_identity(Identity {
                    refused: Some(closing),
                    ..Identity::default()
                });
                Err(
                    async_graphql::Error::new("the access token was not accepted")
                        .extend_with(|_, e| e.set("code", "UNAUTHENTICATED")),
                )
            }
        }
    }
}

/// Runs each operation of a socket after [`Connection::admit`], with loaders of its own.
#[derive(Clone)]
struct Gate(Arc<Connection>);

impl Executor for Gate {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let connection = self.0.clone();
        async move { connection.schema.execute(request).await }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let connection = self.0.clone();
        let stream = async move {
            match connection.admit().await {
                Verdict::Run => connection
                    .schema
                    .execute_stream_with_session_data(request, session_data.unwrap_or_default()),
                Verdict::Answer(response) => {
                    futures_util::stream::once(async { *response }).boxed()
                }
                // The socket is being closed: nothing more is sent for this operation.
                Verdict::Close => futures_util::stream::pending().boxed(),
            }
        };
        futures_util::stream::once(stream).flatten().boxed()
    }
}

/// The first protocol the client offers that the server speaks.
fn protocol_of(req: &HttpRequest) -> Option<WebSocketProtocols> {
    req.headers()
        .get("sec-websocket-protocol")
        .and_then(|value| value.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        })
}

/// GET /graphql/ws: upgrades to a websocket speaking graphql-transport-ws or graphql-ws.
pub async fn graphql_ws(
    state: web::Data<AppState>,
    schema: web::Data<MeltSchema>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let Some(protocol) = protocol_of(&req) else {
        return Ok(HttpResponse::BadRequest()
            .insert_header(("content-type", "application/json; charset=utf-8"))
            .body(
                serde_json::json!({ "errors": [{
                    "message": "offer the graphql-transport-ws (or graphql-ws) subprotocol",
                    "extensions": { "code": "BAD_REQUEST" }
                }] })
                .to_string(),
            ));
    };
    let (response, session, messages) =
        actix_ws::handle_with_protocols(&req, payload, &ALL_WEBSOCKET_PROTOCOLS)?;
    let (closing, closings) = mpsc::unbounded_channel();
    let connection = Arc::new(Connection {
        state: state.into_inner(),
        schema: schema.get_ref().clone(),
        ip: super::admission::peer_ip(&req),
        identity: Mutex::new(Identity::default()),
        closing,
    });
    let mut data = Data::default();
    data.insert(request_meta(&req));
    actix_web::rt::spawn(serve(
        connection, session, messages, protocol, data, closings,
    ));
    Ok(response)
}

/// Relays frames between the peer and the GraphQL protocol until either side closes, the
/// token expires, or an operation finds that the caller no longer stands.
async fn serve(
    connection: Arc<Connection>,
    mut session: Session,
    messages: actix_ws::MessageStream,
    protocol: WebSocketProtocols,
    data: Data,
    mut closings: mpsc::UnboundedReceiver<Closing>,
) {
    let max = connection.state.settings.max_body_bytes;
    let mut stopping = connection.state.stopping.clone();
    // graphql-transport-ws only: the older graphql-ws has rules of its own.
    let mut rules = (protocol == WebSocketProtocols::GraphQLWS).then(TransportRules::default);
    let init_timeout = Duration::from_secs(connection.state.settings.websocket_init_timeout_secs);
    let init_deadline = tokio::time::sleep(init_timeout);
    tokio::pin!(init_deadline);
    let mut incoming = messages
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);
    let (to_graphql, from_peer) = mpsc::unbounded_channel::<Vec<u8>>();
    let input = futures_util::stream::unfold(from_peer, |mut rx| async move {
        rx.recv().await.map(|message| (message, rx))
    });
    let on_init = {
        let connection = connection.clone();
        move |payload| async move { connection.init(payload).await }
    };
    let mut graphql = Box::pin(
        WebSocket::new(
            crate::runtime::AppExecutor::new(
                Gate(connection.clone()),
                connection.state.runtime.clone(),
            ),
            input,
            protocol,
        )
        .connection_data(data)
        .on_connection_init(on_init),
    );
    // Armed once `connection_init` is accepted with a token that expires.
    let mut expiry = Box::pin(tokio::time::sleep(Duration::ZERO));
    let mut armed = false;
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut heard = Instant::now();
    let ending = loop {
        tokio::select! {
            message = incoming.next() => {
                heard = Instant::now();
                let frame = match message {
                    Some(Ok(AggregatedMessage::Text(text))) => Some(text.into_bytes()),
                    Some(Ok(AggregatedMessage::Binary(bytes))) => Some(bytes),
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break Ending::Gone;
                        }
                        None
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => None,
                    // The close handshake: the peer's code is sent back.
                    Some(Ok(AggregatedMessage::Close(reason))) => break Ending::Close(reason),
                    Some(Err(error)) => break Ending::Close(Some(refused_frame(&error, max))),
                    None => break Ending::Gone,
                };
                if let Some(frame) = frame {
                    if let Some(Err(violation)) = rules.as_mut().map(|r| r.inbound(&frame)) {
                        break Ending::Close(Some(CloseReason {
                            code: violation.code.into(),
                            description: Some(violation.reason),
                        }));
                    }
                    if to_graphql.send(frame.to_vec()).is_err() {
                        break Ending::Gone;
                    }
                }
            }
            output = graphql.next() => match output {
                Some(WsMessage::Text(text)) => {
                    if let Some(rules) = rules.as_mut() {
                        rules.outbound(&text);
                    }
                    if session.text(text).await.is_err() {
                        break Ending::Gone;
                    }
                    if !armed && let Some(deadline) = connection.deadline() {
                        expiry.as_mut().reset(deadline);
                        armed = true;
                    }
                }
                Some(WsMessage::Close(code, description)) => {
                    // A refused `connection_init` closes with 4403, not the library's 1002.
                    break Ending::Close(Some(match connection.identity().refused {
                        Some(why) => why.reason(),
                        None => CloseReason { code: code.into(), description: Some(description) },
                    }));
                }
                // graphql-ws (the older protocol) ends the stream after a refused init.
                None => break Ending::Close(Some(connection.identity().refused.map_or(
                    CloseReason { code: actix_ws::CloseCode::Normal, description: None },
                    Closing::reason,
                ))),
            },
            Some(why) = closings.recv() => break Ending::Close(Some(why.reason())),
            () = &mut expiry, if armed => break Ending::Close(Some(Closing::Expired.reason())),
            () = &mut init_deadline, if rules.as_ref().is_some_and(|r| !r.initialising()) => {
                break Ending::Close(Some(CloseReason {
                    code: CLOSE_INIT_TIMEOUT.into(),
                    description: Some("Connection initialisation timeout".to_owned()),
                }));
            }
            Ok(_) = stopping.wait_for(|stopping| *stopping) => {
                break Ending::Close(Some(CloseReason {
                    code: CLOSE_GOING_AWAY.into(),
                    description: Some("the server is shutting down; reconnect".to_owned()),
                }));
            }
            _ = heartbeat.tick() => {
                if heard.elapsed() > PEER_TIMEOUT {
                    break Ending::Close(Some(CloseReason {
                        code: actix_ws::CloseCode::Away,
                        description: Some("no answer to pings".to_owned()),
                    }));
                }
                if session.ping(b"").await.is_err() {
                    break Ending::Gone;
                }
            }
        }
    };
    if let Ending::Close(Some(reason)) = &ending {
        tracing::debug!(code = ?reason.code, "websocket closed");
    }
    if let Ending::Close(reason) = ending {
        // The peer may be gone meanwhile; there is nobody left to tell.
        let _ = session.close(reason).await;
    }
}

/// The Close frame for a frame the peer may not send: 1009 over the size limit (a frame,
/// or a message in continuations, which actix-ws reports as an I/O error "Exceeded
/// maximum continuation size"), 1007 for text that is not UTF-8, 1002 for the rest.
fn refused_frame(error: &ProtocolError, max: usize) -> CloseReason {
    let too_big = match error {
        ProtocolError::Overflow => true,
        ProtocolError::Io(io) => io.to_string().contains("maximum continuation size"),
        _ => false,
    };
    let (code, description) = if too_big {
        (
            actix_ws::CloseCode::Size,
            format!("a message may have at most {max} bytes"),
        )
    } else if matches!(error, ProtocolError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData)
    {
        (
            actix_ws::CloseCode::Invalid,
            "a text message must be UTF-8".to_owned(),
        )
    } else {
        (
            actix_ws::CloseCode::Protocol,
            error.to_string().chars().take(100).collect(),
        )
    };
    CloseReason {
        code,
        description: Some(description),
    }
}

/// How a socket ends.
enum Ending {
    /// With a Close frame (the server's, or the peer's code sent back).
    Close(Option<CloseReason>),
    /// The connection is gone: nothing can be sent.
    Gone,
}
