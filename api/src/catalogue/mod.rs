//! The service catalogue, aligned with Open Referral HSDS 3.0.

pub mod domain;
pub mod fields;
pub mod mutations;
pub mod query;
pub mod resolvers;
pub mod service;
pub mod types;
