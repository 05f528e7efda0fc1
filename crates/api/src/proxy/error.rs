//! Failures of requests to runtimes and guests, and their mapping to the
//! API's error table.

use std::time::Duration;

use crate::error::ApiError;

/// Maximum length of the upstream error body quoted in a message, in characters.
const BODY_EXCERPT_CHARS: usize = 200;

/// A request to an agent's runtime or guest that failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The connection was refused, reset or could not be opened in time.
    /// The message leaves out the sandbox address; the log has the cause.
    #[error("cannot reach the {target} of agent {agent_id}: the connection failed; check the agent's status and logs")]
    Unavailable {
        agent_id: String,
        target: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// No complete response (or, for a stream, no next chunk) within `timeout`.
    #[error("the {target} of agent {agent_id} did not respond within {} s", timeout.as_secs_f64())]
    Timeout { agent_id: String, target: &'static str, timeout: Duration },
    /// An error status with a body that is not JSON, or a malformed response.
    #[error("the {target} of agent {agent_id} returned an invalid response: {detail}")]
    InvalidAnswer { agent_id: String, target: &'static str, detail: String },
}

impl ProxyError {
    /// Classifies a transport error of `reqwest`.
    pub(crate) fn from_transport(
        agent_id: &str,
        target: &'static str,
        timeout: Duration,
        source: reqwest::Error,
    ) -> ProxyError {
        // A connect timeout means the runtime is unreachable, not slow.
        if source.is_timeout() && !source.is_connect() {
            return ProxyError::Timeout { agent_id: agent_id.to_string(), target, timeout };
        }
        ProxyError::Unavailable { agent_id: agent_id.to_string(), target, source }
    }

    /// Describes an error status whose body is not JSON, quoting the body's
    /// start with secrets masked.
    pub(crate) fn bad_status(agent_id: &str, target: &'static str, status: u16, body: &[u8]) -> ProxyError {
        let text = String::from_utf8_lossy(body);
        let excerpt: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
        let excerpt = super::redact::redact_secrets(excerpt.trim());
        ProxyError::InvalidAnswer {
            agent_id: agent_id.to_string(),
            target,
            detail: format!("HTTP {status} with body {excerpt:?}"),
        }
    }

    pub fn agent_id(&self) -> &str {
        match self {
            ProxyError::Unavailable { agent_id, .. }
            | ProxyError::Timeout { agent_id, .. }
            | ProxyError::InvalidAnswer { agent_id, .. } => agent_id,
        }
    }
}

impl From<ProxyError> for ApiError {
    fn from(err: ProxyError) -> ApiError {
        // Logged here, once: the handler returns the error without logging.
        let cause = std::error::Error::source(&err).map(error_chain).unwrap_or_default();
        tracing::warn!(agent_id = %err.agent_id(), error = %err, cause, "request to agent sandbox failed");
        let message = err.to_string();
        match err {
            ProxyError::Unavailable { .. } => ApiError::RuntimeUnavailable(message),
            ProxyError::Timeout { .. } => ApiError::RuntimeTimeout(message),
            ProxyError::InvalidAnswer { .. } => ApiError::UpstreamError(message),
        }
    }
}

/// Joins an error and its sources with `: `, for the log.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(next) = source {
        text.push_str(": ");
        text.push_str(&next.to_string());
        source = next.source();
    }
    text
}
