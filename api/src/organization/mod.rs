//! Organizations of the network: bodies, their sites, contacts and successions.

pub mod domain;
pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod types;
