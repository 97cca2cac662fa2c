//! HTTP surface: GraphQL over HTTP (POST and GET), GraphiQL, health and readiness.
//!
//! Status codes and media types follow the GraphQL-over-HTTP specification:
//! `application/graphql-response+json` answers 400 to a request that fails to parse
//! or validate, `application/json` answers 200 with the errors in the body; a mutation
//! over GET is 405 with `Allow: POST`.

use crate::auth::Viewer;
use crate::graphql::MeltSchema;
use crate::loaders::Loaders;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, Request, Response, ServerError};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use std::sync::Arc;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The executable schema.
    pub schema: MeltSchema,
    /// Settings.
    pub settings: Arc<crate::settings::Settings>,
    /// Signing and verification keys.
    pub auth: Arc<crate::auth::AuthState>,
    /// Keys protecting personal data.
    pub protection: Arc<crate::crypto::DataProtection>,
    /// The application runtime, where everything that touches the pools runs.
    pub runtime: crate::runtime::AppRuntime,
    /// Rate limits.
    pub limits: Arc<crate::rate_limit::Limits>,
}

/// Per-request facts resolvers may need besides the viewer.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    /// The request id (also in the `x-request-id` header and the logs).
    pub request_id: Option<String>,
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#))
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(error_body("UNAUTHENTICATED", "the access token was not accepted").to_string())
}

fn internal_error() -> HttpResponse {
    HttpResponse::InternalServerError()
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(
            error_body(
                "INTERNAL_SERVER_ERROR",
                "the caller could not be checked; try again later",
            )
            .to_string(),
        )
}

/// Why a caller was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The token is not valid (signature, times, claims).
    Token,
    /// The token is valid but names an organization or API client that does not exist.
    Unknown,
    /// The token is valid but its API client was revoked.
    Revoked,
    /// The database could not be asked.
    Internal,
}

/// The caller an `Authorization` value names: `None` (anonymous) without one, else the
/// verified bearer token, whose organization and API client must still stand. Why a
/// token was refused is logged at debug level and never returned.
pub async fn identify(
    state: &AppState,
    authorization: Option<Option<&str>>,
) -> Result<Option<crate::auth::token::Verified>, Refusal> {
    use crate::auth::standing::{self, Standing};
    let Some(value) = authorization else {
        return Ok(None);
    };
    let Some(token) = value.and_then(crate::auth::token::bearer) else {
        tracing::debug!("authorization is not a bearer token");
        return Err(Refusal::Token);
    };
    // Verification may fetch a JWKS and the standing check reads the database: both
    // use pooled connections, so they run on the application runtime.
    let (auth, settings, db, token) = (
        state.auth.clone(),
        state.settings.clone(),
        state.db.clone(),
        token.to_owned(),
    );
    let checked = state
        .runtime
        .run(async move {
            let verified = crate::auth::token::verify_token(&auth.keys, &settings, &token).await;
            match verified {
                Err(reason) => Err(reason),
                Ok(verified) => {
                    let standing = standing::check(&db, &verified.viewer).await;
                    Ok((verified, standing))
                }
            }
        })
        .await
        .map_err(|error| {
            tracing::error!(error = ?error, "token verification stopped");
            Refusal::Internal
        })?;
    let (verified, standing) = checked.map_err(|reason| {
        tracing::debug!(%reason, "access token refused");
        Refusal::Token
    })?;
    match standing {
        Ok(Standing::Good) => Ok(Some(verified)),
        Ok(Standing::Unknown) => {
            tracing::debug!("access token names an organization or client that does not exist");
            Err(Refusal::Unknown)
        }
        Ok(Standing::Revoked) => {
            tracing::debug!("access token of a revoked API client");
            Err(Refusal::Revoked)
        }
        Err(error) => {
            tracing::error!(error = ?error, "cannot check the caller's organization or client");
            Err(Refusal::Internal)
        }
    }
}

/// The IP address of the peer.
fn peer_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

/// Charges `operations` to the caller's bucket (the verified subject, else the IP
/// address); the 429 answer when over the limit.
fn charge(
    state: &AppState,
    req: &HttpRequest,
    viewer: Option<&Viewer>,
    operations: usize,
) -> Result<(), Box<HttpResponse>> {
    use crate::rate_limit::Payer;
    let payer = match viewer {
        Some(viewer) if !viewer.is_anonymous() => Payer::Verified(&viewer.subject),
        _ => Payer::Address(peer_ip(req)),
    };
    let operations = u32::try_from(operations).unwrap_or(u32::MAX);
    state
        .limits
        .charge(payer, operations)
        .map_err(|wait| Box::new(crate::rate_limit::too_many_requests(wait)))
}

