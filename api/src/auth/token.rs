//! Minting and verifying access tokens.

use super::keys::{KeyRing, ServerKey};
use super::viewer::{Role, Viewer, ViewerKind};
use crate::graphql::relay::{NodeKind, expect_id, to_global_id};
use crate::settings::Settings;
use jsonwebtoken::{Header, Validation, decode, decode_header, encode};
use serde_json::{Map, Value, json};
use std::time::Duration;
use uuid::Uuid;

/// Why a token was refused. Logged at debug level, never returned to the caller.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, or an algorithm no key accepts (including `none`).
    #[error("malformed token or unsupported algorithm: {0}")]
    Malformed(String),
    /// No key for this `kid` and algorithm.
    #[error("no key for kid {kid:?} and algorithm {algorithm:?}")]
    UnknownKey {
        /// The token's `kid`.
        kid: Option<String>,
        /// The token's `alg`.
        algorithm: jsonwebtoken::Algorithm,
    },
    /// Signature, expiry, not-before, issuer or audience check failed.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The claims are not usable (e.g. the organization is not an organization ID, the
    /// issuer is not a string, the lifetime is too long).
    #[error("bad claims: {0}")]
    Claims(String),
    /// The header names extensions we must understand (`crit`, RFC 7515 §4.1.11): we
    /// understand none.
    #[error("critical header parameters not understood: {0}")]
    Critical(String),
}

/// A verified token: who calls, and until when.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The caller.
    pub viewer: Viewer,
    /// The token's `exp` (seconds since the epoch).
    pub expires_at: i64,
}

/// What a new token says.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// Subject.
    pub subject: String,
    /// User or client.
    pub kind: ViewerKind,
    /// Organization the caller acts for.
    pub organization: Option<Uuid>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Display name.
    pub name: Option<String>,
    /// Lifetime.
    pub ttl: Duration,
}

/// Claim marking tokens issued to machine clients.
const CLIENT_CLAIM: &str = "client";

/// Signs a token with the server's key, with the claim names of the settings.
pub fn mint(
    key: &ServerKey,
    settings: &Settings,
    request: &TokenRequest,
) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(request.ttl.as_secs()).unwrap_or(i64::MAX);
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(settings.auth_issuer));
    claims.insert("aud".into(), json!(settings.auth_audience));
    claims.insert("sub".into(), json!(request.subject));
    claims.insert("iat".into(), json!(now));
    claims.insert("nbf".into(), json!(now));
    claims.insert("exp".into(), json!(now.saturating_add(ttl)));
    claims.insert("jti".into(), json!(Uuid::now_v7().to_string()));
    if let Some(org) = request.organization {
        claims.insert(
            settings.auth_claim_organization.clone(),
            json!(to_global_id(NodeKind::Organization, org).to_string()),
        );
    }
    let roles: Vec<&str> = request.roles.iter().map(|r| r.as_str()).collect();
    claims.insert(settings.auth_claim_roles.clone(), json!(roles));
    claims.insert(
        settings.auth_claim_scopes.clone(),
        json!(request.scopes.join(" ")),
    );
    if let Some(name) = &request.name {
        claims.insert(settings.auth_claim_name.clone(), json!(name));
    }
    if request.kind == ViewerKind::Client {
        claims.insert(CLIENT_CLAIM.into(), json!(true));
    }
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    Ok(encode(&header, &Value::Object(claims), &key.encoding)?)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
pub fn bearer(authorization: &str) -> Option<&str> {
    authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

/// Verifies a bearer token and maps its claims to a [`Viewer`].
pub async fn verify(
    keys: &KeyRing,
    settings: &Settings,
    token: &str,
) -> Result<Viewer, TokenError> {
    verify_token(keys, settings, token)
        .await
        .map(|verified| verified.viewer)
}

/// Refuses a header with `crit` (RFC 7515 §4.1.11: a recipient that does not understand
/// every listed extension must refuse the token; this service understands none, and an
/// empty or malformed `crit` is invalid anyway).
fn refuse_critical_headers(token: &str) -> Result<(), TokenError> {
    use base64::Engine;
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| TokenError::Malformed(e.to_string()))?;
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|e| TokenError::Malformed(e.to_string()))?;
    match header.get("crit") {
        None => Ok(()),
        Some(crit) => Err(TokenError::Critical(crit.to_string())),
    }
}

