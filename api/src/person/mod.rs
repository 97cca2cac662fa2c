//! People being referred: personal data encrypted at rest, readable only by the
//! organizations involved with them, every read logged.

pub mod access;
pub mod consent;
pub mod consent_rules;
pub mod domain;
pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod types;
