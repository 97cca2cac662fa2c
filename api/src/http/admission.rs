//! Admission of a request: the caller its bearer token names (verified, and still in
//! good standing) and the charge to its rate limit.

use super::error_body;
use crate::auth::Viewer;
use crate::context::{AppState, RequestMeta};
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

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

/// The client's IP address: the peer, or behind a trusted proxy the forwarded one
/// (rate limits are charged to it).
pub(crate) fn peer_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    let proxies = req.app_data::<actix_web::web::Data<super::request_log::TrustedProxies>>();
    super::request_log::client_ip(
        req.peer_addr().map(|a| a.ip()),
        req.headers(),
        proxies.map(|p| p.get_ref()),
    )
}

/// Charges `operations` to the caller's bucket (the verified subject, else the IP
/// address); the 429 answer when over the limit.
pub(crate) fn charge(
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
    state.limits.charge(payer, operations).map_err(|wait| {
        state.metrics.rate_limited(match payer {
            Payer::Verified(_) => crate::metrics::Payer::Client,
            Payer::Address(_) => crate::metrics::Payer::Address,
        });
        Box::new(crate::rate_limit::too_many_requests(wait))
    })
}

/// Charges the operations of an HTTP request and authenticates its caller: 401 for a
/// token that is not accepted (the operations are then charged to the IP address), 429
/// over the limit.
pub(crate) async fn admit(
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
pub(crate) fn refuse_unidentified(
    state: &AppState,
    req: &HttpRequest,
    refusal: HttpResponse,
) -> HttpResponse {
    match charge(state, req, None, 1) {
        Ok(()) => refusal,
        Err(too_many) => *too_many,
    }
}

pub(crate) fn request_meta(req: &HttpRequest) -> RequestMeta {
    RequestMeta {
        request_id: req
            .extensions()
            .get::<super::request_log::RequestIdentity>()
            .map(|id| id.0.clone())
            .or_else(|| {
                req.extensions()
                    .get::<tracing_actix_web::RequestId>()
                    .map(ToString::to_string)
            }),
        accept_language: req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .map(crate::translation::domain::accept_language)
            .unwrap_or_default(),
    }
}
