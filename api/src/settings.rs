//! Typed settings: defaults that work, then an optional TOML file, then environment
//! variables (`DATABASE_URL` and `MELT_`-prefixed names). Unknown keys are rejected.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A secret setting (keys, shared secrets): read like a string, never printed by
/// `Debug`, so settings can be logged or shown in errors without leaking it.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret value, for the code that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// Every setting of the service. See the README for each one.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Database URL: `sqlite://path?mode=rwc` (default) or `postgres://...`.
    pub database_url: String,
    /// Maximum connections in the pool.
    pub database_max_connections: u32,
    /// Address to listen on.
    pub host: String,
    /// Port to listen on (0 picks a free one).
    pub port: u16,
    /// `pretty` or `json`.
    pub log_format: LogFormat,
    /// Log filter in `tracing-subscriber` syntax (`RUST_LOG` wins when set).
    pub log_filter: String,
    /// Load the demo network on start (once).
    pub demo_data: bool,
    /// Serve the in-browser IDE (GraphiQL) at GET /graphql.
    pub graphiql: bool,
    /// Maximum depth of a GraphQL query.
    pub max_query_depth: usize,
    /// Maximum complexity of a GraphQL query (connections cost `first`/`last` times
    /// their selection).
    pub max_query_complexity: usize,
    /// Maximum field selections of a query once its fragments are expanded (counted
    /// without expanding them, before validation).
    pub max_query_fields: usize,
    /// Maximum recursion depth while parsing a query.
    pub max_recursive_depth: usize,
    /// Answer introspection (`__schema`, `__type`); GraphiQL needs it. Recommended off
    /// in production.
    pub introspection: bool,
    /// Suggest field and argument names ("Did you mean ...?") in validation errors.
    /// Recommended off in production.
    pub field_suggestions: bool,
    /// Maximum size of the request head (request line and headers), in bytes; larger:
    /// 431 with code HEADERS_TOO_LARGE. actix-web refuses heads over 128 KiB or with
    /// more than 96 headers itself, with an empty 431.
    pub max_header_bytes: usize,
    /// Maximum number of directives on one field.
    pub max_directives: usize,
    /// Maximum size of a request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds a websocket may stay open without `connection_init` (graphql-transport-ws
    /// closes it with 4408).
    pub websocket_init_timeout_secs: u64,
    /// Maximum number of operations in one batched request.
    pub max_batch_size: usize,
    /// Expected `iss` of access tokens (and the issuer of the server's own tokens).
    pub auth_issuer: String,
    /// Expected `aud` of access tokens (and the audience of the server's own tokens).
    pub auth_audience: String,
    /// Clock leeway for `exp` and `nbf`, in seconds (at most 60).
    pub auth_leeway_secs: u64,
    /// PEM file of an identity provider's public key (RS256, ES256 or EdDSA).
    pub auth_public_key_file: Option<PathBuf>,
    /// Algorithm of `auth_public_key_file`: `RS256`, `ES256` or `EdDSA`.
    pub auth_public_key_algorithm: Option<String>,
    /// Key id (`kid`) tokens signed with `auth_public_key_file` carry, if any.
    pub auth_public_key_id: Option<String>,
    /// JWKS document of an identity provider, as a file.
    pub auth_jwks_file: Option<PathBuf>,
    /// JWKS document of an identity provider, as a URL (cached, re-read on an unknown
    /// `kid` at most once a minute).
    pub auth_jwks_url: Option<String>,
    /// HS256 shared secret: development only, at least 32 bytes, refused unless
    /// `auth_allow_hs256` is set.
    pub auth_hs256_secret: Option<Secret>,
    /// Development setting that allows `auth_hs256_secret`.
    pub auth_allow_hs256: bool,
    /// Claim naming the caller's organization (its global ID).
    pub auth_claim_organization: String,
    /// Claim listing the caller's roles.
    pub auth_claim_roles: String,
    /// Claim listing the caller's scopes (space-separated string or array).
    pub auth_claim_scopes: String,
    /// Claim with the caller's display name.
    pub auth_claim_name: String,
    /// The server's own Ed25519 signing key (PKCS#8 PEM); created when absent.
    pub signing_key_file: PathBuf,
    /// Lifetime of tokens issued by `POST /oauth/token`, in seconds.
    pub client_token_ttl_secs: u64,
    /// Longest lifetime (`exp - iat`) of an access token the service accepts, in
    /// seconds; tokens without `iat` are refused.
    pub token_max_lifetime_secs: u64,
    /// GraphQL operations per minute allowed per verified caller (token subject), with
    /// the same burst; 0 disables the limit.
    pub rate_limit_client_per_minute: u32,
    /// Requests (and GraphQL operations of callers without a verified token) per minute
    /// allowed per client IP address, with the same burst; 0 disables the limit.
    pub rate_limit_ip_per_minute: u32,
    /// Requests per minute allowed to `POST /oauth/token` per IP address; 0 disables.
    pub token_rate_limit_per_minute: u32,
    /// Keys that encrypt personal data: `id=base64(32 bytes)`, comma-separated. Old keys
    /// stay listed until `melt keys rotate-data` has re-encrypted everything.
    pub data_keys: Option<Secret>,
    /// Id of the key new values are encrypted with (default: the last listed).
    pub data_key_current: Option<String>,
    /// Key of the keyed hash (HMAC-SHA-256) of codici fiscali: base64, at least 32 bytes.
    /// Never rotated: the hash is how a person is found again.
    pub person_hash_key: Option<Secret>,
    /// Development setting: on SQLite without `data_keys`, generate keys once into
    /// `dev_data_key_file`. Never honoured on PostgreSQL.
    pub dev_data_keys: bool,
    /// Where the development keys are kept.
    pub dev_data_key_file: PathBuf,
    /// Erase people whose referrals have all been closed for this many months (unset:
    /// never).
    pub retention_months: Option<u32>,
    /// Days a referral's receiver keeps reading it and its person after it ended.
    pub receiver_access_days: u32,
    /// How often the background jobs (expiry, retention) run, in seconds; 0 disables
    /// them.
    pub jobs_interval_secs: u64,
    /// On SIGTERM or Ctrl-C, how long requests in flight (and a background job run)
    /// may take to finish before the process exits anyway, in seconds.
    pub shutdown_grace_secs: u64,
    /// Matching: weight of the share of the asked needs a service's types address.
    pub match_weight_need: f64,
    /// Matching: weight of the service's area covering the person's municipality.
    pub match_weight_area: f64,
    /// Matching: weight of the service speaking one of the person's languages.
    pub match_weight_language: f64,
    /// Matching: weight of the nearness of the service's sites to the person's
    /// municipality.
    pub match_weight_distance: f64,
    /// Matching: weight of the service's typical wait.
    pub match_weight_wait: f64,
    /// Matching: weight of the service's open places.
    pub match_weight_capacity: f64,
    /// Matching: weight of a protocol in force between the sender and the provider.
    pub match_weight_protocol: f64,
    /// Matching: weight of eligibility (a service for the person's target groups).
    pub match_weight_eligibility: f64,
    /// Matching: a typical wait of this many days or more scores 0 on the wait.
    pub match_wait_horizon_days: u32,
    /// How often each replica looks for events to fan out and deliveries that are
    /// due, in milliseconds (PostgreSQL also wakes it at once on a commit); 0 turns
    /// webhook delivery and subscriptions' outbox reading off on this replica.
    pub events_poll_interval_ms: u64,
    /// Development only: accept `http://` webhook URLs and deliver to loopback and
    /// private addresses. Off, URLs must be https and every resolved address public.
    pub webhook_allow_private: bool,
    /// How long one delivery attempt may take, in seconds.
    pub webhook_timeout_secs: u64,
    /// First retry delay in milliseconds; each later one doubles, with jitter.
    pub webhook_retry_base_ms: u64,
    /// Longest retry delay, in milliseconds.
    pub webhook_retry_max_ms: u64,
    /// How long a delivery is retried before it is given up as FAILED, in seconds.
    pub webhook_retry_period_secs: u64,
    /// An endpoint is disabled after this many failed attempts in a row.
    pub webhook_disable_after_failures: u32,
    /// Hours an old secret keeps signing after a rotation, unless the rotation says.
    pub webhook_secret_overlap_hours: u32,
    /// Deliveries one replica attempts at the same time.
    pub webhook_concurrency: usize,
    /// Origins whose pages may call the API from a browser (CORS), comma-separated,
    /// e.g. `https://portale.regione.toscana.it`; `*` for any; unset: none.
    pub cors_origins: Option<String>,
    /// How long a request waits for a database connection (from the pool, or a new
    /// one) before it fails, in seconds.
    pub database_acquire_timeout_secs: u64,
    /// A pooled connection idle for at least this many seconds is checked (a round
    /// trip) before a request uses it; one in use more recently is not, so a busy
    /// server does not pay a round trip per statement. 0: check every time.
    pub database_ping_idle_secs: u64,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client in the
    /// request log, comma-separated; unset: the peer is the client.
    pub trusted_proxies: Option<String>,
    /// A JSON file of the operations the server knows from the start (an array of
    /// queries, or an object from SHA-256 hash to query), for persisted queries.
    pub persisted_queries_file: Option<PathBuf>,
    /// Production: run only the operations of `persisted_queries_file`.
    pub persisted_queries_only: bool,
    /// Address of the Prometheus listener serving `GET /metrics`, e.g.
    /// `127.0.0.1:9100` (port 0: any free port); unset: no metrics listener.
    pub metrics_addr: Option<String>,
    /// OTLP/HTTP endpoint traces are exported to, e.g. `http://127.0.0.1:4318` (the
    /// path `/v1/traces` is added); unset: no traces are exported.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported traces.
    pub otlp_service_name: String,
    /// Statistics: cells counting fewer people than this are suppressed (k-anonymity);
    /// never below [`MIN_STATISTICS_K`].
    pub statistics_k: u32,
    /// Statistics: anonymous callers (and every role) may read the regional statistics;
    /// off, only REGIONAL_ADMIN may.
    pub statistics_public: bool,
}

