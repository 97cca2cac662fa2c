//! The read-only HSDS 3.0 API beside GraphQL (`/hsds/...`), public like the directory:
//! each handler parses the request, reads through [`crate::hsds::service`] on the
//! application runtime and answers JSON. A bad `page`, `per_page` or `modified_after`
//! (or any other parameter) is 400, an unknown id 404, each with a JSON body carrying
//! a code (`BAD_USER_INPUT`, `NOT_FOUND`); a database failure is 500 with an error id,
//! never its text.

use super::admission::charge;
use super::error_body;
use crate::context::AppState;
use crate::error::{AppError, AppResult};
use crate::hsds::domain::PageRequest;
use crate::hsds::service;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sea_orm::DatabaseConnection;
use std::future::Future;
use uuid::Uuid;

/// The JSON answer of an error.
fn error_response(err: &AppError) -> HttpResponse {
    let (status, message) = match err {
        AppError::BadUserInput(_) => (StatusCode::BAD_REQUEST, err.to_string()),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, err.to_string()),
        AppError::Conflict(_) => (StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        _ => {
            let error_id = Uuid::now_v7();
            tracing::error!(%error_id, error = ?err, "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Internal server error; quote error id {error_id} to the support team"),
            )
        }
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(error_body(err.code(), &message).to_string())
}

/// Charges the request to the caller's address, runs `read` on the application
/// runtime and answers its value as JSON.
async fn answer<T, F, Fut>(state: &AppState, req: &HttpRequest, read: F) -> HttpResponse
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(DatabaseConnection) -> Fut,
    Fut: Future<Output = AppResult<T>> + Send + 'static,
{
    if let Err(too_many) = charge(state, req, None, 1) {
        return *too_many;
    }
    let result = state
        .runtime
        .run(read(state.db.clone()))
        .await
        .and_then(|inner| inner);
    match result {
        Ok(value) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
            .body(serde_json::to_string(&value).unwrap_or_default()),
        Err(err) => error_response(&err),
    }
}

/// The id in the path, or 404 (an id that is no UUID names nothing).
fn path_id(id: &str, kind: &'static str) -> AppResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| AppError::NotFound(kind))
}

macro_rules! handlers {
    ($($list:ident, $one:ident, $kind:literal;)+) => {$(
        #[doc = concat!("GET /hsds/", stringify!($list), ": a page of the list.")]
        pub async fn $list(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
            let request = PageRequest::parse(req.query_string());
            answer(&state, &req, async move |db| service::$list(&db, &request?).await).await
        }

        #[doc = concat!("GET /hsds/", stringify!($list), "/{id}: one object, or 404.")]
        pub async fn $one(
            state: web::Data<AppState>,
            req: HttpRequest,
            id: web::Path<String>,
        ) -> HttpResponse {
            let id = path_id(&id, $kind);
            answer(&state, &req, async move |db| service::$one(&db, id?).await).await
        }
    )+};
}

handlers! {
    services, service, "service";
    organizations, organization, "organization";
    locations, location, "location";
    service_at_locations, service_at_location, "service_at_location";
    taxonomies, taxonomy, "taxonomy";
    taxonomy_terms, taxonomy_term, "taxonomy_term";
}

/// GET /hsds/: what this API is (the HSDS API reference's root).
pub async fn root(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    answer(&state, &req, async move |_db| {
        Ok(serde_json::json!({
            "version": "3.0",
            "profile": "https://openreferral.org/",
            "openapi_url": "https://github.com/openreferral/specification/blob/3.0/schema/openapi.json",
        }))
    })
    .await
}

/// Registers the HSDS routes under `/hsds`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/hsds", web::get().to(root))
        .route("/hsds/", web::get().to(root));
    macro_rules! register {
        ($($list:ident, $one:ident;)+) => {$(
            cfg.route(concat!("/hsds/", stringify!($list)), web::get().to($list))
                .route(concat!("/hsds/", stringify!($list), "/{id}"), web::get().to($one));
        )+};
    }
    register! {
        services, service;
        organizations, organization;
        locations, location;
        service_at_locations, service_at_location;
        taxonomies, taxonomy;
        taxonomy_terms, taxonomy_term;
    }
}
