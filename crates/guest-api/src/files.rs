//! Bodies of the workspace file routes (`/v1/files`).

use serde::{Deserialize, Serialize};

/// One regular file under the workspace root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the workspace root, with `/` separators.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time, RFC 3339 UTC.
    pub modified: String,
}

/// Body of `GET /v1/files`: every regular file under the workspace root,
/// sorted by path, with hidden names and symlinks left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileList {
    pub files: Vec<FileEntry>,
    /// True when the listing stopped at the guest's entry limit.
    pub truncated: bool,
}
