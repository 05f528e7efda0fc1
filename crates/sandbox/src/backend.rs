//! The backend-neutral contract: what the layer above may ask of a sandbox.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::SandboxError;

/// Everything needed to create one sandbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// Sandbox id: 1 to 63 characters of `[a-z0-9]`, so it is a DNS label.
    /// It is also the sandbox's hostname.
    pub id: String,
    /// Root filesystem directory of the image; its files are owned by uid 0.
    /// The backend never changes it.
    pub image_rootfs: PathBuf,
    /// Host directory that persists across stop/start; created if missing.
    pub volume_dir: PathBuf,
    /// Absolute path inside the sandbox where `volume_dir` is mounted, for
    /// example `/root/.openclaw` or `/workspace`.
    pub volume_mount: String,
    pub limits: Limits,
    /// Program and arguments of the sandbox's init process.
    pub command: Vec<String>,
    /// Extra environment variables of the init process (and of `exec`).
    pub env: Vec<(String, String)>,
    /// Free-form labels stored with the sandbox and returned by `list`, so
    /// the layer above can recognise its sandboxes after a restart.
    pub labels: BTreeMap<String, String>,
}

/// Resource limits of one sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU quota in cores (0.5 is half a core).
    pub cpus: f64,
    /// Memory limit in bytes; swap is not allowed beyond it.
    pub memory_bytes: u64,
    /// Maximum number of processes and threads.
    pub pids: u64,
}

/// Lifecycle state of a sandbox as the backend observes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxState {
    /// Prepared by `create` (root filesystem, network, bundle) and never
    /// started, or in the middle of `start`.
    Created,
    Running,
    /// Every process is frozen.
    Paused,
    /// No process runs; the upper layer and the volume are kept.
    Stopped,
    /// No sandbox with this id exists.
    Missing,
}

/// Result of [`Backend::status`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxStatus {
    pub state: SandboxState,
    /// True when the kernel OOM killer killed a process of the sandbox since
    /// its last start.
    pub oom_killed: bool,
    /// Exit code of the init process once it has exited, where the backend
    /// can observe it.
    pub exit_code: Option<i32>,
}

/// Where the layer above reaches a sandbox from the host. Callers add ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
}

/// Resource usage read from the sandbox's cgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceUsage {
    /// CPU time used by all processes since start, in nanoseconds.
    pub cpu_usage_ns: u64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
}

/// One entry of [`Backend::list`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub state: SandboxState,
}

/// Features that differ between backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// True when `stop` keeps the processes' memory and `start` restores it,
    /// so a stopped agent continues where it was instead of restarting.
    pub memory_snapshot: bool,
}

/// Output of a command run inside a sandbox with [`Backend::exec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code, or 128 + signal number when a signal ended the process.
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// What [`Backend::destroy`] does with the sandbox's volume directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeAction {
    /// Leave the volume directory and its files on the host.
    Keep,
    /// Delete the volume directory with everything in it.
    Remove,
}

