//! End-to-end tests of the MeLT network API over HTTP, in one test binary: each module
//! was a test file of its own, and the harness is `melt_tests` (tests/src/lib.rs).
//!
//! Run one area with a filter, e.g. `cargo test -p melt-tests referrals::`.

mod assessments;
mod audit;
mod auth;
mod batching;
mod clients;
mod cors;
mod directory;
mod directory_citizen;
mod events;
mod hostile;
mod hostile_input;
mod hsds;
mod http;
mod indexes;
mod jobs;
mod kept_counts;
mod listed_services;
mod matching;
mod metrics;
mod needs;
mod operations;
mod people;
mod persisted;
mod plans;
mod privacy;
mod privacy_matrix;
mod profile;
mod protocols;
mod referrals;
mod registry;
mod routing;
mod schema;
mod services_admin;
mod statistics;
mod subscriptions;
mod sync;
mod translations;
mod trust;
mod webhooks;
mod websocket;
mod websocket_close;
mod working_groups;
