//! Abuse limits: token buckets (GCRA, from `governor`) per authenticated client, per IP
//! address, and a stricter one per IP on `POST /oauth/token`. Over the limit: 429 with
//! `Retry-After` and code RATE_LIMITED.
//!
//! The client key is the `sub` of the bearer token, read without verification (the
//! token is verified later; a forged `sub` only spreads requests over buckets, which
//! the per-IP bucket still counts). The IP is the TCP peer address.

use actix_web::HttpResponse;
use actix_web::http::header;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// The limiters of one server.
pub struct Limits {
    client: Option<DefaultKeyedRateLimiter<String>>,
    ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    token: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).map(|n| governor::RateLimiter::keyed(Quota::per_minute(n)))
}

impl Limits {
    /// Limiters from settings (a limit of 0 is off).
    pub fn new(settings: &crate::settings::Settings) -> Arc<Self> {
        Arc::new(Self {
            client: limiter(settings.rate_limit_client_per_minute),
            ip: limiter(settings.rate_limit_ip_per_minute),
            token: limiter(settings.token_rate_limit_per_minute),
        })
    }

    /// Checks a request; `Err(wait)` when over a limit.
    pub fn check(
        &self,
        path: &str,
        ip: Option<IpAddr>,
        subject: Option<String>,
    ) -> Result<(), Duration> {
        let now = DefaultClock::default().now();
        let wait = |outcome: Result<(), governor::NotUntil<_>>| {
            outcome.map_err(|not_until| not_until.wait_time_from(now))
        };
        if let (Some(limiter), Some(ip)) = (&self.ip, ip) {
            wait(limiter.check_key(&ip))?;
        }
        if path == "/oauth/token"
            && let (Some(limiter), Some(ip)) = (&self.token, ip)
        {
            wait(limiter.check_key(&ip))?;
        }
        if let (Some(limiter), Some(subject)) = (&self.client, subject) {
            wait(limiter.check_key(&subject))?;
        }
        Ok(())
    }

    /// Forgets buckets that are full again, so memory stays bounded.
    pub fn prune(&self) {
        if let Some(l) = &self.client {
            l.retain_recent();
            l.shrink_to_fit();
        }
        for l in [&self.ip, &self.token].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// The `sub` claim of a bearer token, unverified (for bucketing only).
pub fn unverified_subject(authorization: Option<&str>) -> Option<String> {
    use base64::Engine;
    let token = crate::auth::token::bearer(authorization?)?;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("sub")?
        .as_str()
        .map(|s| s.chars().take(200).collect())
}

/// The 429 answer.
pub fn too_many_requests(wait: Duration) -> HttpResponse {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, seconds.max(1).to_string()))
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(
            serde_json::json!({
                "errors": [{
                    "message": "too many requests; retry later",
                    "extensions": { "code": "RATE_LIMITED", "retryAfterSeconds": seconds.max(1) }
                }]
            })
            .to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_read_from_the_token_payload() {
        use base64::Engine;
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"sub":"client:abc"}"#);
        let header = format!("Bearer x.{payload}.y");
        assert_eq!(
            unverified_subject(Some(&header)).as_deref(),
            Some("client:abc")
        );
        assert_eq!(unverified_subject(Some("Bearer garbage")), None);
        assert_eq!(unverified_subject(None), None);
    }

    #[test]
    fn a_bucket_refuses_past_its_quota_and_says_how_long_to_wait() {
        let settings = crate::settings::Settings {
            rate_limit_client_per_minute: 2,
            rate_limit_ip_per_minute: 0,
            ..Default::default()
        };
        let limits = Limits::new(&settings);
        let who = || Some("someone".to_owned());
        assert!(limits.check("/graphql", None, who()).is_ok());
        assert!(limits.check("/graphql", None, who()).is_ok());
        let wait = limits.check("/graphql", None, who()).err();
        assert!(wait.is_some_and(|w| w > Duration::ZERO && w <= Duration::from_secs(60)));
        assert!(
            limits
                .check("/graphql", None, Some("someone else".into()))
                .is_ok()
        );
    }
}
