//! Mutation payload conventions: `userErrors { field code message }`.

use crate::validation::FieldError;
use async_graphql::SimpleObject;

/// The code of a user error: the kinds of input problems the services report.
pub use crate::validation::FieldErrorCode as UserErrorCode;

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
            code: error.code,
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
