//! The vendored GraphiQL IDE: same-origin assets only, never a CDN.

use crate::context::AppState;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// The vendored GraphiQL assets (from the npm registry, see `api/assets/graphiql`).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/init.js"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "LICENSES.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/graphiql/LICENSES.txt"),
    ),
];

/// The page loads only same-origin assets.
const GRAPHIQL_CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

pub(crate) fn graphiql_page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CONTENT_SECURITY_POLICY, GRAPHIQL_CSP))
        .body(include_str!("../../assets/graphiql/index.html"))
}

/// GET /graphiql/{file}: an asset of the IDE.
pub async fn graphiql_asset(state: web::Data<AppState>, file: web::Path<String>) -> HttpResponse {
    if !state.settings.graphiql {
        return HttpResponse::NotFound().finish();
    }
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, content_type, bytes)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *content_type))
            .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
            .body(*bytes),
        None => HttpResponse::NotFound().finish(),
    }
}
