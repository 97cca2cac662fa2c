//! Abuse limits: token buckets (GCRA, from `governor`) per verified caller, per IP
//! address, and a stricter one per IP on `POST /oauth/token`. Over the limit: 429 with
//! `Retry-After` and code RATE_LIMITED (on `/oauth/token`, RFC 6749's error shape).
//!
//! Only a verified identity has a bucket of its own: a GraphQL operation is charged to
//! the `sub` of a token whose signature and claims were checked, else (no token, or a
//! token that was refused) to the caller's IP address. Every operation costs one cell:
//! a batch of ten costs ten, and so does each operation sent over a websocket. Other
//! requests (and the websocket upgrade) cost one cell of the IP bucket. The IP is the
//! TCP peer address.

use actix_web::HttpResponse;
use actix_web::http::header;
use governor::clock::Clock;
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

/// Who pays for an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payer<'a> {
    /// A verified caller: the subject of a token that was accepted.
    Verified(&'a str),
    /// Anyone else, by IP address (unknown when the peer address is not known).
    Address(Option<IpAddr>),
}

/// Paths whose requests are charged by their handlers, per operation and to the
/// verified caller, instead of once per request to the IP address.
pub const CHARGED_BY_HANDLER: &str = "/graphql";

fn limiter<K: std::hash::Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).map(|n| governor::RateLimiter::keyed(Quota::per_minute(n)))
}

/// Takes `cells` from `key`'s bucket; `Err(wait)` when they are not there. A charge
/// larger than the whole bucket can never pass: the wait is then a full minute.
fn take<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    cells: u32,
) -> Result<(), Duration> {
    let Some(n) = NonZeroU32::new(cells) else {
        return Ok(());
    };
    match limiter.check_key_n(key, n) {
        Ok(Ok(())) => Ok(()),
        // The limiter's own clock, read only on a refusal.
        Ok(Err(not_until)) => Err(not_until.wait_time_from(limiter.clock().now())),
        Err(_insufficient_capacity) => Err(Duration::from_secs(60)),
    }
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

    /// Checks a request before routing: one cell of the IP bucket (and of the token
    /// endpoint's bucket on `/oauth/token`), except on [`CHARGED_BY_HANDLER`], whose
    /// handlers call [`Limits::charge`]. `Err(wait)` when over a limit.
    pub fn check(&self, path: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        if path == CHARGED_BY_HANDLER {
            return Ok(());
        }
        self.charge(Payer::Address(ip), 1)?;
        if path == "/oauth/token"
            && let (Some(limiter), Some(ip)) = (&self.token, ip)
        {
            take(limiter, &ip, 1)?;
        }
        Ok(())
    }

    /// Charges `operations` cells to the payer's bucket. `Err(wait)` when over a limit.
    pub fn charge(&self, payer: Payer<'_>, operations: u32) -> Result<(), Duration> {
        match payer {
            Payer::Verified(subject) => match &self.client {
                Some(limiter) => take(limiter, &subject.to_owned(), operations),
                None => Ok(()),
            },
            Payer::Address(Some(ip)) => match &self.ip {
                Some(limiter) => take(limiter, &ip, operations),
                None => Ok(()),
            },
            Payer::Address(None) => Ok(()),
        }
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

/// Whole seconds to wait, at least one.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The 429 answer of the GraphQL endpoints and every other path but `/oauth/token`.
pub fn too_many_requests(wait: Duration) -> HttpResponse {
    let seconds = retry_after_seconds(wait);
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, seconds.to_string()))
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(
            serde_json::json!({
                "errors": [{
                    "message": "too many requests; retry later",
                    "extensions": { "code": "RATE_LIMITED", "retryAfterSeconds": seconds }
                }]
            })
            .to_string(),
        )
}

/// The 429 answer of `POST /oauth/token`, in the error shape of RFC 6749 §5.2 that
/// OAuth clients parse. The code is `slow_down`: the token-endpoint error registered by
/// RFC 8628 §3.5 for "polling too fast, wait and retry", the closest registered meaning;
/// `invalid_request` would tell clients their request is malformed and must not be
/// retried unchanged, which is false.
pub fn oauth_too_many_requests(wait: Duration) -> HttpResponse {
    let seconds = retry_after_seconds(wait);
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, seconds.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(
            serde_json::json!({
                "error": "slow_down",
                "error_description": format!("too many token requests; retry in {seconds} s"),
            })
            .to_string(),
        )
}

/// The 429 answer for `path`.
pub fn refusal(path: &str, wait: Duration) -> HttpResponse {
    if path == "/oauth/token" {
        oauth_too_many_requests(wait)
    } else {
        too_many_requests(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(client: u32, ip: u32) -> Arc<Limits> {
        Limits::new(&crate::settings::Settings {
            rate_limit_client_per_minute: client,
            rate_limit_ip_per_minute: ip,
            ..Default::default()
        })
    }

    #[test]
    fn a_bucket_refuses_past_its_quota_and_says_how_long_to_wait() {
        let limits = limits(2, 0);
        let who = Payer::Verified("someone");
        assert!(limits.charge(who, 1).is_ok());
        assert!(limits.charge(who, 1).is_ok());
        let wait = limits.charge(who, 1).err();
        assert!(wait.is_some_and(|w| w > Duration::ZERO && w <= Duration::from_secs(60)));
        assert!(limits.charge(Payer::Verified("someone else"), 1).is_ok());
    }

    #[test]
    fn every_operation_costs_a_cell_and_a_charge_over_the_bucket_never_passes() {
        let limits = limits(10, 0);
        assert!(limits.charge(Payer::Verified("a"), 10).is_ok());
        assert!(limits.charge(Payer::Verified("a"), 1).is_err());
        assert_eq!(
            limits.charge(Payer::Verified("b"), 11).err(),
            Some(Duration::from_secs(60))
        );
        assert!(limits.charge(Payer::Verified("b"), 10).is_ok());
    }

    #[test]
    fn callers_without_a_verified_token_share_their_address_bucket() {
        let limits = limits(100, 2);
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(limits.check("/health", ip).is_ok());
        assert!(limits.charge(Payer::Address(ip), 1).is_ok());
        assert!(limits.charge(Payer::Address(ip), 1).is_err());
        assert!(limits.check(CHARGED_BY_HANDLER, ip).is_ok());
        assert!(limits.charge(Payer::Verified("x"), 1).is_ok());
    }
}
