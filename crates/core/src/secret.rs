//! Secrets at rest and API key material.
//!
//! Provider keys and channel credentials are sealed with XChaCha20-Poly1305
//! under a 256-bit master key. The record's id is the associated data, so a
//! sealed blob copied onto another record fails to open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

/// Prefix of every GoPilot API key.
pub const API_KEY_PREFIX: &str = "gopt_live_";

/// Random base62 characters after the prefix: 62^40 is about 2^238.
const API_KEY_RANDOM_LEN: usize = 40;

/// Minimum random part that an API key must have to be accepted.
const API_KEY_MIN_RANDOM_LEN: usize = 32;

const SEALED_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Length of a master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// A failure to seal or open a secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("master key must be {MASTER_KEY_LEN} bytes, got {0}")]
    MasterKeyLength(usize),
    #[error("sealed secret is malformed or uses an unknown format version")]
    Malformed,
    #[error("sealed secret failed authentication: wrong master key or record")]
    Authentication,
}

/// The cipher that seals secrets at rest.
#[derive(Clone)]
pub struct SecretCipher {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(..)")
    }
}

impl SecretCipher {
    pub fn new(master_key: &[u8]) -> Result<SecretCipher, SecretError> {
        if master_key.len() != MASTER_KEY_LEN {
            return Err(SecretError::MasterKeyLength(master_key.len()));
        }
        let cipher = XChaCha20Poly1305::new_from_slice(master_key)
            .map_err(|_| SecretError::MasterKeyLength(master_key.len()))?;
        Ok(SecretCipher { cipher })
    }

    /// Returns 32 random bytes for a new master key.
    pub fn generate_master_key() -> [u8; MASTER_KEY_LEN] {
        let mut key = [0u8; MASTER_KEY_LEN];
        OsRng.fill_bytes(&mut key);
        key
    }

    /// Encrypts `plaintext` bound to `record_id`. Output: version byte,
    /// 24-byte random nonce, ciphertext with its 16-byte tag.
    pub fn seal(&self, record_id: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload { msg: plaintext, aad: record_id.as_bytes() };
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");

        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEALED_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts a blob made by [`SecretCipher::seal`] for the same record.
    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != SEALED_VERSION {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        let payload = Payload { msg: ciphertext, aad: record_id.as_bytes() };
        self.cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SecretError::Authentication)
    }
}

/// Returns a new API key: `gopt_live_` and 40 random base62 characters.
pub fn generate_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", crate::id::random_base62(API_KEY_RANDOM_LEN))
}

/// Returns true when `key` has the shape of a GoPilot API key. A key of the
/// right shape may still be unknown or revoked.
pub fn is_well_formed_api_key(key: &str) -> bool {
    match key.strip_prefix(API_KEY_PREFIX) {
        Some(random) => {
            random.len() >= API_KEY_MIN_RANDOM_LEN
                && random.len() <= 128
                && random.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// Returns the lowercase hex SHA-256 of a token. API keys and gateway tokens
/// carry over 190 bits of entropy, so a fast hash is enough to store them.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Returns a hint that identifies a secret without revealing it: an ellipsis
/// and its last four characters, or only the ellipsis for short secrets.
pub fn secret_hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "...".to_string();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip() {
        let cipher = SecretCipher::new(&SecretCipher::generate_master_key()).unwrap();
        let sealed = cipher.seal("ag1", b"sk-ant-secret");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(cipher.open("ag1", &sealed).unwrap(), b"sk-ant-secret");
    }

    #[test]
    fn open_rejects_other_record() {
        let cipher = SecretCipher::new(&SecretCipher::generate_master_key()).unwrap();
        let sealed = cipher.seal("ag1", b"value");
        assert!(matches!(cipher.open("ag2", &sealed), Err(SecretError::Authentication)));
    }

    #[test]
    fn open_rejects_other_master_key() {
        let a = SecretCipher::new(&SecretCipher::generate_master_key()).unwrap();
        let b = SecretCipher::new(&SecretCipher::generate_master_key()).unwrap();
        let sealed = a.seal("ag1", b"value");
        assert!(matches!(b.open("ag1", &sealed), Err(SecretError::Authentication)));
    }

    #[test]
    fn open_rejects_truncated_blob() {
        let cipher = SecretCipher::new(&SecretCipher::generate_master_key()).unwrap();
        assert!(matches!(cipher.open("ag1", &[1, 2, 3]), Err(SecretError::Malformed)));
    }

    #[test]
    fn master_key_length_checked() {
        assert!(matches!(SecretCipher::new(&[0u8; 16]), Err(SecretError::MasterKeyLength(16))));
    }

    #[test]
    fn api_key_shape() {
        let key = generate_api_key();
        assert!(key.starts_with("gopt_live_"));
        assert!(is_well_formed_api_key(&key));
        assert!(!is_well_formed_api_key("gopt_live_short"));
        assert!(!is_well_formed_api_key("sk-ant-abcdefghijklmnopqrstuvwxyz0123456789"));
        assert!(!is_well_formed_api_key(&format!("{key}!")));
    }

    #[test]
    fn hint_shows_only_tail() {
        assert_eq!(secret_hint("sk-ant-api03-abcdefgh1234"), "...1234");
        assert_eq!(secret_hint("short"), "...");
    }
}
