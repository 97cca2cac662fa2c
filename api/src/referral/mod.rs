//! Referrals of people between labour and social services, and their state machine.

pub mod create;
pub mod facts;
pub mod gates;
pub mod inbox;
pub mod lifecycle;
pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod transition;
pub mod types;
