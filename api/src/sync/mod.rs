//! Incremental sync for partner systems that mirror the catalogue or their referrals:
//! tombstones (what left a reader's view, and why), read in commit order from a
//! cursor. The "changed since" filters and orders live with each list.
pub mod resolvers;
pub mod service;
pub mod types;
