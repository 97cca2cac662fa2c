//! The GraphQL schema: roots, Relay plumbing, limits.

pub mod connection;
pub mod enums;
pub mod node;
pub mod relay;
pub mod scalars;
pub mod schema;

pub use schema::{MeltSchema, build_schema};
