//! Cross-origin requests from browsers (CORS): the origins of `MELT_CORS_ORIGINS`
//! may call the API from their pages; others get no `Access-Control-Allow-*` header
//! (their browsers then refuse to show the answer), and their preflights are refused.
//!
//! Tokens travel in the `Authorization` header, never in cookies, so credentials mode
//! is never allowed; `*` (any origin) is therefore safe for the public directory.

use actix_cors::Cors;
use actix_web::http::header;
use reqwest::Url;

/// How long a browser may cache a preflight's answer, in seconds.
pub const MAX_AGE_SECS: usize = 3600;

/// The origins allowed to call from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Origins {
    /// None (the default): no CORS headers at all.
    #[default]
    None,
    /// Any origin (`*`).
    Any,
    /// These exact origins (`scheme://host[:port]`).
    List(Vec<String>),
}

impl Origins {
    /// Parses the comma-separated setting: `*` alone, or origins such as
    /// `https://portale.regione.toscana.it`. The error says what is wrong in words.
    pub fn parse(setting: Option<&str>) -> Result<Self, String> {
        let Some(setting) = setting else {
            return Ok(Self::None);
        };
        let items: Vec<&str> = setting
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            return Ok(Self::None);
        }
        if items.contains(&"*") {
            return if items.len() == 1 {
                Ok(Self::Any)
            } else {
                Err(
                    "MELT_CORS_ORIGINS: `*` allows every origin and cannot be listed with others"
                        .to_owned(),
                )
            };
        }
        let mut origins = Vec::with_capacity(items.len());
        for item in items {
            let bad = || {
                format!(
                    "MELT_CORS_ORIGINS: `{}` is not an origin such as https://portale.regione.toscana.it \
                     (a scheme, a host and an optional port, no path)",
                    item.chars().take(100).collect::<String>()
                )
            };
            let url = Url::parse(item).map_err(|_| bad())?;
            let origin = url.origin().ascii_serialization();
            if !matches!(url.scheme(), "http" | "https") || origin != item {
                return Err(bad());
            }
            origins.push(origin);
        }
        Ok(Self::List(origins))
    }

    /// The middleware for these origins (None: no CORS at all).
    pub fn middleware(&self) -> Option<Cors> {
        let cors = Cors::default()
            .allowed_methods(["GET", "POST", "OPTIONS"])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::HeaderName::from_static("x-request-id"),
                header::HeaderName::from_static("traceparent"),
            ])
            .expose_headers([
                header::HeaderName::from_static("x-request-id"),
                header::RETRY_AFTER,
            ])
            .max_age(MAX_AGE_SECS);
        match self {
            Self::None => None,
            Self::Any => Some(cors.allow_any_origin().send_wildcard()),
            Self::List(origins) => Some(
                origins
                    .iter()
                    .fold(cors, |cors, origin| cors.allowed_origin(origin)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_parsed_from_the_setting_in_the_user_s_words() {
        assert_eq!(Origins::parse(None), Ok(Origins::None));
        assert_eq!(Origins::parse(Some(" ")), Ok(Origins::None));
        assert_eq!(Origins::parse(Some("*")), Ok(Origins::Any));
        assert_eq!(
            Origins::parse(Some("https://a.example.org, http://localhost:5173")),
            Ok(Origins::List(vec![
                "https://a.example.org".to_owned(),
                "http://localhost:5173".to_owned()
            ]))
        );
        for bad in [
            "https://a.example.org/path",
            "a.example.org",
            "ftp://a.example.org",
            "https://a.example.org/",
            "*, https://a.example.org",
        ] {
            let error = Origins::parse(Some(bad)).expect_err(bad);
            assert!(error.starts_with("MELT_CORS_ORIGINS: "), "{error}");
        }
    }
}
