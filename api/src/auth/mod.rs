//! Identity: who is calling. Tokens are verified here; what a caller may do is decided
//! in [`policy`].

pub mod keys;
pub mod policy;
pub mod standing;
pub mod token;
pub mod viewer;

pub use viewer::{Role, Viewer};

use keys::{KeyRing, ServerKey};

/// Keys of a running server: its own signing key and every verification key.
pub struct AuthState {
    /// The server's own signing key.
    pub server_key: ServerKey,
    /// Keys tokens are verified with.
    pub keys: KeyRing,
}

impl AuthState {
    /// Loads (or creates) the signing key and builds the key ring.
    pub async fn from_settings(settings: &crate::settings::Settings) -> anyhow::Result<Self> {
        let server_key = ServerKey::load_or_create(&settings.signing_key_file)?;
        let keys = KeyRing::from_settings(settings, &server_key).await?;
        Ok(Self { server_key, keys })
    }
}
