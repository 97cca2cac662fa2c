//! The OAuth 2.0 client credentials grant (RFC 6749 §4.4) at `POST /oauth/token`, and
//! the server's public key at `GET /.well-known/jwks.json`.
//!
//! Partner systems authenticate with the credentials of an API client
//! ([`crate::api_client`]), by HTTP Basic or in the form body (never both), and receive
//! a short-lived JWT signed with the server's own key. Errors have the RFC 6749 §5.2
//! shape: `{"error": "...", "error_description": "..."}`.

use crate::api_client::service as clients;
use crate::auth::token::{TokenRequest, mint};
use crate::auth::viewer::ViewerKind;
use crate::context::AppState;
use crate::graphql::relay::{NodeKind, expect_id, to_global_id};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::time::Duration;

/// The only grant type the token endpoint supports.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// The realm named in `WWW-Authenticate` on `invalid_client`.
const REALM: &str = r#"Basic realm="melt""#;

/// A refusal of the token endpoint (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OAuthError {
    /// Malformed request: missing or repeated parameter, wrong content type, more
    /// than one authentication method.
    InvalidRequest(String),
    /// Client authentication failed: unknown client, wrong secret, revoked client or
    /// no credentials. One answer for all of them.
    InvalidClient,
    /// A grant type other than `client_credentials`.
    UnsupportedGrantType,
    /// A scope the client was not given.
    InvalidScope(String),
    /// Something failed on our side.
    ServerError,
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::ServerError => "server_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> String {
        match self {
            Self::InvalidRequest(why) | Self::InvalidScope(why) => why.clone(),
            Self::InvalidClient => "client authentication failed".to_owned(),
            Self::UnsupportedGrantType => {
                format!("only the {CLIENT_CREDENTIALS} grant type is supported")
            }
            Self::ServerError => "the token could not be issued; try again later".to_owned(),
        }
    }
}

fn no_store(builder: &mut actix_web::HttpResponseBuilder) {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
}

fn error_response(error: &OAuthError) -> HttpResponse {
    let mut builder = HttpResponse::build(error.status());
    no_store(&mut builder);
    if *error == OAuthError::InvalidClient {
        // RFC 9110: a 401 always names a scheme; Basic is the one we accept.
        builder.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM)));
    }
    builder.json(serde_json::json!({
        "error": error.code(),
        "error_description": error.description(),
    }))
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
/// Malformed escapes are kept as they are, as the WHATWG algorithm does.
pub fn form_decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Parses a form body. Parameters without a value count as omitted; a parameter sent
/// twice is refused (RFC 6749 §3.2).
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let invalid = |why: &str| OAuthError::InvalidRequest(why.to_owned());
    let body = std::str::from_utf8(body).map_err(|_| invalid("the body is not UTF-8"))?;
    let mut params = HashMap::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_decode(name).ok_or_else(|| invalid("the body is not UTF-8"))?;
        let value = form_decode(value).ok_or_else(|| invalid("the body is not UTF-8"))?;
        if value.is_empty() {
            continue;
        }
        if params.insert(name.clone(), value).is_some() {
            return Err(OAuthError::InvalidRequest(format!(
                "the parameter {name} is repeated"
            )));
        }
    }
    Ok(params)
}

/// Credentials the client presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `client_id`: the API client's global ID.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
}

/// A well-formed client credentials request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCall {
    /// Who the client says it is.
    pub credentials: ClientCredentials,
    /// Requested scopes; `None` asks for every scope of the client.
    pub scopes: Option<Vec<String>>,
}

/// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1: each part form-encoded,
/// then base64); `Ok(None)` without the header.
fn basic_credentials(authorization: Option<&str>) -> Result<Option<ClientCredentials>, OAuthError> {
    let Some(value) = authorization else {
        return Ok(None);
    };
    let (scheme, encoded) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidRequest(
            "authenticate the client with HTTP Basic or client_id and client_secret in the body"
                .to_owned(),
        ));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(OAuthError::InvalidClient)?;
    let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
    let id = form_decode(id).ok_or(OAuthError::InvalidClient)?;
    let secret = form_decode(secret).ok_or(OAuthError::InvalidClient)?;
    Ok(Some(ClientCredentials { id, secret }))
}

