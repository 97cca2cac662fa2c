//! `GET /metrics` on the metrics listener (`MELT_METRICS_ADDR`): the application's
//! Prometheus metrics in the OpenMetrics text format.

use crate::context::AppState;
use actix_web::{HttpResponse, http::header, web};

/// The `/metrics` handler of the metrics listener.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let text = state
        .metrics
        .scrape(
            &state.db,
            &state.runtime,
            state.settings.database_max_connections,
        )
        .await;
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ))
        .body(text)
}
