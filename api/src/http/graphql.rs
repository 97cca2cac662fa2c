//! GraphQL over HTTP: POST and GET on `/graphql`.
//!
//! Status codes and media types follow the GraphQL-over-HTTP specification:
//! `application/graphql-response+json` answers 400 to a request that fails to parse
//! or validate, `application/json` answers 200 with the errors in the body; a mutation
//! over GET is 405 with `Allow: POST`.

use super::admission::{admit, refuse_unidentified, request_meta};
use super::error_body;
use super::graphiql::graphiql_page;
use crate::auth::Viewer;
use crate::context::{AccessLog, AppState, RequestMeta, operation_data};
use crate::persisted::Refusal;
use crate::schema::MeltSchema;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, Request, Response, ServerError};
use serde::Deserialize;
use std::sync::Arc;

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

fn reply(status: StatusCode, media: MediaType, body: impl Into<web::Bytes>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, media.content_type()))
        .body(body.into())
}

/// Marks a response as never to be stored by caches (POST, authenticated, errors).
fn no_store(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A request that is not a GraphQL request at all (bad JSON, no query): 400.
fn bad_request(media: MediaType, message: &str) -> HttpResponse {
    reply(
        StatusCode::BAD_REQUEST,
        media,
        error_body("BAD_REQUEST", message).to_string(),
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
    body: Vec<u8>,
    /// The operation's label in the metrics.
    operation: String,
}

/// A GraphQL response as it goes on the wire, serialized once and straight from
/// async-graphql's values, so the fields come in the query's order (the spec's
/// "ordered map"). A request error has no `data` entry.
#[derive(serde::Serialize)]
struct Wire<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// Who calls, and how: the parts of the HTTP request an operation runs with.
struct Call {
    schema: MeltSchema,
    viewer: Viewer,
    meta: RequestMeta,
    media: MediaType,
    get: bool,
}

impl Call {
    /// Admits the caller of `operations` operations ([`admit`]): the call, or the answer
    /// refusing it.
    async fn admit(
        state: &AppState,
        schema: &MeltSchema,
        req: &HttpRequest,
        operations: usize,
        media: MediaType,
        get: bool,
    ) -> Result<Self, HttpResponse> {
        Ok(Self {
            schema: schema.clone(),
            viewer: admit(state, req, operations).await?,
            meta: request_meta(req),
            media,
            get,
        })
    }
}

/// The code of an error, as its `extensions.code` says.
fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code),
        _ => None,
    }
}