/// Charges the operations of an HTTP request and authenticates its caller: 401 for a
/// token that is not accepted (the operations are then charged to the IP address), 429
/// over the limit.
async fn admit(
    state: &AppState,
    req: &HttpRequest,
    operations: usize,
) -> Result<Viewer, HttpResponse> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().ok());
    match identify(state, header).await {
        Ok(verified) => {
            let viewer = verified.map_or_else(Viewer::anonymous, |v| v.viewer);
            charge(state, req, Some(&viewer), operations).map_err(|too_many| *too_many)?;
            Ok(viewer)
        }
        Err(Refusal::Internal) => Err(internal_error()),
        Err(_) => {
            charge(state, req, None, operations).map_err(|too_many| *too_many)?;
            Err(unauthorized())
        }
    }
}

/// Charges one operation to the IP address of a request refused before its caller was
/// known (bad media type, not GraphQL): the refusal, or 429 over the limit.
fn refuse_unidentified(state: &AppState, req: &HttpRequest, refusal: HttpResponse) -> HttpResponse {
    match charge(state, req, None, 1) {
        Ok(()) => refusal,
        Err(too_many) => *too_many,
    }
}

pub(crate) fn request_meta(req: &HttpRequest) -> RequestMeta {
    RequestMeta {
        request_id: req
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string),
    }
}

/// The two GraphQL response media types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`.
    GraphqlResponseJson,
    /// `application/json`.
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from `Accept`; `None` when neither is acceptable.
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, u8, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality <= 0.0 {
            continue;
        }
        // Specific media types win over wildcards at equal quality.
        let candidate = match media.as_str() {
            "application/graphql-response+json" => (quality, 3, MediaType::GraphqlResponseJson),
            "application/json" => (quality, 2, MediaType::Json),
            "application/*" | "*/*" => (quality, 1, MediaType::Json),
            _ => continue,
        };
        if best.is_none_or(|(q, s, _)| (candidate.0, candidate.1) > (q, s)) {
            best = Some(candidate);
        }
    }
    best.map(|(_, _, media)| media)
}

/// A GraphQL-shaped error body: one error with its `extensions.code`.
pub(crate) fn error_body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

fn reply(status: StatusCode, media: MediaType, body: &serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, media.content_type()))
        .body(body.to_string())
}

/// A request that is not a GraphQL request at all (bad JSON, no query): 400.
fn bad_request(media: MediaType, message: &str) -> HttpResponse {
    reply(
        StatusCode::BAD_REQUEST,
        media,
        &error_body("BAD_REQUEST", message),
    )
}

fn not_acceptable() -> HttpResponse {
    HttpResponse::NotAcceptable()
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(
            error_body(
                "NOT_ACCEPTABLE",
                "accept application/graphql-response+json or application/json",
            )
            .to_string(),
        )
}

