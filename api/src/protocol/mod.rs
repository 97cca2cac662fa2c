//! Protocols of understanding and their signatories: the legal basis of the network.

pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod signatory;
pub mod types;