/// The lowest k-anonymity threshold the statistics accept.
pub const MIN_STATISTICS_K: u32 = 5;

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://melt.db?mode=rwc".to_owned(),
            database_max_connections: 10,
            host: "127.0.0.1".to_owned(),
            port: 8080,
            log_format: LogFormat::Pretty,
            log_filter: "info".to_owned(),
            demo_data: true,
            graphiql: true,
            max_query_depth: 16,
            max_query_complexity: 20_000,
            max_query_fields: 5_000,
            max_recursive_depth: 32,
            introspection: true,
            field_suggestions: true,
            max_header_bytes: 32 * 1024,
            max_directives: 8,
            max_body_bytes: 256 * 1024,
            websocket_init_timeout_secs: 10,
            max_batch_size: 10,
            auth_issuer: "melt".to_owned(),
            auth_audience: "melt-api".to_owned(),
            auth_leeway_secs: 30,
            auth_public_key_file: None,
            auth_public_key_algorithm: None,
            auth_public_key_id: None,
            auth_jwks_file: None,
            auth_jwks_url: None,
            auth_hs256_secret: None,
            auth_allow_hs256: false,
            auth_claim_organization: "org".to_owned(),
            auth_claim_roles: "roles".to_owned(),
            auth_claim_scopes: "scope".to_owned(),
            auth_claim_name: "name".to_owned(),
            signing_key_file: PathBuf::from("melt-signing-key.pem"),
            client_token_ttl_secs: 900,
            token_max_lifetime_secs: 3600,
            rate_limit_client_per_minute: 600,
            rate_limit_ip_per_minute: 1200,
            token_rate_limit_per_minute: 20,
            data_keys: None,
            data_key_current: None,
            person_hash_key: None,
            dev_data_keys: true,
            dev_data_key_file: PathBuf::from("melt-dev-data-keys.json"),
            retention_months: None,
            receiver_access_days: 90,
            jobs_interval_secs: 60,
            shutdown_grace_secs: 30,
            match_weight_need: 3.0,
            match_weight_area: 1.0,
            match_weight_language: 2.0,
            match_weight_distance: 2.0,
            match_weight_wait: 1.0,
            match_weight_capacity: 1.0,
            match_weight_protocol: 2.0,
            match_weight_eligibility: 1.0,
            match_wait_horizon_days: 60,
            events_poll_interval_ms: 1000,
            webhook_allow_private: false,
            webhook_timeout_secs: 10,
            webhook_retry_base_ms: 5_000,
            webhook_retry_max_ms: 3_600_000,
            webhook_retry_period_secs: 3 * 24 * 3600,
            webhook_disable_after_failures: 50,
            webhook_secret_overlap_hours: 24,
            webhook_concurrency: 8,
            cors_origins: None,
            database_acquire_timeout_secs: 5,
            database_ping_idle_secs: 30,
            trusted_proxies: None,
            persisted_queries_file: None,
            persisted_queries_only: false,
            metrics_addr: None,
            otlp_endpoint: None,
            otlp_service_name: "melt-api".to_owned(),
            statistics_k: MIN_STATISTICS_K,
            statistics_public: false,
        }
    }
}

