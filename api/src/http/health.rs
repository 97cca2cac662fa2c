//! Liveness and readiness.

use crate::context::AppState;
use actix_web::{HttpResponse, web};

/// GET /health: the process is up.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// GET /ready: the database answers.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let pinged = state
        .runtime
        .run(async move { db.ping().await })
        .await
        .map_err(|error| sea_orm::DbErr::Custom(error.to_string()))
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
