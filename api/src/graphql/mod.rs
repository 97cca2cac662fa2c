//! The GraphQL toolkit every area uses: Relay IDs and connections, mutation payloads
//! and the mutation helper, shared enums and scalars, and the document guard. The
//! schema itself (the roof above the areas) is in [`crate::schema`].

pub mod connection;
pub mod enums;
pub mod guard;
pub mod mutation;
pub mod payload;
pub mod relay;
pub mod scalars;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};

/// The name of a document's only operation, when it has one named operation: what runs
/// when the request names none.
pub fn only_operation_name(document: &ExecutableDocument) -> Option<&str> {
    match &document.operations {
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            operations.keys().next().map(|name| name.as_str())
        }
        _ => None,
    }
}
