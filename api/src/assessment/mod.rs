//! Needs assessments of people: what a person needs, how urgently, and the groups
//! they belong to, as an organization records them on its own record of the person.

pub mod mutations;
pub mod service;
pub mod types;
