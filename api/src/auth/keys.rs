//! Keys: the server's own Ed25519 signing key, and the keys tokens are verified with
//! (the server's own, an identity provider's PEM key or JWKS, a development HS256
//! secret). Each verification key is bound to one algorithm.

use crate::settings::Settings;
use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// The server's own signing key (Ed25519, EdDSA).
pub struct ServerKey {
    /// Key id: the RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// For signing tokens.
    pub encoding: EncodingKey,
    /// For verifying the server's own tokens.
    pub decoding: DecodingKey,
    /// The public key as a JWK, served at `/.well-known/jwks.json`.
    pub jwk: Jwk,
}

impl ServerKey {
    /// A new random key pair, as PKCS#8 PEM.
    pub fn generate_pem() -> anyhow::Result<String> {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .context("cannot encode the key")?;
        Ok(pem.to_string())
    }

    /// Reads a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| anyhow!("not an Ed25519 PKCS#8 PEM private key: {e}"))?;
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let thumbprint_input = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                key_id: Some(kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: x.clone(),
            }),
        };
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ed_pem(pem.as_bytes()).context("signing key")?,
            decoding: DecodingKey::from_ed_components(&x).context("verifying key")?,
            jwk,
        })
    }

    /// Loads the key file, creating it (mode 0600) with a new key when absent.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let pem = Self::generate_pem()?;
            match write_private(path, &pem) {
                Ok(()) => tracing::warn!(path = %path.display(), "created a new signing key"),
                // Another process created it first: use theirs.
                Err(_) if path.exists() => {}
                Err(error) => return Err(error),
            }
        }
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the signing key {}", path.display()))?;
        Self::from_pem(&pem).with_context(|| format!("invalid signing key {}", path.display()))
    }

    /// The JWKS document of the server's public key.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }
}

/// Writes a private key readable by its owner only.
pub fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    Ok(())
}

/// A key tokens are verified with, bound to one algorithm.
#[derive(Clone)]
pub struct VerificationKey {
    /// The `kid` tokens signed with it carry, if known.
    pub kid: Option<String>,
    /// The only algorithm accepted with this key.
    pub algorithm: Algorithm,
    /// The key.
    pub key: DecodingKey,
}

/// Where JWKS keys come from.
enum JwksSource {
    File(std::path::PathBuf),
    Url(String),
}

/// Least time between two reloads of the JWKS on an unknown `kid`.
const JWKS_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// Every key the server accepts tokens from.
pub struct KeyRing {
    fixed: Vec<VerificationKey>,
    jwks_source: Option<JwksSource>,
    jwks: RwLock<Vec<VerificationKey>>,
    /// Time of the last on-demand reload.
    last_reload: Mutex<Option<Instant>>,
    http: reqwest::Client,
}

