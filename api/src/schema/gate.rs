//! The gate of every GraphQL operation, the schema's one extension: the operation's
//! span, the document guard ([`crate::graphql::guard`]) and the input check
//! ([`crate::input_guard`]).
//!
//! One extension rather than one per concern: async-graphql wraps the resolution of
//! every field in every installed extension's `resolve` (a boxed future each, even
//! when the extension does not override it), so each extension costs an allocation
//! and a future per field of every answer.
//!
//! - **span**: a `GraphQL Operation` span for each operation (parse, validation and
//!   execution), carrying the operation's name when it has a GraphQL one and the codes
//!   of its errors;
//! - **document guard** (`prepare_request`, the first step of every request): the
//!   document parsed once, measured without expanding its fragments, and refused
//!   before async-graphql validates it when too large, costly or deep;
//! - **input check** (`parse_query`): every string in the variables and inline
//!   arguments free of control characters and not too long.

use crate::graphql::guard::{self, Limits};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{Request, Response, ServerResult, Variables};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Instrument as _;

/// The gate, with the document guard's limits.
pub struct Gate {
    limits: Limits,
}

impl Gate {
    /// A gate whose guard applies these limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }
}

impl ExtensionFactory for Gate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GateOf {
            limits: self.limits,
            named: AtomicBool::new(false),
        })
    }
}

/// The gate of one operation (an extension instance lives for one operation).
struct GateOf {
    /// The document guard's limits.
    limits: Limits,
    /// Whether the name is already on the span.
    named: AtomicBool,
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

impl GateOf {
    /// Puts the operation's name on the current span, once, when it is a GraphQL name.
    fn record_name(&self, operation_name: Option<&str>) {
        if let Some(name) = name_of(operation_name)
            && !self.named.swap(true, Ordering::Relaxed)
        {
            tracing::Span::current().record("graphql.operation.name", name);
        }
    }
}

#[async_trait::async_trait]
impl Extension for GateOf {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let span = tracing::info_span!(
            "graphql.operation",
            otel.name = "GraphQL Operation",
            graphql.operation.name = tracing::field::Empty,
            graphql.error.codes = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let response = next.run(ctx).instrument(span.clone()).await;
        if !response.errors.is_empty() {
            let codes: Vec<String> = response
                .errors
                .iter()
                .filter_map(|e| e.extensions.as_ref()?.get("code").map(ToString::to_string))
                .collect();
            span.record("graphql.error.codes", codes.join(",").replace('"', ""));
            span.record("otel.status_code", "ERROR");
        }
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        crate::input_guard::check_request(&document, variables)?;
        // A document of one named operation: its name, even when the request does not
        // repeat it in `operationName`.
        if let DocumentOperations::Multiple(operations) = &document.operations
            && operations.len() == 1
        {
            self.record_name(operations.keys().next().map(|name| name.as_str()));
        }
        Ok(document)
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = guard::admit(request, &self.limits)?;
        next.run(ctx, request).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        self.record_name(operation_name);
        next.run(ctx, operation_name).await
    }
}
