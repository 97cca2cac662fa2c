//! Events to partner systems: the outbox every change that matters to another party is
//! written to, in the transaction of the change, and the feed that reads it.

pub mod hub;
pub mod resolvers;
pub mod service;
pub mod subscriptions;
pub mod types;
