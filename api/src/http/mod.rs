//! The HTTP surface: every handler of the server, one file a concern.
//!
//! - [`graphql`]: GraphQL over HTTP (POST and GET), following the GraphQL-over-HTTP
//!   specification for status codes and media types;
//! - [`websocket`]: GraphQL over websockets, and [`transport_ws`] the rules of its
//!   protocol;
//! - [`admission`]: who calls (the bearer token) and the rate limit;
//! - [`oauth`]: the token endpoint and the server's JWKS;
//! - [`hsds`]: the read-only Open Referral HSDS 3.0 API (`/hsds/...`);
//! - [`graphiql`]: the vendored IDE; [`health`]: liveness and readiness; [`metrics`]:
//!   the Prometheus scrape, on a listener of its own;
//! - [`guard`]: limits on the request line and headers; [`cors`]: browsers of other
//!   origins.

pub mod admission;
pub mod cors;
pub mod graphiql;
pub mod graphql;
pub mod guard;
pub mod health;
pub mod hsds;
pub mod metrics;
pub mod oauth;
pub mod request_log;
pub mod transport_ws;
pub mod websocket;

use actix_web::web;

/// A GraphQL-shaped error body: one error with its `extensions.code`.
pub fn error_body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/ready", web::get().to(health::ready))
        .service(
            web::resource("/graphql")
                .route(web::post().to(graphql::graphql_post))
                .route(web::get().to(graphql::graphql_get))
                .default_service(web::to(graphql::graphql_other_method)),
        )
        .route("/graphql/ws", web::get().to(websocket::graphql_ws))
        .route("/graphiql/{file}", web::get().to(graphiql::graphiql_asset))
        .route("/oauth/token", web::post().to(oauth::token))
        .route("/.well-known/jwks.json", web::get().to(oauth::jwks))
        .configure(hsds::routes);
}
