//! A span for each GraphQL operation (parse, validation and execution), carrying the
//! operation's name when it has a GraphQL one and the codes of its errors.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{Response, ServerResult, Variables};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Instrument as _;

/// Opens the `GraphQL Operation` span of each operation.
pub struct OperationSpan;

impl ExtensionFactory for OperationSpan {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationSpanOf::default())
    }
}

/// The span of one operation (an extension instance lives for one operation).
#[derive(Default)]
struct OperationSpanOf {
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

impl OperationSpanOf {
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
impl Extension for OperationSpanOf {
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
        // A document of one named operation: its name, even when the request does not
        // repeat it in `operationName`.
        if let DocumentOperations::Multiple(operations) = &document.operations
            && operations.len() == 1
        {
            self.record_name(operations.keys().next().map(|name| name.as_str()));
        }
        Ok(document)
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
