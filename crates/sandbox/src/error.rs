use std::path::PathBuf;
use std::time::Duration;

/// Errors of the sandbox layer.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The spec handed to `create` is invalid.
    #[error("invalid sandbox spec: {0}")]
    InvalidSpec(String),

    /// The backend configuration is invalid.
    #[error("invalid sandbox backend config: {0}")]
    InvalidConfig(String),

    /// No sandbox with this id exists in the state directory.
    #[error("sandbox {id} not found")]
    NotFound { id: String },

    /// `create` was called for an id that already has a sandbox.
    #[error("sandbox {id} already exists; destroy it first or use another id")]
    AlreadyExists { id: String },

    /// The operation needs a running (or paused) sandbox.
    #[error("sandbox {id} is not running; start it first")]
    NotRunning { id: String },

    /// The sandbox's command exited while the sandbox was being started.
    #[error("the command of sandbox {id} exited during start; its output is in {console_log}")]
    InitExited { id: String, console_log: PathBuf },

    /// A host tool the backend needs is not installed.
    #[error("{tool} not found on PATH; install the Debian package {package}")]
    MissingTool { tool: String, package: String },

    /// A host command (runc, ip, nft, ...) exited with an error.
    #[error("`{command}` failed with {status}: {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },

    /// A host command or a wait did not finish in time.
    #[error("{what} timed out after {timeout:?}")]
    Timeout { what: String, timeout: Duration },

    /// No free address is left in the sandbox subnet.
    #[error(
        "no free address left in subnet {subnet}; destroy sandboxes or configure a larger subnet"
    )]
    AddressesExhausted { subnet: String },

    /// A file-system operation on the host failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A state or bundle file could not be read or written as JSON.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// The OCI runtime spec could not be built.
    #[error("building the OCI runtime spec failed: {0}")]
    OciSpec(#[from] oci_spec::OciSpecError),
}

impl SandboxError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        SandboxError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
