//! Regional statistics of the network, k-anonymous: referrals by period, territory,
//! service type and the organizations' kinds; capacity of active services; coverage
//! gaps. Computed by SQL aggregates over the fact table `referral_fact` and the
//! catalogue; small cells are suppressed with their complements
//! ([`domain::suppress`]).

pub mod domain;
pub mod resolvers;
pub mod service;
pub mod types;
