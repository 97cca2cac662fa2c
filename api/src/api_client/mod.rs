//! Machine credentials of partner systems: an organization's administrator creates an
//! API client, receives its secret once, lists, rotates and revokes it. Partner systems
//! trade the credentials for short-lived tokens at `POST /oauth/token`
//! ([`crate::auth::oauth`]).

pub mod mutations;
pub mod resolvers;
pub mod service;
pub mod types;