/// Environment variable naming the optional TOML settings file.
pub const CONFIG_FILE_VAR: &str = "MELT_CONFIG";

impl Settings {
    /// Reads settings from defaults, the file named by `MELT_CONFIG` (if set) and the
    /// environment.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        let file = std::env::var_os(CONFIG_FILE_VAR).map(PathBuf::from);
        Self::figment(file).extract().map_err(Box::new)
    }

    /// Reads settings as [`Settings::load`] does and checks them, with errors in the
    /// words of the person who set them: the variable as they wrote it, what it must
    /// be, and what it was.
    pub fn load_checked() -> Result<Self, String> {
        let settings = Self::load().map_err(|e| explain(&e))?;
        settings.check()?;
        Ok(settings)
    }

    /// Checks what the types cannot say.
    pub fn check(&self) -> Result<(), String> {
        let url = self.database_url.trim();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(format!(
                "DATABASE_URL must start with sqlite: (e.g. sqlite://melt.db?mode=rwc) or postgres:// \
                 (postgresql://), got a `{}:` URL",
                scheme.chars().take(20).collect::<String>()
            ));
        }
        if self.statistics_k < MIN_STATISTICS_K {
            return Err(format!(
                "MELT_STATISTICS_K must be {MIN_STATISTICS_K} or more (the smallest group of \
                 people a statistic may show), got {}",
                self.statistics_k
            ));
        }
        if let Some(address) = &self.metrics_addr
            && address.trim().parse::<std::net::SocketAddr>().is_err()
        {
            return Err(format!(
                "MELT_METRICS_ADDR must be an IP address and port (e.g. 127.0.0.1:9100), got {:?}",
                address.chars().take(60).collect::<String>()
            ));
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            let parsed = url::Url::parse(endpoint.trim());
            if !parsed.is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
                return Err(format!(
                    "MELT_OTLP_ENDPOINT must be an http:// or https:// URL (e.g. \
                     http://127.0.0.1:4318), got {:?}",
                    endpoint.chars().take(60).collect::<String>()
                ));
            }
        }
        Ok(())
    }

    /// The metrics listener's address, when there is one (checked by [`Settings::check`]).
    pub fn metrics_address(&self) -> Option<Result<std::net::SocketAddr, String>> {
        self.metrics_addr.as_deref().map(|address| {
            address
                .trim()
                .parse()
                .map_err(|_| format!("MELT_METRICS_ADDR: `{address}` is not an address and port"))
        })
    }

    fn figment(file: Option<PathBuf>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("MELT_").ignore(&["CONFIG"]))
            .merge(Env::raw().only(&["DATABASE_URL"]))
    }

    /// The address the server binds to.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// True when the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}

