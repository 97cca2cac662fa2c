//! Webhook values parsed at the boundary and the Standard Webhooks algorithms:
//! endpoint URLs (https, no private addresses), secrets, signatures, retry delays.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::Rng;
use reqwest::Url;
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Longest endpoint URL.
pub const MAX_URL: usize = 2048;
/// Prefix of a secret, as the Standard Webhooks libraries expect it.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why an endpoint URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    /// Not a URL, or over the length limit.
    #[error("not an absolute URL of at most {MAX_URL} characters")]
    Invalid,
    /// Not https (outside development).
    #[error("must be an https:// URL")]
    NotHttps,
    /// Carries a user name or password.
    #[error("must not carry a user name or password")]
    Credentials,
    /// Names a loopback, private, link-local or otherwise non-public address.
    #[error("must not point to a loopback, private or link-local address")]
    PrivateAddress,
}

/// An endpoint URL fit to receive deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(Url);

impl EndpointUrl {
    /// Parses `raw`: an absolute https URL (http too when `allow_private`), without
    /// credentials or fragment, whose host is not a non-public address literal or
    /// `localhost` (unless `allow_private`). Host names are checked again at each
    /// delivery, against every address they resolve to.
    pub fn parse(raw: &str, allow_private: bool) -> Result<Self, UrlProblem> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_URL || raw.chars().any(char::is_control) {
            return Err(UrlProblem::Invalid);
        }
        let mut url = Url::parse(raw).map_err(|_| UrlProblem::Invalid)?;
        match url.scheme() {
            "https" => {}
            "http" if allow_private => {}
            "http" => return Err(UrlProblem::NotHttps),
            _ => return Err(UrlProblem::Invalid),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlProblem::Credentials);
        }
        let host = url.host().ok_or(UrlProblem::Invalid)?;
        if !allow_private {
            let private = match host {
                url::Host::Ipv4(ip) => !is_public(IpAddr::V4(ip)),
                url::Host::Ipv6(ip) => !is_public(IpAddr::V6(ip)),
                url::Host::Domain(name) => {
                    let name = name.trim_end_matches('.').to_ascii_lowercase();
                    name == "localhost" || name.ends_with(".localhost")
                }
            };
            if private {
                return Err(UrlProblem::PrivateAddress);
            }
        }
        url.set_fragment(None);
        Ok(Self(url))
    }

    /// The URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The URL as stored.
    pub fn into_string(self) -> String {
        self.0.into()
    }
}

/// True for an address a delivery may reach outside development: not loopback,
/// private, link-local (cloud metadata lives there), shared, documentation,
/// multicast, broadcast or unspecified, also when written as IPv4 inside IPv6.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = ip.segments();
            let unique_local = (s[0] & 0xfe00) == 0xfc00;
            let link_local = (s[0] & 0xffc0) == 0xfe80;
            let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
            // NAT64 (64:ff9b::/96) and IPv4-compatible (::/96) embed an IPv4 address.
            let embedded =
                (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]) || s[0..6] == [0; 6];
            if embedded {
                let v4 =
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                return !ip.is_loopback() && !ip.is_unspecified() && is_public_v4(v4);
            }
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || unique_local
                || link_local
                || documentation)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b);
    let this_network = a == 0;
    let reserved = a >= 240;
    let benchmarking = a == 198 && (b == 18 || b == 19);
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || shared
        || this_network
        || reserved
        || benchmarking)
}

/// A new random secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The key bytes of a secret (`whsec_` and base64).
fn secret_key(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
}

/// The Standard Webhooks signature of one message with one secret:
/// `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`. None when the
/// secret is not valid base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = secret_key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret that signs now,
/// space-separated (during a rotation's overlap, the old and the new).
pub fn signature_header(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Delay before the next attempt after `attempts` failed ones: the base doubled per
/// earlier failure, capped, with "equal jitter" (a random point in its upper half) so
/// that endpoints failing together do not retry together.
pub fn retry_delay(attempts: u32, base: Duration, max: Duration) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    let half = full / 2;
    let jitter = rand::thread_rng().gen_range(0..=half.as_millis().max(1) as u64);
    half + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_url_is_accepted_and_http_only_in_development() {
        assert!(EndpointUrl::parse("https://partner.example.org/hooks", false).is_ok());
        assert_eq!(
            EndpointUrl::parse("http://partner.example.org/hooks", false),
            Err(UrlProblem::NotHttps)
        );
        assert!(EndpointUrl::parse("http://partner.example.org/hooks", true).is_ok());
        assert_eq!(
            EndpointUrl::parse("ftp://partner.example.org/", true),
            Err(UrlProblem::Invalid)
        );
        assert_eq!(
            EndpointUrl::parse("https://user:pw@partner.example.org/", false),
            Err(UrlProblem::Credentials)
        );
        assert_eq!(
            EndpointUrl::parse("https://partner.example.org/\u{7}", false),
            Err(UrlProblem::Invalid)
        );
    }

    #[test]
    fn loopback_private_and_link_local_hosts_are_refused_outside_development() {
        for url in [
            "https://127.0.0.1/",
            "https://localhost:8443/",
            "https://api.localhost/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://2130706433/",
        ] {
            assert_eq!(
                EndpointUrl::parse(url, false),
                Err(UrlProblem::PrivateAddress),
                "{url}"
            );
            assert!(EndpointUrl::parse(url, true).is_ok(), "{url}");
        }
        assert!(EndpointUrl::parse("https://93.184.216.34/", false).is_ok());
        assert!(EndpointUrl::parse("https://[2a00:1450:4002::65]/", false).is_ok());
    }

    #[test]
    fn a_signature_follows_the_standard_webhooks_test_vector() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn during_an_overlap_both_secrets_sign() {
        let (old, new) = (new_secret(), new_secret());
        let header = signature_header(&[old.clone(), new.clone()], "id", 1, b"{}");
        let parts: Vec<_> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(Some(parts[0]), sign(&old, "id", 1, b"{}").as_deref());
        assert_eq!(Some(parts[1]), sign(&new, "id", 1, b"{}").as_deref());
    }

    #[test]
    fn retry_delays_double_with_jitter_up_to_the_cap() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(3600);
        for attempts in 1..=20u32 {
            let delay = retry_delay(attempts, base, max);
            let full = base.saturating_mul(1 << (attempts - 1).min(30)).min(max);
            assert!(delay >= full / 2 && delay <= full, "{attempts}: {delay:?}");
        }
    }
}
