use gopilot_core::secret::SecretError;
use gopilot_core::{LifecycleError, ValidationError};
use gopilot_store::StoreError;

/// A failure of a control-plane operation.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("{kind} {id:?} not found")]
    NotFound { kind: &'static str, id: String },
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored secrets cannot be opened: {0}")]
    Secret(#[from] SecretError),
    #[error("sandbox operation failed: {0}")]
    Sandbox(String),
    #[error("runtime config cannot be rendered: {0}")]
    Render(String),
    #[error("stored secrets are not valid JSON: {0}")]
    SecretFormat(#[from] serde_json::Error),
}

impl ServiceError {
    pub(crate) fn agent_not_found(id: &str) -> ServiceError {
        ServiceError::NotFound { kind: "agent", id: id.to_string() }
    }
}