/// Gives every error a code: parse and validation failures from async-graphql have
/// none of their own.
fn add_codes(errors: &mut [ServerError], request_error: bool, parse_failed: bool) {
    for error in errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if has_code {
            continue;
        }
        let code = if parse_failed {
            "GRAPHQL_PARSE_FAILED"
        } else if request_error {
            "GRAPHQL_VALIDATION_FAILED"
        } else {
            "BAD_USER_INPUT"
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
}

/// True for a response that failed before execution (parse or validation errors).
fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// How one operation went: the status to send and the JSON body.
struct Outcome {
    status: StatusCode,
    body: serde_json::Value,
}

/// Who calls, and how: the parts of the HTTP request an operation runs with.
struct Call {
    viewer: Viewer,
    meta: RequestMeta,
    media: MediaType,
    get: bool,
}

async fn execute(state: &AppState, mut request: Request, call: &Call) -> Outcome {
    let (media, get) = (call.media, call.get);
    let operation_name = request.operation_name.clone();
    let parsed = request
        .parsed_query()
        .map(|doc| match (&doc.operations, operation_name) {
            (DocumentOperations::Single(op), _) => Some(op.node.ty),
            (DocumentOperations::Multiple(ops), Some(name)) => {
                ops.get(name.as_str()).map(|op| op.node.ty)
            }
            // Several operations and no name: only safe if every one is a query.
            (DocumentOperations::Multiple(ops), None) => ops
                .values()
                .map(|op| op.node.ty)
                .find(|ty| *ty != OperationType::Query)
                .or(Some(OperationType::Query)),
        });
    if let Ok(Some(op_type)) = &parsed
        && get
        && *op_type != OperationType::Query
    {
        return Outcome {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: error_body(
                "METHOD_NOT_ALLOWED",
                "mutations and subscriptions must be sent with POST",
            ),
        };
    }
    let parse_failed = parsed.is_err();
    let accesses = Arc::new(crate::person::access::AccessCollector::default());
    let request = request
        .data(Loaders::new(state.db.clone()))
        .data(call.viewer.clone())
        .data(call.meta.clone())
        .data(accesses.clone());
    let (schema, db) = (state.schema.clone(), state.db.clone());
    let executed = state
        .runtime
        .run(async move {
            let response = schema.execute(request).await;
            let flushed = accesses.flush(&db).await;
            (response, flushed)
        })
        .await;
    let (mut response, flushed) = match executed {
        Ok(done) => done,
        Err(error) => {
            let error: async_graphql::Error = crate::error::GqlError::from(error).into();
            let error = error.into_server_error(async_graphql::Pos::default());
            (Response::from_errors(vec![error]), Ok(()))
        }
    };
    if let Err(error) = flushed {
        // Personal data was read but its reads could not be logged: withhold it.
        tracing::error!(error = ?error, "cannot write the access log");
        let mut error = ServerError::new(
            "Internal server error: the access log could not be written",
            None,
        );
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", "INTERNAL_SERVER_ERROR");
        response = Response::from_errors(vec![error]);
    }
    let request_error = is_request_error(&response);
    add_codes(&mut response.errors, request_error, parse_failed);
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| {
        error_body("INTERNAL_SERVER_ERROR", "the response could not be encoded")
    });
    let status = if request_error && media == MediaType::GraphqlResponseJson {
        // The spec: a request error has no `data` entry and a 4xx status.
        if let Some(map) = body.as_object_mut() {
            map.remove("data");
        }
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Outcome { status, body }
}

fn accept_header(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
}

/// A JSON array is a batch (even an empty one), anything else one request.
/// async-graphql's own `BatchRequest` reads `[]` as one request with an empty query.
fn batch_request(body: &[u8]) -> Option<BatchRequest> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        serde_json::from_slice(body).ok().map(BatchRequest::Batch)
    } else {
        serde_json::from_slice(body).ok().map(BatchRequest::Single)
    }
}

/// The media type and operations of a POST, or the answer refusing it.
fn parse_post(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(MediaType, BatchRequest), Box<HttpResponse>> {
    let media = negotiate(accept_header(req)).ok_or_else(|| Box::new(not_acceptable()))?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" {
        return Err(Box::new(
            HttpResponse::UnsupportedMediaType()
                .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
                .body(
                    error_body(
                        "UNSUPPORTED_MEDIA_TYPE",
                        "send the request as application/json",
                    )
                    .to_string(),
                ),
        ));
    }
    let batch = batch_request(body).ok_or_else(|| {
        Box::new(bad_request(
            media,
            "the body is not a GraphQL request in JSON",
        ))
    })?;
    if let BatchRequest::Batch(requests) = &batch {
        let max = state.settings.max_batch_size;
        if requests.is_empty() || requests.len() > max {
            return Err(Box::new(bad_request(
                media,
                &format!("a batch holds 1 to {max} operations"),
            )));
        }
    }
    Ok((media, batch))
}

/// POST /graphql: any operation, single or batched. Each operation of a batch is
/// charged to the caller's rate limit.
pub async fn graphql_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (media, batch) = match parse_post(&state, &req, &body) {
        Ok(parsed) => parsed,
        Err(refusal) => return refuse_unidentified(&state, &req, *refusal),
    };
    let operations = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(requests) => requests.len(),
    };
    let viewer = match admit(&state, &req, operations).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let call = Call {
        viewer,
        meta: request_meta(&req),
        media,
        get: false,
    };
    match batch {
        BatchRequest::Single(request) => {
            let outcome = execute(&state, request, &call).await;
            reply(outcome.status, media, &outcome.body)
        }
        BatchRequest::Batch(requests) => {
            let mut bodies = Vec::with_capacity(requests.len());
            for request in requests {
                bodies.push(execute(&state, request, &call).await.body);
            }
            reply(StatusCode::OK, media, &serde_json::Value::Array(bodies))
        }
    }
}

