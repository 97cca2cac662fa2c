//! The Open Referral HSDS 3.0 export of the public directory: read-only lists and
//! objects shaped as the official schemas say (`/hsds/...` over HTTP, and the full dump
//! of `melt export hsds`).
//!
//! [`domain`] holds the mapping rules (ids, enums, paging values), [`types`] the HSDS
//! objects, [`service`] reads them with SeaORM (relations in batches) and [`dump`]
//! writes the whole directory as JSON or as the HSDS tabular CSV files.

pub mod domain;
pub mod dump;
pub mod service;
pub mod types;
