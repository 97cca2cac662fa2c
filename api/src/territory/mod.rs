//! Territories: the region, provinces, municipalities and groupings (zones, hub areas).

pub mod domain;
pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod types;
