//! The gate of every GraphQL operation: the operation's span, the document guard
//! ([`crate::graphql::guard`]) and the input check ([`crate::input_guard`]), around the
//! schema ([`MeltSchema`]), which runs nothing but through it.
//!
//! A gate rather than an async-graphql extension: async-graphql wraps the resolution of
//! every field and of every item of a list in each installed extension (a boxed future,
//! two registry look-ups and, for a list item, three type names formatted into new
//! strings), even when the extension only looks at the request, so a schema with any
//! extension pays that on every value of every answer. With none, it resolves a field
//! by calling its resolver.
//!
//! - **span**: a `GraphQL Operation` span for each operation (parse, validation and
//!   execution), carrying the operation's name when it has a GraphQL one and the codes
//!   of its errors;
//! - **document guard**, first: the document parsed once, measured without expanding
//!   its fragments, and refused before async-graphql validates it when too large,
//!   costly or deep;
//! - **input check**: every string in the variables and inline arguments free of
//!   control characters and not too long.
//!
//! The document is parsed here once and handed to async-graphql parsed.

use super::{Mutation, Query, Subscription};
use crate::graphql::guard::{self, Limits};
use crate::graphql::only_operation_name;
use crate::loaders::Loaders;
use async_graphql::{Data, Request, Response, Schema, ServerError};
use futures_util::stream::{BoxStream, StreamExt as _};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use tracing::Instrument as _;

/// The executable schema, behind its gate: every operation, over HTTP or a socket, runs
/// through [`MeltSchema::execute`] or [`MeltSchema::execute_stream_with_session_data`],
/// with loaders of its own (their cache never crosses operations).
#[derive(Clone)]
pub struct MeltSchema {
    schema: Schema<Query, Mutation, Subscription>,
    limits: Limits,
    db: DatabaseConnection,
}

impl MeltSchema {
    /// The schema behind a gate that applies `limits`; the operations' loaders read `db`.
    pub(super) fn new(
        schema: Schema<Query, Mutation, Subscription>,
        limits: Limits,
        db: DatabaseConnection,
    ) -> Self {
        Self { schema, limits, db }
    }

    /// Runs a query or a mutation, once admitted, in its `GraphQL Operation` span; its
    /// batches load as soon as it parks ([`Loaders::watched`]).
    pub async fn execute(&self, request: impl Into<Request>) -> Response {
        let span = operation_span();
        let response = async {
            match self.admit(request.into()) {
                Ok(request) => {
                    let (loaders, watch) = Loaders::watched(self.db.clone());
                    watch
                        .operation(self.schema.execute(request.data(loaders)))
                        .await
                }
                Err(refusal) => Response::from_errors(vec![refusal]),
            }
        }
        .instrument(span.clone())
        .await;
        record_errors(&span, &response);
        response
    }

    /// Runs a subscription (or any operation sent over a socket), once admitted: the
    /// refusal is the stream's one response.
    pub fn execute_stream_with_session_data(
        &self,
        request: impl Into<Request>,
        session_data: Arc<Data>,
    ) -> BoxStream<'static, Response> {
        let span = operation_span();
        let admitted = span.in_scope(|| self.admit(request.into()));
        match admitted {
            Ok(request) => self
                .schema
                .execute_stream_with_session_data(
                    request.data(Loaders::unwatched(self.db.clone())),
                    session_data,
                )
                .map(move |response| {
                    record_errors(&span, &response);
                    response
                })
                .boxed(),
            Err(refusal) => {
                let response = Response::from_errors(vec![refusal]);
                record_errors(&span, &response);
                futures_util::stream::once(async { response }).boxed()
            }
        }
    }

    /// The document guard, then the input check, on the document parsed once (it stays
    /// in the request); the operation's name on the current span. A document that does
    /// not parse goes on, for async-graphql to answer with its own parse error.
    fn admit(&self, mut request: Request) -> Result<Request, ServerError> {
        // Borrowed out and back: `parsed_query` needs the request mutably.
        let variables = std::mem::take(&mut request.variables);
        let verdict = match request.parsed_query() {
            Ok(document) => guard::admit(document, &variables, &self.limits)
                .and_then(|()| crate::input_guard::check_request(document, &variables))
                .map(|()| only_operation_name(document).map(str::to_owned)),
            Err(_) => Ok(None),
        };
        request.variables = variables;
        // A document of one named operation: its name, even when the request does not
        // repeat it in `operationName`.
        record_name(request.operation_name.as_deref().or(verdict?.as_deref()));
        Ok(request)
    }
}

/// The span of one operation.
fn operation_span() -> tracing::Span {
    tracing::info_span!(
        "graphql.operation",
        otel.name = "GraphQL Operation",
        graphql.operation.name = tracing::field::Empty,
        graphql.error.codes = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

/// The codes of a response's errors on the operation's span.
fn record_errors(span: &tracing::Span, response: &Response) {
    if response.errors.is_empty() {
        return;
    }
    let codes: Vec<String> = response
        .errors
        .iter()
        .filter_map(|e| e.extensions.as_ref()?.get("code").map(ToString::to_string))
        .collect();
    span.record("graphql.error.codes", codes.join(",").replace('"', ""));
    span.record("otel.status_code", "ERROR");
}

/// Puts the operation's name on the current span when it is a GraphQL name.
fn record_name(operation_name: Option<&str>) {
    if let Some(name) = name_of(operation_name) {
        tracing::Span::current().record("graphql.operation.name", name);
    }
}

/// The operation name as a span may carry it: a GraphQL name of at most 64
/// characters, else nothing.
fn name_of(operation_name: Option<&str>) -> Option<&str> {
    operation_name.filter(|name| {
        !name.is_empty()
            && name.len() <= 64
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}
