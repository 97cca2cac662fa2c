//! Liveness and readiness.

use crate::context::AppState;
use actix_web::{HttpResponse, web};
use std::time::Duration;

/// GET /health: the process is up.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Longest a readiness check waits for the database: below the healthcheck timeouts
/// of the Dockerfile and the compose file.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// GET /ready: the database answers, within [`READY_TIMEOUT`] (503 otherwise, also
/// while the pool waits for a connection to a database that is down).
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let pinged = tokio::time::timeout(
        READY_TIMEOUT,
        state.runtime.run(async move { db.ping().await }),
    )
    .await
    .map_err(|_| sea_orm::DbErr::Custom("no answer within 2 s".to_owned()))
    .and_then(|run| run.map_err(|error| sea_orm::DbErr::Custom(error.to_string())))
    .and_then(|pinged| pinged);
    match pinged {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "reason": "database" }))
        }
    }
}
