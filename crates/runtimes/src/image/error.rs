use std::path::PathBuf;

use super::step::Step;

/// Failures of building, listing or reading runtime images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A filesystem operation on the image store failed.
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An external tool could not be started.
    #[error("step `{step}` failed: could not start {program}: {source}; check that it is installed and on PATH")]
    Spawn {
        step: Step,
        program: String,
        #[source]
        source: std::io::Error,
    },

    /// An external tool ran and exited unsuccessfully.
    #[error("step `{step}` failed: {program} exited with {status}; last lines of its output:\n{output_tail}")]
    ToolFailed {
        step: Step,
        program: String,
        status: String,
        output_tail: String,
    },

    /// A step finished but its result is not what the image needs.
    #[error("step `{step}` failed: {reason}")]
    StepInvalid { step: Step, reason: String },

    /// The host's apt sources have no usable Debian mirror for the suite.
    #[error("no `deb` source for suite `{suite}` with component `main` found in {searched}; add one to the host's apt sources")]
    MirrorNotFound { suite: String, searched: String },

    /// The supervisor binary to copy into the image was not found.
    #[error("gopilot-guest binary not found (searched: {searched}); build it with `cargo build -p gopilot-guest` or set GOPILOT_GUEST_BIN")]
    GuestNotFound { searched: String },

    /// A manifest file could not be read or written.
    #[error("invalid manifest {}: {source}", path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// A directory that is about to be deleted still has a mount inside it,
    /// so deleting it would delete files of the mounted filesystem.
    #[error("refusing to remove {}: {} is still mounted; unmount it first", path.display(), mount_point.display())]
    MountedInside { path: PathBuf, mount_point: PathBuf },

    /// Building needs root because debootstrap, mount and chroot do.
    #[error("building images requires root (debootstrap, mount and chroot need it); current uid is {uid}")]
    NotRoot { uid: u32 },
}

impl ImageError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        ImageError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
