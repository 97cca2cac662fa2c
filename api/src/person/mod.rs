//! People being referred: personal data encrypted at rest, readable only by the
//! organizations involved with them, every read logged.

pub mod access;
pub mod consent_rules;