async fn execute(state: &AppState, mut request: Request, call: &Call) -> Outcome {
    let (media, get) = (call.media, call.get);
    if let Err(refusal) = state.persisted.resolve(&mut request) {
        let (code, message) = refusal.code_and_message();
        // Apollo clients expect a not-found hash as a GraphQL error with 200, and send
        // the query next; other refusals are request errors.
        let status = if refusal == Refusal::NotFound || media == MediaType::Json {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        let operation = state
            .metrics
            .operation_label(request.operation_name.as_deref());
        state.metrics.graphql_error(&operation, code);
        return Outcome {
            status,
            body: error_body(code, message).to_string().into_bytes(),
            operation,
        };
    }
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
        let operation = state
            .metrics
            .operation_label(request.operation_name.as_deref());
        state
            .metrics
            .graphql_error(&operation, "METHOD_NOT_ALLOWED");
        return Outcome {
            operation,
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: error_body(
                "METHOD_NOT_ALLOWED",
                "mutations and subscriptions must be sent with POST",
            )
            .to_string()
            .into_bytes(),
        };
    }
    // The operation's name in the request's log line.
    let named = request.operation_name.clone().or_else(|| {
        let document = request.parsed_query().ok()?;
        crate::graphql::only_operation_name(document).map(str::to_owned)
    });
    let operation = state.metrics.operation_label(named.as_deref());
    if let Some(name) = named {
        tracing::Span::current().record("operation", name.chars().take(100).collect::<String>());
    }
    let parse_failed = parsed.is_err();
    let accesses = Arc::new(AccessLog::default());
    let request = operation_data(
        request,
        Some(call.viewer.clone()),
        Some(call.meta.clone()),
        Some(accesses.clone()),
    );
    let (schema, db) = (call.schema.clone(), state.db.clone());
    let executed = state
        .runtime
        .run(async move {
            let response = schema.execute(request).await;
            let flushed = accesses.flush(&db).await;
            (response, flushed)
        })
        .await;
    if matches!(parsed, Ok(Some(OperationType::Mutation))) {
        // Whatever it committed is looked at now, not at the next poll.
        state.hub.wake();
    }
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
    for error in &response.errors {
        state
            .metrics
            .graphql_error(&operation, code_of(error).unwrap_or("UNKNOWN"));
    }
    // The spec: under application/graphql-response+json a request error has no `data`
    // entry and a 4xx status.
    let drop_data = request_error && media == MediaType::GraphqlResponseJson;
    let wire = Wire {
        errors: &response.errors,
        data: (!drop_data).then_some(&response.data),
        extensions: &response.extensions,
    };
    let body = serde_json::to_vec(&wire).unwrap_or_else(|error| {
        tracing::error!(error = %error, "cannot encode a GraphQL response");
        error_body("INTERNAL_SERVER_ERROR", "the response could not be encoded")
            .to_string()
            .into_bytes()
    });
    let status = if drop_data {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Outcome {
        status,
        body,
        operation,
    }
}

/// The operation's label in the metrics, for the request's metrics
/// ([`crate::metrics::OperationLabel`]).
fn label(req: &HttpRequest, operation: String) {
    req.extensions_mut()
        .insert(crate::metrics::OperationLabel(operation));
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
    schema: web::Data<MeltSchema>,
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
    let call = match Call::admit(&state, &schema, &req, operations, media, false).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    match batch {
        BatchRequest::Single(request) => {
            let outcome = execute(&state, request, &call).await;
            label(&req, outcome.operation);
            no_store(reply(outcome.status, media, outcome.body))
        }
        BatchRequest::Batch(requests) => {
            let mut bodies = vec![b'['];
            for (i, request) in requests.into_iter().enumerate() {
                if i > 0 {
                    bodies.push(b',');
                }
                bodies.extend(execute(&state, request, &call).await.body);
            }
            bodies.push(b']');
            label(&req, "batch".to_owned());
            no_store(reply(StatusCode::OK, media, bodies))
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
    let persisted = params
        .as_ref()
        .and_then(|p| p.extensions.as_deref())
        .is_some_and(|e| e.contains("persistedQuery"));
    if query.is_none() && !persisted && state.settings.graphiql && wants_html(req) {
        return Err(Box::new(graphiql_page()));
    }
    let media = negotiate(accept_header(req)).ok_or_else(|| Box::new(not_acceptable()))?;
    // A persisted query may come by its hash alone.
    let query = query.or_else(|| persisted.then(String::new));
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
    if let Some(extensions) = params.extensions.filter(|e| !e.is_empty()) {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&extensions) else {
            return Err(Box::new(bad_request(
                media,
                "`extensions` is not a JSON object",
            )));
        };
        for (key, value) in map {
            if let Ok(value) = async_graphql::Value::from_json(value) {
                request.extensions.insert(key, value);
            }
        }
    }
    Ok((media, request))
}

/// GET /graphql: queries only; from a browser without a query, the IDE.
pub async fn graphql_get(
    state: web::Data<AppState>,
    schema: web::Data<MeltSchema>,
    req: HttpRequest,
    params: Option<web::Query<GetParams>>,
) -> HttpResponse {
    let (media, request) = match parse_get(&state, &req, params.map(web::Query::into_inner)) {
        Ok(parsed) => parsed,
        Err(answer) => return refuse_unidentified(&state, &req, *answer),
    };
    let call = match Call::admit(&state, &schema, &req, 1, media, true).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    let outcome = execute(&state, request, &call).await;
    label(&req, outcome.operation);
    // Anonymous directory reads may be cached a little (by a CDN too); anything else not.
    let cacheable = call.viewer.is_anonymous()
        && outcome.status == StatusCode::OK
        && !outcome.body.starts_with(b"{\"errors\"");
    let mut response = reply(outcome.status, media, outcome.body);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if cacheable {
            "public, max-age=60"
        } else {
            "no-store"
        }),
    );
    // Localized text follows the request's Accept-Language: a cache keeps one answer
    // per language.
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept-language"));
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
