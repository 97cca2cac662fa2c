//! People being referred: personal data encrypted at rest, readable only by the
//! organization that registered each record and, for what it shares, the receivers of
//! the referrals sent for them; every read logged. Consents and needs assessments are
//! part of an organization's record of a person.

pub mod assessment;
pub mod assessment_mutations;
pub mod consent;
pub mod data_subject;
pub mod decisions;
pub mod domain;
pub mod mutations;
pub mod privacy;
pub mod protection;
pub mod resolvers;
pub mod service;
pub mod types;
