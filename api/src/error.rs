//! The one error type of the API, with a stable `extensions.code` per variant.
//!
//! Internal errors (database, bugs) are logged with their cause chain and an error id;
//! the client sees a generic message carrying the same id, never the cause.

use async_graphql::ErrorExtensions;

/// Every error the API reports to a client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is malformed (bad global ID, bad cursor, page too large, ...).
    #[error("{0}")]
    BadUserInput(String),
    /// The object does not exist, or the caller may not know it exists.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller is authenticated but not allowed to do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The caller must authenticate first.
    #[error("authentication required")]
    Unauthenticated,
    /// The object changed since the caller read it, or the request clashes with another.
    #[error("{0}")]
    Conflict(String),
    /// Anything the caller cannot fix: the cause is logged, never returned.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// The stable code partners match on (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUserInput(_) => "BAD_USER_INPUT",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Conflict(_) => "CONFLICT",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// An internal failure described by a message.
    pub fn internal_message(message: String) -> Self {
        Self::Internal(anyhow::anyhow!(message))
    }

    /// Wraps any internal failure.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        // SQLite refuses a write that collides with a concurrent one (SQLITE_BUSY) rather
        // than waiting: that is a concurrent change the caller can retry, not a fault.
        if err.to_string().contains("database is locked") {
            return Self::Conflict(
                "the record was changed concurrently; read it again and retry".to_owned(),
            );
        }
        Self::Internal(err.into())
    }
}

impl From<std::sync::Arc<sea_orm::DbErr>> for AppError {
    fn from(err: std::sync::Arc<sea_orm::DbErr>) -> Self {
        Self::Internal(anyhow::anyhow!("{err}"))
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        let code = self.code();
        match self {
            Self::Internal(cause) => {
                let error_id = uuid::Uuid::now_v7();
                tracing::error!(%error_id, error = ?cause, "internal error");
                async_graphql::Error::new(format!(
                    "Internal server error; quote error id {error_id} to the support team"
                ))
                .extend_with(|_, e| {
                    e.set("code", code);
                    e.set("errorId", error_id.to_string());
                })
            }
            other => {
                async_graphql::Error::new(other.to_string()).extend_with(|_, e| e.set("code", code))
            }
        }
    }
}

/// Result of services.
pub type AppResult<T> = Result<T, AppError>;

/// The error resolvers return: an [`AppError`] already turned into a GraphQL error with
/// its code (and, for internal errors, logged with an error id).
///
/// It deliberately does not implement `Display`, so that `?` in a resolver always goes
/// through [`AppError`] and never through async-graphql's message-only conversion.
#[derive(Clone, Debug)]
pub struct GqlError(async_graphql::Error);

impl From<AppError> for GqlError {
    fn from(err: AppError) -> Self {
        Self(err.extend())
    }
}

impl From<sea_orm::DbErr> for GqlError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::from(err).into()
    }
}

impl From<std::sync::Arc<sea_orm::DbErr>> for GqlError {
    fn from(err: std::sync::Arc<sea_orm::DbErr>) -> Self {
        AppError::from(err).into()
    }
}

impl From<GqlError> for async_graphql::Error {
    fn from(err: GqlError) -> Self {
        err.0
    }
}

/// Result of resolvers.
pub type GqlResult<T> = Result<T, GqlError>;
