//! Organizations of the network: bodies, their sites, contacts and successions.

pub mod domain;
pub mod mutations;
pub mod registry_mutations;
pub mod resolvers;
pub mod service;
pub mod site_mutations;
pub mod sites;
pub mod types;
pub mod viewer;
