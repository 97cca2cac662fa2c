//! What each request's log line carries: the request id (an incoming `X-Request-Id`
//! kept when it is well-formed, else a new one), the client's address (the peer, or the
//! address a trusted proxy forwarded), the GraphQL operation name, the status and the
//! duration. Never the query string nor variables.

use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;
use std::net::IpAddr;
use std::time::Instant;

/// Longest incoming request id kept.
pub const MAX_REQUEST_ID: usize = 64;

/// The request id of this request, for the logs, the audit log and the response.
#[derive(Clone, Debug)]
pub struct RequestIdentity(pub String);

/// When the request started (for its duration).
#[derive(Clone, Copy, Debug)]
pub struct Started(pub Instant);

/// An incoming request id worth keeping: 1 to 64 characters of letters, digits, `-`,
/// `_`, `.` (a UUID, a trace id); anything else is replaced.
pub fn valid_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The id to use: the incoming header when valid, else `generated`.
pub fn request_id(request: &ServiceRequest, generated: Option<String>) -> String {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_owned)
        .or(generated)
        .unwrap_or_default()
}

/// The proxies whose `X-Forwarded-For` is believed (`MELT_TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Vec<IpAddr>);

impl TrustedProxies {
    /// Parses the comma-separated setting; the error names the bad entry.
    pub fn parse(setting: Option<&str>) -> Result<Self, String> {
        let mut out = Vec::new();
        for item in setting.unwrap_or_default().split(',').map(str::trim) {
            if item.is_empty() {
                continue;
            }
            let ip = item.parse().map_err(|_| {
                format!(
                    "MELT_TRUSTED_PROXIES: `{}` is not an IP address",
                    item.chars().take(60).collect::<String>()
                )
            })?;
            out.push(ip);
        }
        Ok(Self(out))
    }

    /// The client's address: the peer, unless the peer is a trusted proxy, in which
    /// case the last address of `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.0.contains(&peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = forwarded_for
            .unwrap_or_default()
            .split(',')
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|ip| !self.0.contains(ip))
                .unwrap_or(peer),
        )
    }
}

/// The client's address of a request: the peer, or the address a trusted proxy
/// forwarded (the proxies are the app data the server was built with).
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &actix_web::http::header::HeaderMap,
    proxies: Option<&TrustedProxies>,
) -> Option<IpAddr> {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    match proxies {
        Some(proxies) => proxies.client_ip(peer, forwarded),
        None => peer,
    }
}

/// Stores the request's id and start time in its extensions.
pub fn remember(request: &ServiceRequest, id: &str) {
    let mut extensions = request.extensions_mut();
    extensions.insert(RequestIdentity(id.to_owned()));
    extensions.insert(Started(Instant::now()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_request_ids_are_kept() {
        assert!(valid_request_id("0192f0c4-5d1e-7a3b-9c2d-0123456789ab"));
        assert!(valid_request_id("trace.abc_1"));
        for bad in ["", "a b", "x\ny", "é", &"a".repeat(65)] {
            assert!(!valid_request_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_client_ip_is_the_peer_unless_a_trusted_proxy_forwarded_it() {
        let proxies = TrustedProxies::parse(Some("10.0.0.1, 10.0.0.2")).expect("proxies");
        let peer: IpAddr = "10.0.0.1".parse().expect("ip");
        let client: IpAddr = "93.184.216.34".parse().expect("ip");
        let other: IpAddr = "198.51.100.7".parse().expect("ip");
        assert_eq!(
            proxies.client_ip(Some(peer), Some("203.0.113.9, 93.184.216.34, 10.0.0.2")),
            Some(client)
        );
        assert_eq!(proxies.client_ip(Some(peer), None), Some(peer));
        // An untrusted peer's header is ignored.
        assert_eq!(
            proxies.client_ip(Some(other), Some("93.184.216.34")),
            Some(other)
        );
        assert!(TrustedProxies::parse(Some("10.0.0.1, proxy")).is_err());
    }
}
