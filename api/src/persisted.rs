//! Automatic persisted queries (the Apollo protocol): a client sends
//! `extensions: {persistedQuery: {version: 1, sha256Hash}}` and no query; if the server
//! knows the hash it runs the query, else it answers `PERSISTED_QUERY_NOT_FOUND` and the
//! client sends query and hash once, which the server checks and remembers. Over GET
//! too, so a CDN can cache the public directory's answers by URL.
//!
//! With `MELT_PERSISTED_QUERIES_FILE` the server knows a list of operations from the
//! start; with `MELT_PERSISTED_QUERIES_ONLY` it runs those alone (production): any other
//! query, sent in full or by hash, is refused with `PERSISTED_QUERY_NOT_ALLOWED`.

use async_graphql::Request;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Mutex;

/// Queries remembered from clients (least recently used go first).
const CAPACITY: usize = 2_000;

/// Why a persisted-query request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The hash is unknown: send the query with it.
    NotFound,
    /// The hash is not the SHA-256 of the query sent.
    HashMismatch,
    /// Only the allow-listed operations run here.
    NotAllowed,
    /// The `persistedQuery` extension is malformed.
    Malformed,
}

impl Refusal {
    /// The `extensions.code` and message (the ones Apollo clients look for).
    pub fn code_and_message(&self) -> (&'static str, &'static str) {
        match self {
            Self::NotFound => ("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound"),
            Self::HashMismatch => (
                "BAD_USER_INPUT",
                "provided sha256Hash does not match the query",
            ),
            Self::NotAllowed => (
                "PERSISTED_QUERY_NOT_ALLOWED",
                "only the server's persisted operations may run here",
            ),
            Self::Malformed => (
                "BAD_USER_INPUT",
                "extensions.persistedQuery must be {version: 1, sha256Hash: <64 hex digits>}",
            ),
        }
    }
}

/// The persisted queries of this process.
pub struct PersistedQueries {
    listed: HashMap<String, String>,
    only_listed: bool,
    learned: Mutex<lru::LruCache<String, String>>,
}

impl std::fmt::Debug for PersistedQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedQueries")
            .field("listed", &self.listed.len())
            .field("only_listed", &self.only_listed)
            .finish()
    }
}

/// The lowercase hex SHA-256 of a query.
pub fn hash(query: &str) -> String {
    Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl PersistedQueries {
    /// From the settings: the listed operations (a JSON array of query strings, or an
    /// object from hash to query, checked) and whether only they run.
    pub fn from_settings(
        file: Option<&std::path::Path>,
        only_listed: bool,
    ) -> Result<Self, String> {
        let mut listed = HashMap::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "MELT_PERSISTED_QUERIES_FILE: cannot read {}: {e}",
                    path.display()
                )
            })?;
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                format!(
                    "MELT_PERSISTED_QUERIES_FILE: {} is not JSON: {e}",
                    path.display()
                )
            })?;
            let queries: Vec<(Option<String>, String)> = match value {
                serde_json::Value::Array(items) => items
                    .into_iter()
                    .map(|q| q.as_str().map(|q| (None, q.to_owned())))
                    .collect::<Option<_>>(),
                serde_json::Value::Object(map) => map
                    .into_iter()
                    .map(|(h, q)| q.as_str().map(|q| (Some(h), q.to_owned())))
                    .collect::<Option<_>>(),
                _ => None,
            }
            .ok_or_else(|| {
                format!(
                    "MELT_PERSISTED_QUERIES_FILE: {} must hold a JSON array of queries or an object from sha256 hash to query",
                    path.display()
                )
            })?;
            for (given, query) in queries {
                let actual = hash(&query);
                if given.is_some_and(|g| g.to_ascii_lowercase() != actual) {
                    return Err(format!(
                        "MELT_PERSISTED_QUERIES_FILE: a hash in {} is not the SHA-256 of its query",
                        path.display()
                    ));
                }
                listed.insert(actual, query);
            }
        }
        if only_listed && listed.is_empty() {
            return Err(
                "MELT_PERSISTED_QUERIES_ONLY needs MELT_PERSISTED_QUERIES_FILE with at least one operation"
                    .to_owned(),
            );
        }
        Ok(Self {
            listed,
            only_listed,
            learned: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
        })
    }

    /// Resolves the request's query: fills it in from the hash, or checks and
    /// remembers the one sent. Requests without the extension pass, unless only the
    /// listed operations may run.
    pub fn resolve(&self, request: &mut Request) -> Result<(), Refusal> {
        let extension = request.extensions.get("persistedQuery").cloned();
        let Some(extension) = extension else {
            if self.only_listed && !self.listed.contains_key(&hash(&request.query)) {
                return Err(Refusal::NotAllowed);
            }
            return Ok(());
        };
        let extension = extension.into_json().map_err(|_| Refusal::Malformed)?;
        let version = extension.get("version").and_then(serde_json::Value::as_i64);
        let wanted = extension
            .get("sha256Hash")
            .and_then(serde_json::Value::as_str)
            .map(str::to_ascii_lowercase)
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        let (Some(1), Some(wanted)) = (version, wanted) else {
            return Err(Refusal::Malformed);
        };
        if request.query.is_empty() {
            if let Some(query) = self.listed.get(&wanted) {
                request.query = query.clone();
                return Ok(());
            }
            if self.only_listed {
                return Err(Refusal::NotAllowed);
            }
            let mut learned = self
                .learned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            return match learned.get(&wanted) {
                Some(query) => {
                    request.query = query.clone();
                    Ok(())
                }
                None => Err(Refusal::NotFound),
            };
        }
        if hash(&request.query) != wanted {
            return Err(Refusal::HashMismatch);
        }
        if self.only_listed && !self.listed.contains_key(&wanted) {
            return Err(Refusal::NotAllowed);
        }
        self.learned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .put(wanted, request.query.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        request.extensions.insert(
            "persistedQuery".to_owned(),
            async_graphql::Value::from_json(
                serde_json::json!({ "version": 1, "sha256Hash": hash }),
            )
            .expect("value"),
        );
        request
    }

    #[test]
    fn a_hash_is_learned_from_the_query_sent_with_it_then_resolved_alone() {
        let apq = PersistedQueries::from_settings(None, false).expect("apq");
        let query = "{ __typename }";
        let h = hash(query);
        assert_eq!(apq.resolve(&mut with_hash("", &h)), Err(Refusal::NotFound));
        assert_eq!(
            apq.resolve(&mut with_hash(query, &"0".repeat(64))),
            Err(Refusal::HashMismatch)
        );
        assert_eq!(apq.resolve(&mut with_hash(query, &h)), Ok(()));
        let mut alone = with_hash("", &h);
        assert_eq!(apq.resolve(&mut alone), Ok(()));
        assert_eq!(alone.query, query);
        assert_eq!(
            apq.resolve(&mut with_hash("", "xyz")),
            Err(Refusal::Malformed)
        );
    }
}
