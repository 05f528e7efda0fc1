//! Reading and checking the guest config file.

use std::path::{Path, PathBuf};

use gopilot_guest_api::{GuestConfig, InvalidConfig};

/// Failure to read, parse or validate the config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read guest config {path}: {source}; pass the right file with --config PATH")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("guest config {path} is not valid JSON for GuestConfig: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("guest config {path}: {source}")]
    Invalid {
        path: PathBuf,
        source: InvalidConfig,
    },
}

/// Reads, parses and validates the config at `path`.
pub fn load(path: &Path) -> Result<GuestConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;

    let config: GuestConfig = serde_json::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })?;

    config.validate().map_err(|source| ConfigError::Invalid {
        path: path.to_owned(),
        source,
    })?;
    Ok(config)
}