/// A place where sandboxes run.
///
/// Every method is keyed by the sandbox id and safe to call from several
/// tasks at once. Methods document which repeated calls are no-ops, so a
/// reconciler can call them again after a crash without checking first.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Prepares a sandbox without running it: root filesystem layers, an
    /// address and the runtime bundle. Fails with `AlreadyExists` when the
    /// id is taken.
    async fn create(&self, spec: &SandboxSpec) -> Result<(), SandboxError>;

    /// Runs the sandbox's command. A no-op when it is already running or
    /// paused. After `stop` it starts again with the same upper layer,
    /// volume and address (and memory, where `capabilities()` says so).
    async fn start(&self, id: &str) -> Result<(), SandboxError>;

    /// Freezes every process of the sandbox. A no-op when already paused.
    /// Fails with `NotRunning` when it is not running.
    async fn pause(&self, id: &str) -> Result<(), SandboxError>;

    /// Thaws a paused sandbox. A no-op when it is already running.
    /// Fails with `NotRunning` when it is stopped or never started.
    async fn resume(&self, id: &str) -> Result<(), SandboxError>;

    /// Sends SIGTERM to the init process, waits up to `grace`, then kills
    /// every process. Keeps the upper layer, the volume and the address.
    /// A no-op when the sandbox is already stopped or never started.
    async fn stop(&self, id: &str, grace: Duration) -> Result<(), SandboxError>;

    /// Removes the sandbox entirely: processes, root filesystem layers,
    /// network, cgroups and state. The volume is kept or removed as `volume`
    /// says. A no-op when the sandbox does not exist.
    async fn destroy(&self, id: &str, volume: VolumeAction) -> Result<(), SandboxError>;

    /// Returns the observed state; `Missing` (not an error) for an unknown id.
    async fn status(&self, id: &str) -> Result<SandboxStatus, SandboxError>;

    /// Returns the sandbox's address, stable across stop and start.
    async fn endpoint(&self, id: &str) -> Result<Endpoint, SandboxError>;

    /// Returns current resource usage. Fails with `NotRunning` when no
    /// process runs.
    async fn usage(&self, id: &str) -> Result<ResourceUsage, SandboxError>;

    /// Lists every sandbox this backend's state holds, running or not, so the
    /// layer above can adopt them after a restart.
    async fn list(&self) -> Result<Vec<SandboxInfo>, SandboxError>;

    /// Runs `argv` inside a running sandbox as its root user and waits for it
    /// to exit, at most `timeout`.
    async fn exec(
        &self,
        id: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, SandboxError>;

    fn capabilities(&self) -> Capabilities;

    /// Address on the host that sandboxes use to reach host services such
    /// as the LLM gateway.
    fn host_ip(&self) -> std::net::Ipv4Addr;
}

/// Checks an id: 1 to 63 characters of `[a-z0-9]`.
pub(crate) fn validate_id(id: &str) -> Result<(), SandboxError> {
    let valid = !id.is_empty()
        && id.len() <= 63
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if valid {
        return Ok(());
    }
    Err(SandboxError::InvalidSpec(format!(
        "sandbox id {id:?} must be 1 to 63 characters of a-z and 0-9"
    )))
}

impl SandboxSpec {
    /// Checks every field before anything is created on the host.
    pub fn validate(&self) -> Result<(), SandboxError> {
        validate_id(&self.id)?;
        let invalid = |message: String| Err(SandboxError::InvalidSpec(message));

        if !self.image_rootfs.is_absolute() || !self.image_rootfs.is_dir() {
            return invalid(format!(
                "image_rootfs {} must be an absolute path to an existing directory",
                self.image_rootfs.display()
            ));
        }
        if !self.volume_dir.is_absolute() {
            return invalid(format!(
                "volume_dir {} must be an absolute path",
                self.volume_dir.display()
            ));
        }
        let mount_ok = self.volume_mount.starts_with('/')
            && self.volume_mount != "/"
            && !self.volume_mount.split('/').any(|part| part == "..");
        if !mount_ok {
            return invalid(format!(
                "volume_mount {:?} must be an absolute path below / without '..'",
                self.volume_mount
            ));
        }
        if self.command.is_empty() {
            return invalid("command must name a program to run".to_string());
        }
        if !(self.limits.cpus.is_finite() && self.limits.cpus >= 0.01) {
            return invalid(format!(
                "limits.cpus {} must be at least 0.01",
                self.limits.cpus
            ));
        }
        if self.limits.memory_bytes < 4 * 1024 * 1024 {
            return invalid(format!(
                "limits.memory_bytes {} must be at least 4 MiB",
                self.limits.memory_bytes
            ));
        }
        if self.limits.pids == 0 {
            return invalid("limits.pids must be at least 1".to_string());
        }
        for (key, _) in &self.env {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return invalid(format!(
                    "environment variable name {key:?} must be non-empty without '=' or NUL"
                ));
            }
        }
        Ok(())
    }
}
