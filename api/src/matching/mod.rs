//! Matching: which services of the catalogue meet a person's needs, ranked with the
//! explanation of each score, without any personal data.

pub mod domain;
pub mod resolvers;
pub mod service;
pub mod types;
