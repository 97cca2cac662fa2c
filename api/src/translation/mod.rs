//! Multilingual text: translations of the text of services, organizations, sites and
//! taxonomy terms in any ISO 639-1 language, chosen per request (`localized(language:)`
//! or `Accept-Language`) with Italian, the original, as the fallback.

pub mod domain;
pub mod mutations;
pub mod service;
pub mod types;
