use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::credentials::TokenResolverError;

/// Failure to build a [`crate::Gateway`].
#[derive(Debug, thiserror::Error)]
#[error("failed to build the gateway's HTTP client: {0}")]
pub struct GatewayBuildError(#[from] reqwest::Error);

/// A failure the gateway reports itself, in place of the provider's response.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(
        "missing gateway token: send it as `Authorization: Bearer <token>` or `x-api-key: <token>`"
    )]
    MissingToken,

    #[error("invalid gateway token: it belongs to no agent; use the token from the agent's runtime configuration")]
    InvalidToken,

    #[error(transparent)]
    TokenLookup(#[from] TokenResolverError),

    #[error("unknown provider `{provider}`: configure an upstream named `{provider}` or use /anthropic, /openai or /openrouter")]
    UnknownProvider { provider: String },

    #[error("unsupported endpoint {method} /{path} for provider `{provider}`")]
    UnknownEndpoint {
        provider: String,
        method: String,
        path: String,
    },

    #[error("no API key for provider `{provider}` is configured for this agent; add an llm key for `{provider}`")]
    MissingProviderKey { provider: String },

    #[error("the API key stored for provider `{provider}` is not a valid HTTP header value; replace the agent's llm key for `{provider}`")]
    InvalidProviderKey { provider: String },

    #[error("the request body exceeds the gateway limit of {limit_bytes} bytes; send a smaller request or raise the gateway's body limit")]
    BodyTooLarge { limit_bytes: usize },

    #[error("failed to read the request body: {reason}")]
    BodyRead { reason: String },

    #[error("the request body is not valid JSON: {reason}")]
    InvalidJson { reason: String },

    #[error("provider `{provider}` is unreachable: {reason}")]
    UpstreamUnreachable { provider: String, reason: String },

    #[error("provider `{provider}` did not respond within {} s", timeout.as_secs_f64())]
    UpstreamTimeout { provider: String, timeout: Duration },
}

impl GatewayError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::TokenLookup(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::UnknownProvider { .. } | Self::UnknownEndpoint { .. } => StatusCode::NOT_FOUND,
            Self::MissingProviderKey { .. }
            | Self::InvalidProviderKey { .. }
            | Self::BodyRead { .. }
            | Self::InvalidJson { .. } => StatusCode::BAD_REQUEST,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UpstreamUnreachable { .. } => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Returns the `error.type` field, one of the API's error types.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::MissingToken | Self::InvalidToken => "authentication_error",
            Self::UnknownProvider { .. } | Self::UnknownEndpoint { .. } => "not_found_error",
            Self::MissingProviderKey { .. }
            | Self::InvalidProviderKey { .. }
            | Self::BodyTooLarge { .. }
            | Self::BodyRead { .. }
            | Self::InvalidJson { .. } => "invalid_request_error",
            Self::TokenLookup(_)
            | Self::UpstreamUnreachable { .. }
            | Self::UpstreamTimeout { .. } => "server_error",
        }
    }

    /// Returns the `error.code` field, stable for clients to match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_gateway_token",
            Self::InvalidToken => "invalid_gateway_token",
            Self::TokenLookup(_) => "token_lookup_failed",
            Self::UnknownProvider { .. } => "unknown_provider",
            Self::UnknownEndpoint { .. } => "unknown_endpoint",
            Self::MissingProviderKey { .. } => "missing_provider_key",
            Self::InvalidProviderKey { .. } => "invalid_provider_key",
            Self::BodyTooLarge { .. } => "request_too_large",
            Self::BodyRead { .. } => "invalid_body",
            Self::InvalidJson { .. } => "invalid_json",
            Self::UpstreamUnreachable { .. } => "upstream_unreachable",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {"type": self.error_type(), "code": self.code(), "message": self.to_string()}
        });
        (self.status(), Json(body)).into_response()
    }
}