/// Checks the shape of a token request: content type, grant type, one authentication
/// method. Nothing is looked up here.
pub fn parse_request(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<TokenCall, OAuthError> {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence != "application/x-www-form-urlencoded" {
        return Err(OAuthError::InvalidRequest(
            "send the request as application/x-www-form-urlencoded".to_owned(),
        ));
    }
    let mut params = parse_form(body)?;
    let basic = basic_credentials(authorization)?;
    let body_id = params.remove("client_id");
    let body_secret = params.remove("client_secret");
    let credentials = match (basic, body_id, body_secret) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method: HTTP Basic or the body, not both".to_owned(),
            ));
        }
        (Some(basic), Some(id), None) if id != basic.id => {
            return Err(OAuthError::InvalidRequest(
                "client_id differs from the HTTP Basic credentials".to_owned(),
            ));
        }
        (Some(basic), _, None) => Some(basic),
        (None, Some(id), Some(secret)) => Some(ClientCredentials { id, secret }),
        (None, _, _) => None,
    };
    match params.get("grant_type").map(String::as_str) {
        None => {
            return Err(OAuthError::InvalidRequest(
                "the grant_type parameter is missing".to_owned(),
            ));
        }
        Some(CLIENT_CREDENTIALS) => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
    }
    let credentials = credentials.ok_or(OAuthError::InvalidClient)?;
    let scopes = params.get("scope").map(|s| {
        s.split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    Ok(TokenCall {
        credentials,
        scopes,
    })
}

/// The scopes to grant: the requested ones if the client has them all, else every
/// scope of the client when none were requested.
pub fn granted_scopes(
    requested: Option<&[String]>,
    allowed: &[String],
) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else {
        return Ok(allowed.to_vec());
    };
    let mut granted: Vec<String> = Vec::new();
    for scope in requested {
        if !allowed.contains(scope) {
            return Err(OAuthError::InvalidScope(format!(
                "the client was not given the scope {scope}"
            )));
        }
        if !granted.contains(scope) {
            granted.push(scope.clone());
        }
    }
    Ok(granted)
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn issue(state: &AppState, call: TokenCall) -> Result<serde_json::Value, OAuthError> {
    let id = expect_id(
        &async_graphql::ID(call.credentials.id.clone()),
        NodeKind::ApiClient,
    )
    .map_err(|_| OAuthError::InvalidClient)?;
    let client = clients::authenticate(&state.db, id, &call.credentials.secret)
        .await
        .map_err(|error| {
            tracing::error!(error = ?error, "cannot check client credentials");
            OAuthError::ServerError
        })?
        .ok_or_else(|| {
            tracing::debug!(client = %call.credentials.id, "client authentication failed");
            OAuthError::InvalidClient
        })?;
    let scopes = granted_scopes(call.scopes.as_deref(), &clients::scopes_of(&client))?;
    let ttl = state.settings.client_token_ttl_secs;
    let request = TokenRequest {
        subject: format!(
            "{}{}",
            crate::auth::standing::CLIENT_SUBJECT_PREFIX,
            to_global_id(NodeKind::ApiClient, client.id).0
        ),
        kind: ViewerKind::Client,
        organization: Some(client.organization_id),
        roles: Vec::new(),
        scopes: scopes.clone(),
        name: Some(client.name.clone()),
        ttl: Duration::from_secs(ttl),
    };
    let token = mint(&state.auth.server_key, &state.settings, &request).map_err(|error| {
        tracing::error!(error = ?error, "cannot sign a client token");
        OAuthError::ServerError
    })?;
    tracing::info!(client = %call.credentials.id, "client token issued");
    Ok(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scopes.join(" "),
    }))
}

/// POST /oauth/token: the client credentials grant.
pub async fn token(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let parsed = parse_request(
        header_str(&req, header::CONTENT_TYPE),
        header_str(&req, header::AUTHORIZATION),
        &body,
    );
    let result = match parsed {
        Ok(call) => {
            // Client lookups use the pool: run them on the application runtime.
            let state = state.get_ref().clone();
            let runtime = state.runtime.clone();
            runtime
                .run(async move { issue(&state, call).await })
                .await
                .unwrap_or_else(|error| {
                    tracing::error!(error = ?error, "client authentication stopped");
                    Err(OAuthError::ServerError)
                })
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(body) => {
            let mut builder = HttpResponse::Ok();
            no_store(&mut builder);
            builder.json(body)
        }
        Err(error) => error_response(&error),
    }
}

/// GET /.well-known/jwks.json: the public key the server signs its tokens with.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(state.auth.server_key.jwks())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn form_components_are_decoded() {
        assert_eq!(form_decode("a+b%3Dc%26").as_deref(), Some("a b=c&"));
        assert_eq!(form_decode("100%").as_deref(), Some("100%"));
        assert_eq!(form_decode("%ff"), None);
    }

    #[test]
    fn basic_and_body_credentials_are_accepted_alone() {
        let body = b"grant_type=client_credentials&scope=services%3Awrite";
        let call = parse_request(FORM, Some(&basic("id%3A1", "s+x")), body);
        assert_eq!(
            call.map(|c| (c.credentials, c.scopes)),
            Ok((
                ClientCredentials {
                    id: "id:1".into(),
                    secret: "s x".into()
                },
                Some(vec!["services:write".to_owned()])
            ))
        );
        let body = b"grant_type=client_credentials&client_id=a&client_secret=b";
        let call = parse_request(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            None,
            body,
        );
        assert_eq!(call.map(|c| c.credentials.secret), Ok("b".to_owned()));
        let body = b"grant_type=client_credentials&client_secret=b";
        let both = parse_request(FORM, Some(&basic("a", "b")), body);
        assert_eq!(both.map_err(|e| e.code()), Err("invalid_request"));
    }

    #[test]
    fn malformed_requests_get_the_rfc_errors() {
        let code = |ct: Option<&str>, auth: Option<&str>, body: &[u8]| {
            parse_request(ct, auth, body).err().map(|e| e.code())
        };
        let auth = basic("a", "b");
        let auth = Some(auth.as_str());
        assert_eq!(
            code(Some("application/json"), auth, b"{}"),
            Some("invalid_request")
        );
        assert_eq!(code(FORM, auth, b"scope=x"), Some("invalid_request"));
        assert_eq!(
            code(FORM, auth, b"grant_type=password"),
            Some("unsupported_grant_type")
        );
        assert_eq!(
            code(
                FORM,
                auth,
                b"grant_type=client_credentials&grant_type=client_credentials"
            ),
            Some("invalid_request")
        );
        assert_eq!(
            code(FORM, None, b"grant_type=client_credentials"),
            Some("invalid_client")
        );
        assert_eq!(
            code(FORM, Some("Basic !!!"), b"grant_type=client_credentials"),
            Some("invalid_client")
        );
    }

    #[test]
    fn only_scopes_of_the_client_are_granted() {
        let allowed = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(granted_scopes(None, &allowed), Ok(allowed.clone()));
        assert_eq!(
            granted_scopes(Some(&["b".to_owned()]), &allowed),
            Ok(vec!["b".to_owned()])
        );
        assert_eq!(
            granted_scopes(Some(&["c".to_owned()]), &allowed).map_err(|e| e.code()),
            Err("invalid_scope")
        );
    }
}