/// The environment variable of a settings key (`port` → `MELT_PORT`).
fn variable(key: &str) -> String {
    if key.eq_ignore_ascii_case("database_url") {
        "DATABASE_URL".to_owned()
    } else {
        format!("MELT_{}", key.to_ascii_uppercase())
    }
}

/// What a value of the expected type is, in words.
fn expected_in_words(expected: &str) -> String {
    match expected {
        "u16" => "a number between 0 and 65535".to_owned(),
        "u32" | "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "f64" | "f32" => "a number".to_owned(),
        "a boolean" | "bool" => "true or false".to_owned(),
        other => other.to_owned(),
    }
}

/// A settings error in the user's words (one sentence, each cause once).
pub fn explain(error: &figment::Error) -> String {
    use figment::error::{Actual, Kind};
    let key = error.path.last().cloned().unwrap_or_default();
    let name = variable(&key);
    let got = |actual: &Actual| match actual {
        Actual::Str(v) => format!("{:?}", v.chars().take(60).collect::<String>()),
        other => other.to_string(),
    };
    match &error.kind {
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!(
                "{name} must be {}, got {}",
                expected_in_words(expected),
                got(actual)
            )
        }
        Kind::UnknownField(field, _) => {
            let written = variable(field);
            match ALL_KEYS.iter().find(|k| close(k, field)) {
                Some(near) => format!(
                    "{written} is not a setting of this service (did you mean {}?)",
                    variable(near)
                ),
                None => {
                    format!("{written} is not a setting of this service; the README lists them")
                }
            }
        }
        _ => error.to_string(),
    }
}

