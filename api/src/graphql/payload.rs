//! Mutation payload conventions: `userErrors { field code message }`.

use crate::validation::{FieldError, FieldErrorCode};
use async_graphql::{Enum, SimpleObject};

/// Kinds of problems with a mutation's input.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserErrorCode {
    /// A required value is missing or blank.
    Required,
    /// The value is malformed (bad check digit, not an email, not a URL, ...).
    Invalid,
    /// The text is too long.
    TooLong,
    /// A number or date is out of range, or two values are out of order.
    OutOfRange,
    /// A referenced object does not exist.
    NotFound,
    /// The value must be unique and is already taken.
    Taken,
    /// The object's state does not allow this change.
    InvalidState,
    /// Sending a referral: no protocol in force binds the sender and the receiver.
    NoProtocolInForce,
    /// Sending a referral: the receiver is invited to a protocol in force with the
    /// sender but has not signed it.
    ReceiverNotSigned,
    /// Sending a referral: the person's municipality is outside the scope of every
    /// protocol in force both organizations signed.
    OutsideProtocolScope,
    /// Sending a referral: no valid consent (or other legal basis) covers sharing the
    /// person's data with the receiver.
    NoValidConsent,
    /// Sending a referral: the service is not ACTIVE.
    ServiceNotActive,
    /// Sending a referral: the service's area does not cover the person's
    /// municipality.
    OutsideServiceArea,
    /// Sending a referral: the person's municipality of residence is unknown.
    ResidenceUnknown,
}

impl From<FieldErrorCode> for UserErrorCode {
    fn from(code: FieldErrorCode) -> Self {
        match code {
            FieldErrorCode::Required => Self::Required,
            FieldErrorCode::Invalid => Self::Invalid,
            FieldErrorCode::TooLong => Self::TooLong,
            FieldErrorCode::OutOfRange => Self::OutOfRange,
            FieldErrorCode::NotFound => Self::NotFound,
            FieldErrorCode::Taken => Self::Taken,
            FieldErrorCode::InvalidState => Self::InvalidState,
            FieldErrorCode::NoProtocolInForce => Self::NoProtocolInForce,
            FieldErrorCode::ReceiverNotSigned => Self::ReceiverNotSigned,
            FieldErrorCode::OutsideProtocolScope => Self::OutsideProtocolScope,
            FieldErrorCode::NoValidConsent => Self::NoValidConsent,
            FieldErrorCode::ServiceNotActive => Self::ServiceNotActive,
            FieldErrorCode::OutsideServiceArea => Self::OutsideServiceArea,
            FieldErrorCode::ResidenceUnknown => Self::ResidenceUnknown,
        }
    }
}

/// A problem with the input of a mutation. Nothing was changed.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    /// Path of the offending field, starting with `input`.
    pub field: Vec<String>,
    /// What is wrong.
    pub code: UserErrorCode,
    /// Explanation for people.
    pub message: String,
}

impl From<FieldError> for UserError {
    fn from(error: FieldError) -> Self {
        Self {
            field: error.field,
            code: error.code.into(),
            message: error.message,
        }
    }
}

/// Converts field errors to user errors.
pub fn user_errors(errors: Vec<FieldError>) -> Vec<UserError> {
    errors.into_iter().map(UserError::from).collect()
}

/// Splits a checked result into the payload's object and user errors.
pub fn split<T, U: From<T>>(result: crate::validation::Checked<T>) -> (Option<U>, Vec<UserError>) {
    match result {
        Ok(value) => (Some(U::from(value)), Vec::new()),
        Err(errors) => (None, user_errors(errors)),
    }
}
