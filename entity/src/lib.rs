//! SeaORM entities of the MeLT network API: persistence only.
//!
//! Nothing here is part of the GraphQL contract; the API maps these models into its
//! own types.

pub mod accessibility;
pub mod accreditation;
pub mod api_client;
pub mod assessed_need;
pub mod audit_event;
pub mod consent;
pub mod consent_recipient;
pub mod contact;
pub mod cost_option;
pub mod enums;
pub mod event;
pub mod event_audience;
pub mod funding;
pub mod location;
pub mod meeting;
pub mod meeting_action;
pub mod meeting_attendance;
pub mod meeting_topic;
pub mod need_service_type;
pub mod needs_assessment;
pub mod organization;
pub mod organization_succession;
pub mod person;
pub mod person_access;
pub mod phone;
pub mod protocol;
pub mod protocol_scope;
pub mod referral;
pub mod referral_event;
pub mod referral_fact;
pub mod required_document;
pub mod routing_decision;
pub mod routing_rule;
pub mod schedule;
pub mod service;
pub mod service_area;
pub mod service_at_location;
pub mod service_contact;
pub mod service_term;
pub mod signatory;
pub mod term;
pub mod territory;
pub mod territory_member;
pub mod tombstone;
pub mod translation;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
pub mod webhook_secret;
pub mod working_group;
pub mod working_group_member;

pub use sea_orm;