/// Checks what `jsonwebtoken` leaves open: `iss` is a single string (RFC 7519 §4.1.1;
/// the library also takes an array), `iat` is present and not in the future, and the
/// lifetime `exp - iat` is at most `token_max_lifetime_secs`. Returns `exp`.
fn check_times(settings: &Settings, claims: &Map<String, Value>) -> Result<i64, TokenError> {
    if !claims.get("iss").is_some_and(Value::is_string) {
        return Err(TokenError::Claims("iss is not a string".into()));
    }
    let seconds = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| TokenError::Claims(format!("{name} is missing or not a number")))
    };
    let (issued, expires) = (seconds("iat")?, seconds("exp")?);
    let leeway = i64::try_from(settings.auth_leeway_secs.min(60)).unwrap_or(60);
    if issued > chrono::Utc::now().timestamp().saturating_add(leeway) {
        return Err(TokenError::Claims("iat is in the future".into()));
    }
    let longest = i64::try_from(settings.token_max_lifetime_secs).unwrap_or(i64::MAX);
    if expires.saturating_sub(issued) > longest {
        return Err(TokenError::Claims(format!(
            "lifetime {} s is over {longest} s",
            expires.saturating_sub(issued)
        )));
    }
    Ok(expires)
}

/// Verifies a bearer token: signature, `crit`, `exp`, `nbf`, `iss`, `aud`, `iat` and the
/// longest lifetime. Whether the caller's organization or API client still exists is
/// checked against the database by [`super::standing`].
pub async fn verify_token(
    keys: &KeyRing,
    settings: &Settings,
    token: &str,
) -> Result<Verified, TokenError> {
    let header = decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
    refuse_critical_headers(token)?;
    let candidates = keys.keys_for(header.kid.as_deref(), header.alg).await;
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey {
            kid: header.kid,
            algorithm: header.alg,
        });
    }
    let mut last_error = String::new();
    for candidate in candidates {
        let mut validation = Validation::new(candidate.algorithm);
        validation.set_issuer(&[&settings.auth_issuer]);
        validation.set_audience(&[&settings.auth_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = settings.auth_leeway_secs.min(60);
        match decode::<Map<String, Value>>(token, &candidate.key, &validation) {
            Ok(data) => {
                let expires_at = check_times(settings, &data.claims)?;
                let viewer = viewer_of(settings, &data.claims)?;
                return Ok(Verified { viewer, expires_at });
            }
            Err(error) => last_error = error.to_string(),
        }
    }
    Err(TokenError::Rejected(last_error))
}

fn viewer_of(settings: &Settings, claims: &Map<String, Value>) -> Result<Viewer, TokenError> {
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TokenError::Claims("missing sub".into()))?
        .to_owned();
    let organization = match claims.get(&settings.auth_claim_organization) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(
            expect_id(&async_graphql::ID(id.clone()), NodeKind::Organization)
                .map_err(|_| TokenError::Claims("organization is not an organization ID".into()))?,
        ),
        Some(_) => return Err(TokenError::Claims("organization is not a string".into())),
    };
    let roles = strings(claims.get(&settings.auth_claim_roles))
        .iter()
        .filter_map(|r| Role::parse(r))
        .collect();
    let kind = if claims.get(CLIENT_CLAIM) == Some(&Value::Bool(true)) {
        ViewerKind::Client
    } else {
        ViewerKind::User
    };
    Ok(Viewer {
        kind,
        subject,
        organization,
        roles,
        scopes: strings(claims.get(&settings.auth_claim_scopes)),
        name: claims
            .get(&settings.auth_claim_name)
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            token_max_lifetime_secs: 100,
            auth_leeway_secs: 0,
            ..Settings::default()
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn lifetimes_issuers_and_issue_times_are_checked() {
        let now = chrono::Utc::now().timestamp();
        let check = |v: Value| check_times(&settings(), &claims(v)).is_ok();
        assert!(check(
            json!({ "iss": "melt", "iat": now, "exp": now + 100 })
        ));
        assert!(!check(
            json!({ "iss": "melt", "iat": now, "exp": now + 101 })
        ));
        assert!(!check(json!({ "iss": "melt", "exp": now + 10 })), "no iat");
        assert!(!check(
            json!({ "iss": "melt", "iat": now + 50, "exp": now + 60 })
        ));
        assert!(!check(
            json!({ "iss": ["melt"], "iat": now, "exp": now + 10 })
        ));
        assert!(!check(json!({ "iat": now, "exp": now + 10 })), "no iss");
    }

    #[test]
    fn any_crit_header_is_refused() {
        use base64::Engine;
        let token = |header: Value| {
            let encoded =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string());
            format!("{encoded}.e30.c2ln")
        };
        assert!(refuse_critical_headers(&token(json!({ "alg": "EdDSA", "b64": true }))).is_ok());
        for crit in [json!(["b64"]), json!([]), json!("exp"), Value::Null] {
            let header = json!({ "alg": "EdDSA", "crit": crit });
            assert!(
                matches!(
                    refuse_critical_headers(&token(header)),
                    Err(TokenError::Critical(_))
                ),
                "{crit}"
            );
        }
    }
}
