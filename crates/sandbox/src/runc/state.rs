//! On-disk layout of one sandbox and its small JSON state file.
//!
//! ```text
//! <state_dir>/sandboxes/<id>/
//!     state.json     SandboxRecord
//!     bundle/        config.json for the OCI runtime; rootfs -> ../merged
//!     upper/ work/   overlayfs upper and work directories
//!     merged/        overlayfs mount point, mounted only while running
//!     etc/           resolv.conf and hosts, bind-mounted read-only
//!     console.log    stdout and stderr of the init process
//!     runtime.log    the OCI runtime's own log
//!     checkpoint/    memory snapshot (runsc only)
//! ```

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{SandboxError, SandboxSpec};

/// Persistent facts about one sandbox, written at create and updated at
/// start and stop.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SandboxRecord {
    pub spec: SandboxSpec,
    /// Uid-shifted image copy used as the overlay's lower layer.
    pub lower: PathBuf,
    pub ip: Ipv4Addr,
    /// Host-side veth name; stored because it is derived from a hash and
    /// must be found again by `destroy`.
    pub host_veth: String,
    /// Absolute cgroup v1 directories of the running container, keyed by
    /// controller ("memory", "cpuacct"), recorded at start.
    #[serde(default)]
    pub cgroups: BTreeMap<String, PathBuf>,
    /// True once `start` has succeeded at least once.
    #[serde(default)]
    pub started_once: bool,
    /// OOM kill seen during the last run, saved before the cgroup is removed.
    #[serde(default)]
    pub oom_killed: bool,
}

/// Paths of one sandbox's files.
#[derive(Clone, Debug)]
pub(crate) struct SandboxPaths {
    pub dir: PathBuf,
}

impl SandboxPaths {
    pub fn new(state_dir: &Path, id: &str) -> Self {
        SandboxPaths {
            dir: sandboxes_dir(state_dir).join(id),
        }
    }

    pub fn record(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }

    pub fn etc(&self) -> PathBuf {
        self.dir.join("etc")
    }

    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    pub fn runtime_log(&self) -> PathBuf {
        self.dir.join("runtime.log")
    }

    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }
}

pub(crate) fn sandboxes_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("sandboxes")
}

/// Reads a sandbox's record; `None` when the sandbox does not exist.
pub(crate) fn load(paths: &SandboxPaths) -> Result<Option<SandboxRecord>, SandboxError> {
    let path = paths.record();
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(SandboxError::io("reading", path, error)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| SandboxError::Json { path, source })
}

/// Writes a record atomically (temporary file, then rename), so a crash
/// never leaves a half-written state file.
pub(crate) fn save(paths: &SandboxPaths, record: &SandboxRecord) -> Result<(), SandboxError> {
    let path = paths.record();
    let temporary = paths.dir.join("state.json.tmp");
    let bytes = serde_json::to_vec_pretty(record).map_err(|source| SandboxError::Json {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&temporary, bytes).map_err(|e| SandboxError::io("writing", &temporary, e))?;
    std::fs::rename(&temporary, &path).map_err(|e| SandboxError::io("renaming", &path, e))
}
