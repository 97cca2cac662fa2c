//! The MeLT network API: the GraphQL backbone of Tuscany's network of employment
//! centres, social services and third-sector organizations.
//!
//! The binary (`melt`) is a thin shell over this library, so tests build the whole
//! application in-process with [`startup::Application`].
// The merged Query and Mutation roots nest one type per area: the layout of their
// resolvers goes deeper than the default limit of 128.
#![recursion_limit = "256"]

pub mod api_client;
pub mod audit;
pub mod auth;
pub mod casework;
pub mod catalogue;
pub mod cli;
pub mod concurrency;
pub mod context;
pub mod crypto;
pub mod db;
pub mod error;
pub mod events;
pub mod graphql;
pub mod hsds;
pub mod http;
pub mod input_guard;
pub mod jobs;
pub mod loaders;
pub mod matching;
pub mod metrics;
pub mod organization;
pub mod pagination;
pub mod persisted;
pub mod person;
pub mod plan;
pub mod privacy;
pub mod protocol;
pub mod rate_limit;
pub mod referral;
pub mod routing;
pub mod runtime;
pub mod schema;
pub mod seed;
pub mod settings;
pub mod startup;
pub mod statistics;
pub mod sync;
pub mod tally;
pub mod taxonomy;
pub mod telemetry;
pub mod territory;
pub mod translation;
pub mod validation;
pub mod webhooks;
pub mod worker;
pub mod working_group;
