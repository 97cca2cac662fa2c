//! Webhooks: an organization's endpoints receive its events, signed as the Standard
//! Webhooks specification says, retried with back-off, logged, re-deliverable.

pub mod dispatch;
pub mod domain;
pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod types;
