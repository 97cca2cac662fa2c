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