/// Every settings key (for suggestions).
const ALL_KEYS: &[&str] = &[
    "database_url",
    "database_max_connections",
    "database_acquire_timeout_secs",
    "database_ping_idle_secs",
    "host",
    "port",
    "log_format",
    "log_filter",
    "demo_data",
    "graphiql",
    "cors_origins",
    "trusted_proxies",
    "metrics_addr",
    "otlp_endpoint",
    "otlp_service_name",
    "jobs_interval_secs",
    "events_poll_interval_ms",
    "shutdown_grace_secs",
    "retention_months",
    "receiver_access_days",
    "statistics_k",
    "statistics_public",
];

/// One letter off (typos such as PROT for PORT), or a prefix.
fn close(known: &str, written: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (known.chars().collect(), written.chars().collect());
    if a.len() == b.len() {
        let differing: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        return differing.len() == 1
            || (differing.len() == 2
                && differing[1] == differing[0] + 1
                && a[differing[0]] == b[differing[1]]
                && a[differing[1]] == b[differing[0]]);
    }
    known.starts_with(written) && written.len() >= 3
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        let settings = serde_json::to_value(Settings::default()).expect("settings serialize");
        let keys: Vec<String> = settings
            .as_object()
            .expect("settings are an object")
            .keys()
            .map(|key| format!("`MELT_{}`", key.to_uppercase()))
            .collect();
        assert!(keys.len() > 30, "{keys:?}");
        let missing: Vec<&String> = keys
            .iter()
            .filter(|k| !readme.contains(k.as_str()))
            .collect();
        assert!(missing.is_empty(), "not in the README: {missing:?}");
    }

    #[test]
    fn secrets_never_print() {
        let settings = Settings {
            data_keys: Some("k1=c2VjcmV0LWRhdGEta2V5".into()),
            person_hash_key: Some("aGFzaC1rZXktdmFsdWU=".into()),
            auth_hs256_secret: Some("a-shared-secret-of-some-length".into()),
            ..Settings::default()
        };
        let printed = format!("{settings:?}");
        for secret in [
            "c2VjcmV0LWRhdGEta2V5",
            "aGFzaC1rZXktdmFsdWU=",
            "a-shared-secret",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert_eq!(
            settings.data_keys.as_ref().map(Secret::expose),
            Some("k1=c2VjcmV0LWRhdGEta2V5")
        );
    }

    #[test]
    fn defaults_need_no_environment() {
        figment::Jail::expect_with(|_| {
            let settings: Settings = Settings::figment(None).extract()?;
            assert_eq!(settings.port, 8080);
            assert!(settings.database_url.starts_with("sqlite://"));
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MELT_PORT", "9999");
            jail.set_env("DATABASE_URL", "postgres://localhost/melt");
            let settings: Settings = Settings::figment(None).extract()?;
            assert_eq!(settings.port, 9999);
            assert!(settings.is_postgres());
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MELT_PROT", "9999");
            assert!(Settings::figment(None).extract::<Settings>().is_err());
            jail.clear_env();
            jail.create_file("melt.toml", "colour = \"red\"")?;
            let from_file = Settings::figment(Some("melt.toml".into())).extract::<Settings>();
            assert!(from_file.is_err());
            Ok(())
        });
    }

    #[test]
    fn a_statistics_k_below_five_is_refused_with_the_variable_named() {
        let low = Settings {
            statistics_k: 4,
            ..Settings::default()
        };
        let error = low.check().expect_err("k = 4 is refused");
        assert!(
            error.starts_with("MELT_STATISTICS_K must be 5 or more"),
            "{error}"
        );
        assert!(error.ends_with("got 4"), "{error}");
        let zero = Settings {
            statistics_k: 0,
            ..Settings::default()
        };
        assert!(zero.check().is_err());
        let higher = Settings {
            statistics_k: 11,
            ..Settings::default()
        };
        assert_eq!(higher.check(), Ok(()));
        assert_eq!(Settings::default().statistics_k, 5);
        assert!(!Settings::default().statistics_public);
    }

    #[test]
    fn a_config_file_is_read() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("melt.toml", "port = 7000\ndemo_data = false")?;
            let settings: Settings = Settings::figment(Some("melt.toml".into())).extract()?;
            assert_eq!(settings.port, 7000);
            assert!(!settings.demo_data);
            Ok(())
        });
    }
}
