//! The rules on people's data that both the person and the referral areas apply: who
//! sees a person and a referral ([`access`]), and when a consent covers sharing a
//! person's data with an organization ([`consent`]). Rules only: no GraphQL, no
//! writes.

pub mod access;
pub mod consent;
