//! Finds the `gopilot-guest` supervisor binary that every image contains.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::ImageError;
use super::host_config::is_executable;

const GUEST_BINARY: &str = "gopilot-guest";
const GUEST_BIN_ENV: &str = "GOPILOT_GUEST_BIN";

/// Returns the path of the guest binary: `explicit` if given, else
/// `GOPILOT_GUEST_BIN`, else next to the current executable, else in the
/// workspace's `target/{debug,release}` (where `cargo test` finds it, since
/// test binaries live in `target/<profile>/deps`).
pub fn locate_guest_binary(explicit: Option<&Path>) -> Result<PathBuf, ImageError> {
    let mut searched = Vec::new();

    if let Some(path) = explicit {
        if is_executable(path) {
            return Ok(path.to_path_buf());
        }
        searched.push(path.display().to_string());
        return Err(ImageError::GuestNotFound {
            searched: searched.join(", "),
        });
    }

    if let Some(path) = std::env::var_os(GUEST_BIN_ENV) {
        let path = PathBuf::from(path);
        if is_executable(&path) {
            return Ok(path);
        }
        searched.push(format!("{GUEST_BIN_ENV}={}", path.display()));
        return Err(ImageError::GuestNotFound {
            searched: searched.join(", "),
        });
    }

    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join(GUEST_BINARY));
        // Test and example binaries run from target/<profile>/deps or examples.
        if let Some(profile_dir) = dir.parent() {
            candidates.push(profile_dir.join(GUEST_BINARY));
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for profile in ["debug", "release"] {
        candidates.push(workspace.join("target").join(profile).join(GUEST_BINARY));
    }

    for candidate in candidates {
        if is_executable(&candidate) {
            return Ok(candidate);
        }
        searched.push(candidate.display().to_string());
    }
    Err(ImageError::GuestNotFound {
        searched: searched.join(", "),
    })
}

/// Returns the lowercase hex SHA-256 of the file at `path`.
pub fn sha256_file(path: &Path) -> Result<String, ImageError> {
    let mut file =
        std::fs::File::open(path).map_err(|source| ImageError::io("open", path, source))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|source| ImageError::io("read", path, source))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}
