//! Protection of personal data at rest: AES-256-GCM with key ids (so keys can be
//! rotated), and a keyed hash (HMAC-SHA-256) of codici fiscali for matching.

use crate::error::{AppError, AppResult};
use crate::settings::Settings;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use std::collections::HashMap;

/// The keys of a running server.
pub struct DataProtection {
    current: String,
    keys: HashMap<String, Aes256Gcm>,
    hash_key: Vec<u8>,
}

impl std::fmt::Debug for DataProtection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataProtection")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

/// A new random 32-byte key, base64.
pub fn random_key() -> String {
    STANDARD.encode(Aes256Gcm::generate_key(OsRng))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DevKeys {
    data_keys: String,
    person_hash_key: String,
}

impl DataProtection {
    /// Keys from settings. PostgreSQL refuses to start without `data_keys`; SQLite uses
    /// (and creates once) a development key file when `dev_data_keys` allows it.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        match (&settings.data_keys, &settings.person_hash_key) {
            (Some(keys), Some(hash)) => Self::new(
                keys.expose(),
                settings.data_key_current.as_deref(),
                hash.expose(),
            ),
            (Some(_), None) | (None, Some(_)) => {
                bail!("set both data_keys and person_hash_key")
            }
            (None, None) if settings.is_postgres() => bail!(
                "personal data needs encryption keys: set MELT_DATA_KEYS and MELT_PERSON_HASH_KEY \
                 (the development keys are for SQLite only)"
            ),
            (None, None) if settings.dev_data_keys => {
                let path = &settings.dev_data_key_file;
                if !path.exists() {
                    let keys = DevKeys {
                        data_keys: format!("dev1={}", random_key()),
                        person_hash_key: random_key(),
                    };
                    let json = serde_json::to_string_pretty(&keys)?;
                    if let Err(error) = crate::auth::keys::write_private(path, &json)
                        && !path.exists()
                    {
                        return Err(error);
                    }
                    tracing::warn!(path = %path.display(), "created development data keys");
                }
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let keys: DevKeys = serde_json::from_str(&text)
                    .with_context(|| format!("invalid {}", path.display()))?;
                Self::new(&keys.data_keys, None, &keys.person_hash_key)
            }
            (None, None) => bail!(
                "personal data needs encryption keys: set MELT_DATA_KEYS and MELT_PERSON_HASH_KEY, \
                 or MELT_DEV_DATA_KEYS=true on SQLite"
            ),
        }
    }

    /// Parses `id=base64,...` data keys and the hash key.
    pub fn new(data_keys: &str, current: Option<&str>, hash_key: &str) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        let mut last = None;
        for entry in data_keys
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (id, key) = entry
                .split_once('=')
                .context("data keys are `id=base64` pairs")?;
            let id = id.trim();
            if id.is_empty() || id.contains(':') {
                bail!("a data key id must be non-empty and without `:`");
            }
            let bytes = STANDARD
                .decode(key.trim())
                .context("a data key is not base64")?;
            if bytes.len() != 32 {
                bail!("data key {id} must be 32 bytes");
            }
            let cipher = Aes256Gcm::new_from_slice(&bytes).context("data key")?;
            keys.insert(id.to_owned(), cipher);
            last = Some(id.to_owned());
        }
        let current = match current {
            Some(id) if keys.contains_key(id) => id.to_owned(),
            Some(id) => bail!("data_key_current {id} is not among data_keys"),
            None => last.context("no data key given")?,
        };
        let hash_key = STANDARD
            .decode(hash_key.trim())
            .context("person_hash_key is not base64")?;
        if hash_key.len() < 32 {
            bail!("person_hash_key must be at least 32 bytes");
        }
        Ok(Self {
            current,
            keys,
            hash_key,
        })
    }

    /// Encrypts with the current key: `<key id>:<base64(nonce || ciphertext)>`.
    pub fn encrypt(&self, plaintext: &str) -> AppResult<String> {
        let cipher = self.keys.get(&self.current).ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("the current data key is missing"))
        })?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| AppError::internal(anyhow::anyhow!("encryption failed")))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{}:{}", self.current, STANDARD.encode(bytes)))
    }

    /// Decrypts a value produced by [`DataProtection::encrypt`] with any known key.
    pub fn decrypt(&self, stored: &str) -> AppResult<String> {
        let fail = |what: &str| AppError::internal(anyhow::anyhow!("cannot decrypt: {what}"));
        let (id, data) = stored.split_once(':').ok_or_else(|| fail("no key id"))?;
        let cipher = self.keys.get(id).ok_or_else(|| fail("unknown key id"))?;
        let bytes = STANDARD.decode(data).map_err(|_| fail("not base64"))?;
        if bytes.len() < 12 {
            return Err(fail("too short"));
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| fail("bad nonce"))?;
        let plain = cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| fail("authentication failed"))?;
        String::from_utf8(plain).map_err(|_| fail("not UTF-8"))
    }

    /// Encrypts free text about a person; the empty text (as left by erasure) stays
    /// empty.
    pub fn encrypt_text(&self, plaintext: &str) -> AppResult<String> {
        if plaintext.is_empty() {
            Ok(String::new())
        } else {
            self.encrypt(plaintext)
        }
    }

    /// Decrypts free text written by [`DataProtection::encrypt_text`].
    pub fn decrypt_text(&self, stored: &str) -> AppResult<String> {
        if stored.is_empty() {
            Ok(String::new())
        } else {
            self.decrypt(stored)
        }
    }

    /// True when `stored` was encrypted with the current key.
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .split_once(':')
            .is_some_and(|(id, _)| id == self.current)
    }

    /// Keyed hash (hex HMAC-SHA-256) of an already normalised value.
    pub fn fingerprint(&self, normalised: &str) -> AppResult<String> {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.hash_key)
            .map_err(|_| AppError::internal(anyhow::anyhow!("invalid hash key")))?;
        mac.update(normalised.as_bytes());
        Ok(mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protection(keys: &str, current: Option<&str>) -> DataProtection {
        DataProtection::new(keys, current, &random_key()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn values_round_trip_and_carry_their_key_id() {
        let p = protection(&format!("k1={}", random_key()), None);
        let sealed = p.encrypt("RSSMRA85T10A562S").unwrap_or_default();
        assert!(sealed.starts_with("k1:"));
        assert!(!sealed.contains("RSSMRA"));
        assert_eq!(p.decrypt(&sealed).ok().as_deref(), Some("RSSMRA85T10A562S"));
        assert_ne!(
            p.encrypt("x").ok(),
            p.encrypt("x").ok(),
            "a fresh nonce every time"
        );
    }

    #[test]
    fn an_old_key_still_decrypts_after_rotation() {
        let (k1, k2) = (random_key(), random_key());
        let old = protection(&format!("k1={k1}"), None);
        let sealed = old.encrypt("Maria").unwrap_or_default();
        let rotated = protection(&format!("k1={k1},k2={k2}"), None);
        assert!(!rotated.is_current(&sealed));
        assert_eq!(rotated.decrypt(&sealed).ok().as_deref(), Some("Maria"));
        assert!(rotated.is_current(&rotated.encrypt("Maria").unwrap_or_default()));
    }

    #[test]
    fn tampering_and_unknown_keys_fail() {
        let p = protection(&format!("k1={}", random_key()), None);
        let sealed = p.encrypt("Maria").unwrap_or_default();
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(p.decrypt(&tampered).is_err());
        let other = protection(&format!("k9={}", random_key()), None);
        assert!(other.decrypt(&sealed).is_err());
    }

    #[test]
    fn the_fingerprint_is_keyed() {
        let keys = format!("k1={}", random_key());
        let a = protection(&keys, None);
        let b = protection(&keys, None);
        let print = |p: &DataProtection| p.fingerprint("X").unwrap_or_default();
        assert_eq!(print(&a), print(&a));
        assert_ne!(print(&a), print(&b), "different hash keys");
        assert_eq!(print(&a).len(), 64);
    }

    #[test]
    fn postgres_refuses_to_start_without_keys_even_with_the_development_setting() {
        let settings = Settings {
            database_url: "postgres://localhost/melt".into(),
            dev_data_keys: true,
            ..Settings::default()
        };
        assert!(DataProtection::from_settings(&settings).is_err());
        let with_keys = Settings {
            data_keys: Some(format!("k1={}", random_key()).into()),
            person_hash_key: Some(random_key().into()),
            ..settings
        };
        assert!(DataProtection::from_settings(&with_keys).is_ok());
    }

    #[test]
    fn sqlite_uses_development_keys_only_when_allowed_and_keeps_them() {
        let dir = std::env::temp_dir().join(format!("melt-dev-keys-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let file = dir.join("keys.json");
        let refused = Settings {
            dev_data_keys: false,
            dev_data_key_file: file.clone(),
            ..Settings::default()
        };
        assert!(DataProtection::from_settings(&refused).is_err());
        assert!(!file.exists());
        let allowed = Settings {
            dev_data_keys: true,
            ..refused
        };
        let first = DataProtection::from_settings(&allowed).unwrap_or_else(|e| panic!("{e}"));
        assert!(file.exists());
        let sealed = first.encrypt("Maria").unwrap_or_default();
        let again = DataProtection::from_settings(&allowed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            again.decrypt(&sealed).ok().as_deref(),
            Some("Maria"),
            "the same keys"
        );
        std::fs::remove_dir_all(&dir).unwrap_or_default();
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(DataProtection::new("k1=short", None, &random_key()).is_err());
        assert!(
            DataProtection::new(&format!("k1={}", random_key()), Some("k2"), &random_key())
                .is_err()
        );
        assert!(DataProtection::new(&format!("k1={}", random_key()), None, "c2hvcnQ=").is_err());
    }
}
