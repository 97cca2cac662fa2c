//! People being referred: personal data encrypted at rest, readable only by the
//! organization that registered each record and, for what it shares, the receivers of
//! the referrals sent for them; every read logged.

pub mod access;
pub mod consent;
pub mod consent_rules;
pub mod data_subject;
pub mod domain;
pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod types;
