//! Individual plans (piani individualizzati): a person's pathway across the network's
//! organizations, held by the organization that leads it, its actions started and
//! followed by referrals.

pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod types;
