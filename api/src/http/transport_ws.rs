//! The rules of graphql-transport-ws that async-graphql's protocol handler does not
//! enforce, checked on each frame before it reaches the handler: an invalid message
//! closes with 4400 (the handler closes with 1002), a `subscribe` before
//! `connection_init` with 4401 (the handler: 1011), a `subscribe` whose id is in use
//! with 4409 (the handler replaces the running operation). The handler itself closes a
//! second `connection_init` with 4429; the socket closes with 4408 when no
//! `connection_init` comes in time (see [`super::websocket`]).
//!
//! The protocol: <https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>.

use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;

/// graphql-transport-ws: a message the server cannot understand.
pub const CLOSE_INVALID_MESSAGE: u16 = 4400;
/// graphql-transport-ws: a `subscribe` before the connection was initialised.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// graphql-transport-ws: no `connection_init` in time.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// graphql-transport-ws: a `subscribe` with the id of a running operation.
pub const CLOSE_SUBSCRIBER_EXISTS: u16 = 4409;

/// Longest operation id accepted (an id is the client's own label for an operation).
const MAX_ID_CHARS: usize = 256;

/// Why the socket must close: a code of the protocol and its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The close code.
    pub code: u16,
    /// The close reason (at most 123 bytes, as a Close frame allows).
    pub reason: String,
}

impl Violation {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > 123 {
            let mut end = 123;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Self { code, reason }
    }

    fn invalid(what: &str) -> Self {
        Self::new(
            CLOSE_INVALID_MESSAGE,
            format!("Invalid message received: {what}"),
        )
    }
}

/// The head of a message from the server: its type and operation id.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

/// The state of one socket as far as the rules need it.
#[derive(Debug, Default)]
pub struct TransportRules {
    initialising: bool,
    running: HashSet<String>,
}

impl TransportRules {
    /// True once the client sent `connection_init` (its outcome is the handler's).
    pub fn initialising(&self) -> bool {
        self.initialising
    }

    /// Checks a message from the client; an error closes the socket.
    pub fn inbound(&mut self, message: &[u8]) -> Result<(), Violation> {
        let value: Value =
            serde_json::from_slice(message).map_err(|_| Violation::invalid("not JSON"))?;
        let Some(object) = value.as_object() else {
            return Err(Violation::invalid("not a JSON object"));
        };
        let id = || match object.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() && id.chars().count() <= MAX_ID_CHARS => Ok(id.to_owned()),
            _ => Err(Violation::invalid(
                "`id` must be a string of 1 to 256 characters",
            )),
        };
        let payload_is_object_or_absent = || {
            object
                .get("payload")
                .is_none_or(|p| p.is_object() || p.is_null())
        };
        match object.get("type").and_then(Value::as_str) {
            Some("connection_init") => {
                if !payload_is_object_or_absent() {
                    return Err(Violation::invalid("`payload` must be an object"));
                }
                self.initialising = true;
                Ok(())
            }
            Some("ping" | "pong") => {
                if payload_is_object_or_absent() {
                    Ok(())
                } else {
                    Err(Violation::invalid("`payload` must be an object"))
                }
            }
            Some("subscribe") => {
                let id = id()?;
                let query = object
                    .get("payload")
                    .and_then(|p| p.get("query"))
                    .and_then(Value::as_str);
                if query.is_none() {
                    return Err(Violation::invalid("`payload.query` must be a string"));
                }
                if !self.initialising {
                    return Err(Violation::new(CLOSE_UNAUTHORIZED, "Unauthorized"));
                }
                if !self.running.insert(id.clone()) {
                    return Err(Violation::new(
                        CLOSE_SUBSCRIBER_EXISTS,
                        format!("Subscriber for {id} already exists"),
                    ));
                }
                Ok(())
            }
            Some("complete") => {
                self.running.remove(&id()?);
                Ok(())
            }
            Some(_) => Err(Violation::invalid("unknown `type`")),
            None => Err(Violation::invalid("`type` must be a string")),
        }
    }

    /// Follows a message of the server: `complete` and `error` end an operation, whose
    /// id may then be used again.
    pub fn outbound(&mut self, message: &str) {
        if self.running.is_empty() || message.starts_with(r#"{"type":"next""#) {
            return;
        }
        if let Ok(Head { kind, id: Some(id) }) = serde_json::from_str::<Head>(message)
            && (kind == "complete" || kind == "error")
        {
            self.running.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(rules: &mut TransportRules, message: &str) -> Option<u16> {
        rules.inbound(message.as_bytes()).err().map(|v| v.code)
    }

    #[test]
    fn messages_that_are_not_protocol_messages_are_invalid() {
        for message in [
            "not json",
            "[1]",
            r#"{"type":1}"#,
            r#"{"type":"start","id":"1"}"#,
            r#"{"type":"connection_init","payload":"token"}"#,
            r#"{"type":"subscribe","id":"","payload":{"query":"{ a }"}}"#,
            r#"{"type":"subscribe","id":"1","payload":{}}"#,
        ] {
            let mut rules = TransportRules {
                initialising: true,
                ..TransportRules::default()
            };
            assert_eq!(code(&mut rules, message), Some(4400), "{message}");
        }
    }

    #[test]
    fn a_subscription_before_connection_init_is_unauthorized() {
        let mut rules = TransportRules::default();
        let subscribe = r#"{"type":"subscribe","id":"1","payload":{"query":"{ a }"}}"#;
        assert_eq!(code(&mut rules, subscribe), Some(4401));
        assert_eq!(code(&mut rules, r#"{"type":"connection_init"}"#), None);
        assert_eq!(code(&mut rules, subscribe), None);
    }

    #[test]
    fn an_id_is_in_use_until_its_operation_completes_or_fails() {
        let mut rules = TransportRules::default();
        let subscribe = r#"{"type":"subscribe","id":"a","payload":{"query":"{ a }"}}"#;
        assert_eq!(code(&mut rules, r#"{"type":"connection_init"}"#), None);
        assert_eq!(code(&mut rules, subscribe), None);
        assert_eq!(code(&mut rules, subscribe), Some(4409));
        rules.outbound(r#"{"type":"next","id":"a","payload":{}}"#);
        assert_eq!(code(&mut rules, subscribe), Some(4409));
        rules.outbound(r#"{"type":"complete","id":"a"}"#);
        assert_eq!(code(&mut rules, subscribe), None);
        rules.outbound(r#"{"type":"error","id":"a","payload":[]}"#);
        assert_eq!(code(&mut rules, subscribe), None);
        assert_eq!(code(&mut rules, r#"{"type":"complete","id":"a"}"#), None);
        assert_eq!(code(&mut rules, subscribe), None);
    }

    #[test]
    fn a_long_reason_is_cut_to_what_a_close_frame_holds() {
        let violation = Violation::new(4409, "é".repeat(100));
        assert!(violation.reason.len() <= 123);
    }
}
