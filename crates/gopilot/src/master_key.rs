//! The master key that seals secrets at rest.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gopilot_core::secret::{SecretCipher, MASTER_KEY_LEN};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("master_key setting is not valid base64 of {MASTER_KEY_LEN} bytes")]
    InvalidSetting,
    #[error("master key file {path} is not {MASTER_KEY_LEN} bytes of base64")]
    InvalidFile { path: String },
    #[error("master key file {path} has mode {mode:o}; it must be readable by its owner only (chmod 600)")]
    Permissions { path: String, mode: u32 },
    #[error("cannot access master key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Loads the master key from the setting, or from `<data_dir>/master.key`,
/// creating that file with mode 0600 on first use.
pub fn load(setting: &str, data_dir: &Path) -> Result<SecretCipher, MasterKeyError> {
    if !setting.is_empty() {
        let key = STANDARD.decode(setting.trim()).map_err(|_| MasterKeyError::InvalidSetting)?;
        return SecretCipher::new(&key).map_err(|_| MasterKeyError::InvalidSetting);
    }

    let path = data_dir.join("master.key");
    let shown = path.display().to_string();
    let io = |source| MasterKeyError::Io { path: shown.clone(), source };

    if !path.exists() {
        let key = SecretCipher::generate_master_key();
        let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
        file.write_all(STANDARD.encode(key).as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        tracing::info!(path = %shown, "created master key");
    }

    let mode = fs::metadata(&path).map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(MasterKeyError::Permissions { path: shown, mode });
    }
    let text = fs::read_to_string(&path).map_err(io)?;
    let key = STANDARD
        .decode(text.trim())
        .map_err(|_| MasterKeyError::InvalidFile { path: shown.clone() })?;
    SecretCipher::new(&key).map_err(|_| MasterKeyError::InvalidFile { path: shown })
}
