use gopilot_core::ValidationError;

/// Failure to render or validate an agent's runtime config.
///
/// [`RenderError::InvalidConfig`] is the caller's fault and maps to HTTP 400
/// (`invalid_request_error`), naming the field of the agent request. Every
/// other variant is a fault of the platform and maps to HTTP 500; see
/// [`RenderError::is_client_error`].
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The agent's configuration is one the runtime would reject.
    #[error("{field} {message}")]
    InvalidConfig {
        /// Dotted path of the request field, such as `channels.slack.botToken`.
        field: String,
        /// Problem description, phrased to follow the field name.
        message: String,
    },

    /// A secret that the platform generated is unusable. The value is never
    /// part of the message.
    #[error("agent secret {name} is unusable: {reason}; regenerate the agent's secrets")]
    InvalidSecret { name: &'static str, reason: String },

    /// A platform setting passed to the renderer is malformed.
    #[error("render setting {name} is invalid: {reason}, got {value:?}")]
    InvalidSetting { name: &'static str, value: String, reason: String },

    /// The runtime rejected a part of the config that the platform sets
    /// rather than the agent request, such as `gateway.customBindHost`.
    #[error("{runtime} rejected the rendered config at {path}: {message}")]
    Rejected { runtime: &'static str, path: String, message: String },

    /// The rendered guest supervisor config failed its own validation.
    #[error("rendered guest config is invalid: {0}")]
    GuestConfig(#[from] gopilot_guest_api::InvalidConfig),

    /// The runtime's validator could not run, so the config was not checked.
    #[error("{runtime} config validator failed to run: {reason}")]
    Validator { runtime: &'static str, reason: String },
}

impl RenderError {
    pub fn invalid_config(field: impl Into<String>, message: impl Into<String>) -> RenderError {
        RenderError::InvalidConfig { field: field.into(), message: message.into() }
    }

    /// Returns true when the agent request is at fault (HTTP 400), false for
    /// platform faults (HTTP 500).
    pub fn is_client_error(&self) -> bool {
        matches!(self, RenderError::InvalidConfig { .. })
    }

    /// Returns the request field the error is about, for 400 responses.
    pub fn field(&self) -> Option<&str> {
        match self {
            RenderError::InvalidConfig { field, .. } => Some(field),
            _ => None,
        }
    }
}

impl From<ValidationError> for RenderError {
    fn from(error: ValidationError) -> RenderError {
        RenderError::InvalidConfig { field: error.field, message: error.message }
    }
}