fn algorithm_of_jwk(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(alg) = jwk.common.key_algorithm {
        return match alg {
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
            _ => None,
        };
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

/// Keys of a JWKS document; keys of other algorithms are skipped.
pub fn keys_of_jwks(document: &str) -> anyhow::Result<Vec<VerificationKey>> {
    let set: JwkSet = serde_json::from_str(document).context("not a JWKS document")?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let Some(algorithm) = algorithm_of_jwk(jwk) else {
            continue;
        };
        let key = DecodingKey::from_jwk(jwk).context("unusable key in the JWKS")?;
        keys.push(VerificationKey {
            kid: jwk.common.key_id.clone(),
            algorithm,
            key,
        });
    }
    Ok(keys)
}

impl KeyRing {
    /// Builds the ring from settings; refuses unsafe combinations.
    pub async fn from_settings(settings: &Settings, server: &ServerKey) -> anyhow::Result<Self> {
        if settings.auth_leeway_secs > 60 {
            bail!("auth_leeway_secs must be at most 60");
        }
        if settings.token_max_lifetime_secs == 0
            || settings.client_token_ttl_secs > settings.token_max_lifetime_secs
        {
            bail!(
                "token_max_lifetime_secs must be positive and at least client_token_ttl_secs \
                 (the service would refuse its own tokens)"
            );
        }
        let mut fixed = vec![VerificationKey {
            kid: Some(server.kid.clone()),
            algorithm: Algorithm::EdDSA,
            key: server.decoding.clone(),
        }];
        if let Some(path) = &settings.auth_public_key_file {
            let pem =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = settings
                .auth_public_key_algorithm
                .as_deref()
                .unwrap_or_default();
            let (algorithm, key) = match name {
                "RS256" => (Algorithm::RS256, DecodingKey::from_rsa_pem(&pem)?),
                "ES256" => (Algorithm::ES256, DecodingKey::from_ec_pem(&pem)?),
                "EdDSA" => (Algorithm::EdDSA, DecodingKey::from_ed_pem(&pem)?),
                other => {
                    bail!("auth_public_key_algorithm must be RS256, ES256 or EdDSA, not `{other}`")
                }
            };
            fixed.push(VerificationKey {
                kid: settings.auth_public_key_id.clone(),
                algorithm,
                key,
            });
        }
        if let Some(secret) = settings.auth_hs256_secret.as_ref().map(|s| s.expose()) {
            if !settings.auth_allow_hs256 {
                bail!("auth_hs256_secret is for development only: set auth_allow_hs256 to use it");
            }
            if secret.len() < 32 {
                bail!("auth_hs256_secret must be at least 32 bytes");
            }
            fixed.push(VerificationKey {
                kid: None,
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret.as_bytes()),
            });
        }
        let jwks_source = match (&settings.auth_jwks_file, &settings.auth_jwks_url) {
            (Some(_), Some(_)) => bail!("set auth_jwks_file or auth_jwks_url, not both"),
            (Some(file), None) => Some(JwksSource::File(file.clone())),
            (None, Some(url)) => Some(JwksSource::Url(url.clone())),
            (None, None) => None,
        };
        let ring = Self {
            fixed,
            jwks_source,
            jwks: RwLock::new(Vec::new()),
            last_reload: Mutex::new(None),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        };
        if ring.jwks_source.is_some() {
            ring.reload_jwks().await.context("cannot load the JWKS")?;
        }
        Ok(ring)
    }

    async fn reload_jwks(&self) -> anyhow::Result<()> {
        let document = match &self.jwks_source {
            None => return Ok(()),
            Some(JwksSource::File(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            Some(JwksSource::Url(url)) => {
                self.http
                    .get(url)
                    .send()
                    .await?
                    .error_for_status()?
                    .text()
                    .await?
            }
        };
        let keys = keys_of_jwks(&document)?;
        if let Ok(mut jwks) = self.jwks.write() {
            *jwks = keys;
        }
        Ok(())
    }

    /// Reloads the JWKS on demand, unless an on-demand reload happened less than a
    /// minute ago (the load at start-up does not count).
    async fn reload_if_due(&self) -> bool {
        if self.jwks_source.is_none() {
            return false;
        }
        let due = self
            .last_reload
            .lock()
            .map(|last| last.is_none_or(|at| at.elapsed() >= JWKS_RELOAD_INTERVAL))
            .unwrap_or(false);
        if !due {
            return false;
        }
        if let Ok(mut last) = self.last_reload.lock() {
            *last = Some(Instant::now());
        }
        match self.reload_jwks().await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(error = %error, "JWKS reload failed");
                false
            }
        }
    }

    fn candidates(&self, kid: Option<&str>, algorithm: Algorithm) -> Vec<VerificationKey> {
        let jwks = self.jwks.read().map(|k| k.clone()).unwrap_or_default();
        self.fixed
            .iter()
            .chain(jwks.iter())
            .filter(|k| k.algorithm == algorithm)
            .filter(|k| match (kid, &k.kid) {
                (Some(wanted), Some(have)) => wanted == have,
                (Some(_), None) => false,
                (None, _) => true,
            })
            .cloned()
            .collect()
    }

    /// Keys that may have signed a token with this header: same algorithm and, when the
    /// token names a `kid`, that key. An unknown `kid` reloads the JWKS (at most once a
    /// minute).
    pub async fn keys_for(&self, kid: Option<&str>, algorithm: Algorithm) -> Vec<VerificationKey> {
        let found = self.candidates(kid, algorithm);
        if found.is_empty() && kid.is_some() && self.reload_if_due().await {
            return self.candidates(kid, algorithm);
        }
        found
    }
}
