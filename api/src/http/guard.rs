//! HTTP-level answers to oversized requests, and caching: one middleware around every
//! route.
//!
//! - A request head (request line and headers) over `max_header_bytes` is answered 431
//!   with code HEADERS_TOO_LARGE, before any route runs. Heads over 128 KiB, or with
//!   more than 96 headers, never reach the application: actix-http's HTTP/1 decoder
//!   refuses them itself with an empty 431 (`MAX_BUFFER_SIZE` and `MAX_HEADERS` in
//!   `actix-http/src/h1/decoder.rs` are constants, and actix-web 4 has no setting for
//!   them), so the application's limit sits below.
//! - A 413 (a body over `max_body_bytes`, from the body extractors) is answered as a
//!   GraphQL-shaped JSON error with code PAYLOAD_TOO_LARGE.
//! - Every response to a caller that sent `Authorization` carries `Cache-Control:
//!   no-store`, and so does every response of `/graphql` whose handler did not allow
//!   caching (only anonymous GET reads are `public, max-age=60`).

use crate::context::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

/// The middleware (wrap it with `actix_web::middleware::from_fn`).
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let max_header_bytes = req
        .app_data::<web::Data<AppState>>()
        .map_or(usize::MAX, |state| state.settings.max_header_bytes);
    let authorized = req.headers().contains_key(header::AUTHORIZATION);
    let graphql = req.path() == "/graphql" || req.path().starts_with("/graphql/");
    let response = if head_bytes(&req) > max_header_bytes {
        req.into_response(json_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "HEADERS_TOO_LARGE",
            &format!("the request headers exceed {max_header_bytes} bytes"),
        ))
    } else {
        let response = next.call(req).await?.map_into_boxed_body();
        if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json(&response) {
            let max_body = response
                .request()
                .app_data::<web::Data<AppState>>()
                .map(|state| state.settings.max_body_bytes);
            let message = match max_body {
                Some(max) => format!("the request body exceeds {max} bytes"),
                None => "the request body is too large".to_owned(),
            };
            let (request, _) = response.into_parts();
            ServiceResponse::new(
                request,
                json_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", &message),
            )
        } else {
            response
        }
    };
    let mut response = response;
    // GraphQL answers say themselves when a cache may keep them (anonymous GET reads).
    let no_store =
        authorized || (graphql && !response.headers().contains_key(header::CACHE_CONTROL));
    if no_store {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// Bytes of the request head as sent: request line, and each header line.
fn head_bytes(req: &ServiceRequest) -> usize {
    let request_line = req.method().as_str().len() + req.uri().to_string().len() + 12;
    req.headers()
        .iter()
        .fold(request_line, |total, (name, value)| {
            total + name.as_str().len() + value.len() + 4
        })
}

fn is_json(response: &ServiceResponse<BoxBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(super::error_body(code, message).to_string())
}
