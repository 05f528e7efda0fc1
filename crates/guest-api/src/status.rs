//! Bodies of the status, readiness and runtime control routes.

use serde::{Deserialize, Serialize};

/// Supervision state of the runtime process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeState {
    /// The process was spawned and its readiness check has not passed yet.
    Starting,
    /// The process is alive and its readiness check passed at least once since spawn.
    Running,
    /// The process exited and the guest waits before the next restart.
    Backoff,
    /// The guest sent SIGTERM to the process group, for a restart or a shutdown.
    Stopping,
    /// The process is gone and the guest will not start it again (the guest is shutting down).
    Exited,
}

/// Exit of the last runtime process. Exactly one of `code` and `signal` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Exit code when the process called `exit`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<i32>,
    /// Signal name, e.g. `SIGKILL`, when a signal ended the process.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signal: Option<String>,
    /// Time the guest reaped the process, RFC 3339 UTC.
    pub at: String,
}

/// The runtime part of `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeStatus {
    pub state: RuntimeState,
    /// PID of the runtime process (also its process group id), while one is alive.
    pub pid: Option<u32>,
    /// Spawn time of the current or last process, RFC 3339 UTC.
    pub started_at: Option<String>,
    /// Spawns after the first one, whether after an exit or on request.
    pub restarts: u64,
    pub last_exit: Option<ExitRecord>,
}

/// Body of `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestStatus {
    pub runtime: RuntimeStatus,
    /// Result of the (cached) readiness check, as `GET /v1/ready` returns it.
    pub ready: bool,
    /// Version of the `gopilot-guest` binary.
    pub guest_version: String,
}

/// Body of `GET /v1/ready`: 200 with `ready: true`, or 503 with `ready: false` and a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyResponse {
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

/// Signals that `POST /v1/runtime/signal` may send to the runtime process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuntimeSignal {
    #[serde(rename = "SIGHUP")]
    Sighup,
    #[serde(rename = "SIGUSR1")]
    Sigusr1,
}

/// Body of `POST /v1/runtime/signal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRequest {
    pub signal: RuntimeSignal,
}