/// Query-string parameters of GET /graphql.
#[derive(Deserialize)]
pub struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

fn wants_html(req: &HttpRequest) -> bool {
    accept_header(req).is_some_and(|a| a.contains("text/html"))
}

/// The operation of a GET, or the answer to send instead (the IDE, or a refusal).
fn parse_get(
    state: &AppState,
    req: &HttpRequest,
    params: Option<GetParams>,
) -> Result<(MediaType, Request), Box<HttpResponse>> {
    let query = params.as_ref().and_then(|p| p.query.clone());
    if query.is_none() && state.settings.graphiql && wants_html(req) {
        return Err(Box::new(graphiql_page()));
    }
    let media = negotiate(accept_header(req)).ok_or_else(|| Box::new(not_acceptable()))?;
    let (Some(params), Some(query)) = (params, query) else {
        return Err(Box::new(bad_request(media, "missing `query` parameter")));
    };
    let mut request = Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(&variables) {
            Ok(value) => request = request.variables(async_graphql::Variables::from_json(value)),
            Err(_) => return Err(Box::new(bad_request(media, "`variables` is not JSON"))),
        }
    }
    if let Some(extensions) = params.extensions.filter(|e| !e.is_empty())
        && serde_json::from_str::<serde_json::Value>(&extensions).is_err()
    {
        return Err(Box::new(bad_request(media, "`extensions` is not JSON")));
    }
    Ok((media, request))
}

/// GET /graphql: queries only; from a browser without a query, the IDE.
pub async fn graphql_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    params: Option<web::Query<GetParams>>,
) -> HttpResponse {
    let (media, request) = match parse_get(&state, &req, params.map(web::Query::into_inner)) {
        Ok(parsed) => parsed,
        Err(answer) => return refuse_unidentified(&state, &req, *answer),
    };
    let viewer = match admit(&state, &req, 1).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let call = Call {
        viewer,
        meta: request_meta(&req),
        media,
        get: true,
    };
    let outcome = execute(&state, request, &call).await;
    let mut response = reply(outcome.status, media, &outcome.body);
    if outcome.status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    response
}

/// Any other method on /graphql.
pub async fn graphql_other_method(req: HttpRequest) -> HttpResponse {
    let allow = if req.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::METHOD_NOT_ALLOWED
    };
    HttpResponse::build(allow)
        .insert_header((header::ALLOW, "GET, POST"))
        .finish()
}

/// The vendored GraphiQL assets (from the npm registry, see `api/assets/graphiql`).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/init.js"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "LICENSES.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/graphiql/LICENSES.txt"),
    ),
];

/// The page loads only same-origin assets.
const GRAPHIQL_CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

fn graphiql_page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CONTENT_SECURITY_POLICY, GRAPHIQL_CSP))
        .body(include_str!("../assets/graphiql/index.html"))
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

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .service(
            web::resource("/graphql")
                .route(web::post().to(graphql_post))
                .route(web::get().to(graphql_get))
                .default_service(web::to(graphql_other_method)),
        )
        .route("/graphql/ws", web::get().to(crate::websocket::graphql_ws))
        .route("/graphiql/{file}", web::get().to(graphiql_asset))
        .route("/oauth/token", web::post().to(crate::auth::oauth::token))
        .route(
            "/.well-known/jwks.json",
            web::get().to(crate::auth::oauth::jwks),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_accept_header_means_json() {
        assert_eq!(negotiate(None), Some(MediaType::Json));
        assert_eq!(negotiate(Some("*/*")), Some(MediaType::Json));
    }

    #[test]
    fn the_graphql_media_type_wins_when_preferred() {
        let accept = "application/graphql-response+json, application/json;q=0.9";
        assert_eq!(
            negotiate(Some(accept)),
            Some(MediaType::GraphqlResponseJson)
        );
        let accept = "application/graphql-response+json;q=0.5, application/json";
        assert_eq!(negotiate(Some(accept)), Some(MediaType::Json));
    }

    #[test]
    fn unsupported_media_types_are_not_acceptable() {
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
    }
}
