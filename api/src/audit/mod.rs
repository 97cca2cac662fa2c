//! The audit log: every mutation is recorded in the transaction of its change.

pub mod resolvers;
pub mod service;
pub mod types;
