//! Taxonomies: service types, target groups, needs, languages.

pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod types;
