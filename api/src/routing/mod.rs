//! Routing rules: needs recorded on one side become referrals to the right services on
//! the other. Rules are set by the regional administration or within a protocol; each
//! assessment is evaluated against them when it is recorded or revised.

pub mod domain;
pub mod evaluate;
pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod types;
