//! Referrals of people between labour and social services, and their state machine.

pub mod lifecycle;
