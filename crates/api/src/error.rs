//! The API's error format and the one table that maps every failure to an
//! HTTP status, error type and code.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gopilot_control::ServiceError;
use gopilot_core::{LifecycleError, ValidationError};
use serde::Serialize;
use utoipa::ToSchema;

/// Body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Error class: `invalid_request_error`, `authentication_error`,
    /// `authorization_error`, `not_found_error`, `rate_limit_error` or
    /// `server_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Machine-readable reason, such as `missing_scope` or `agent_not_running`.
    pub code: &'static str,
    /// What was wrong, naming the field or value.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// Every error the API returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String, Option<String>),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("this API key lacks the {0} scope, which this request needs")]
    MissingScope(gopilot_core::Scope),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    RouteNotFound(String),
    #[error("method {0} is not allowed on this path")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    AgentNotRunning(String),
    #[error("request body exceeds the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A workspace file over the guest's size limit.
    #[error("{0}")]
    FileTooLarge(String),
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal server error; the request id identifies it in the server log")]
    Internal,
    /// The agent's sandbox refused or dropped the connection.
    #[error("{0}")]
    RuntimeUnavailable(String),
    /// The agent's sandbox sent an error without a JSON body, or a malformed response.
    #[error("{0}")]
    UpstreamError(String),
    /// The agent's sandbox did not respond in time.
    #[error("{0}")]
    RuntimeTimeout(String),
}

impl ApiError {
    /// Status, type and code: the table that fixes each error's mapping.
    pub(crate) fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::InvalidRequest(..) => (StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_request"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "authentication_error", "invalid_api_key"),
            ApiError::MissingScope(_) => (StatusCode::FORBIDDEN, "authorization_error", "missing_scope"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found_error", "not_found"),
            ApiError::RouteNotFound(_) => (StatusCode::NOT_FOUND, "not_found_error", "route_not_found"),
            ApiError::MethodNotAllowed(_) => {
                (StatusCode::METHOD_NOT_ALLOWED, "invalid_request_error", "method_not_allowed")
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "invalid_request_error", "invalid_state"),
            ApiError::AgentNotRunning(_) => (StatusCode::CONFLICT, "invalid_request_error", "agent_not_running"),
            ApiError::PayloadTooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error", "payload_too_large")
            }
            ApiError::FileTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error", "file_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request_error", "unsupported_media_type")
            }
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", "rate_limit_exceeded"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal_error"),
            ApiError::RuntimeUnavailable(_) => (StatusCode::BAD_GATEWAY, "server_error", "runtime_unavailable"),
            ApiError::UpstreamError(_) => (StatusCode::BAD_GATEWAY, "server_error", "upstream_error"),
            ApiError::RuntimeTimeout(_) => (StatusCode::GATEWAY_TIMEOUT, "server_error", "runtime_timeout"),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::InvalidRequest(message.into(), None)
    }

    pub fn status(&self) -> StatusCode {
        self.classify().0
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> ApiError {
        ApiError::InvalidRequest(err.to_string(), Some(err.field))
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> ApiError {
        match err {
            ServiceError::Validation(err) => err.into(),
            ServiceError::NotFound { kind: "agent", id } => ApiError::NotFound(format!("agent {id:?} not found")),
            ServiceError::NotFound { kind, id } => ApiError::NotFound(format!("{kind} {id:?} not found")),
            ServiceError::Lifecycle(err @ LifecycleError::NotRunning) => ApiError::AgentNotRunning(err.to_string()),
            ServiceError::Lifecycle(err @ LifecycleError::Conflict { .. }) => ApiError::Conflict(err.to_string()),
            err @ (ServiceError::Store(_)
            | ServiceError::Secret(_)
            | ServiceError::SecretFormat(_)
            | ServiceError::Sandbox(_)
            | ServiceError::Render(_)) => {
                // Logged here, once, because the response hides the cause.
                tracing::error!(error = %err, "request failed");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, code) = self.classify();
        let param = match &self {
            ApiError::InvalidRequest(_, param) => param.clone(),
            _ => None,
        };
        let body = ErrorBody { error: ErrorDetail { kind, code, message: self.to_string(), param } };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert("retry-after", HeaderValue::from(retry_after_secs));
        }
        response
    }
}
