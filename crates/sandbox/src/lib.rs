//! Sandboxes: where an agent runs.
//!
//! The layer above talks to a [`Backend`] only. [`runc::RuncBackend`] is the
//! first implementation (OCI containers with runc, or gVisor's runsc as the
//! OCI runtime); a microVM backend implements the same trait.

mod backend;
mod error;
pub mod runc;

pub use backend::{
    Backend, Capabilities, Endpoint, ExecOutput, Limits, ResourceUsage, SandboxInfo, SandboxSpec,
    SandboxState, SandboxStatus, VolumeAction,
};
pub use error::SandboxError;
