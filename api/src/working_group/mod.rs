//! Working groups of the network and their meetings: agendas, attendance, minutes,
//! decisions and actions.

pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod topics;
pub mod types;
