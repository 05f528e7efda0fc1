//! One error type for every handler, mapped to a status and the
//! `{"error": {"type", "code", "message"}}` body in one table.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gopilot_guest_api::{ErrorBody, ErrorDetail};

use crate::files::FileError;
use crate::supervisor::SupervisorError;

/// A failed API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication failed: {0}; send `Authorization: Bearer <api_token>`")]
    Unauthorized(&'static str),
    #[error("invalid `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("request body is larger than max_file_bytes ({limit} bytes)")]
    FileTooLarge { limit: u64 },
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Supervisor(#[from] SupervisorError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// Status, error type and code of each error.
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        const INVALID: &str = "invalid_request_error";
        const NOT_FOUND: &str = "not_found_error";
        match self {
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid_api_token",
            ),
            ApiError::InvalidField { .. } => (StatusCode::BAD_REQUEST, INVALID, "invalid_request"),
            ApiError::RouteNotFound { .. } => (StatusCode::NOT_FOUND, NOT_FOUND, "route_not_found"),
            ApiError::FileTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, INVALID, "file_too_large")
            }
            ApiError::File(error) => match error {
                FileError::InvalidPath { .. } => (StatusCode::BAD_REQUEST, INVALID, "invalid_path"),
                FileError::Hidden { .. } => (StatusCode::BAD_REQUEST, INVALID, "hidden_path"),
                FileError::Symlink { .. } => (StatusCode::BAD_REQUEST, INVALID, "symlink_in_path"),
                FileError::NotADirectory { .. } => {
                    (StatusCode::BAD_REQUEST, INVALID, "not_a_directory")
                }
                FileError::NotAFile { .. } => (StatusCode::BAD_REQUEST, INVALID, "not_a_file"),
                FileError::NotFound { .. } => (StatusCode::NOT_FOUND, NOT_FOUND, "file_not_found"),
                FileError::Io { .. } => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api_error",
                    "file_io_failed",
                ),
            },
            ApiError::Supervisor(error) => match error {
                SupervisorError::NotRunning { .. } => {
                    (StatusCode::CONFLICT, INVALID, "runtime_not_running")
                }
                SupervisorError::SignalFailed { .. } => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api_error",
                    "signal_failed",
                ),
                SupervisorError::ShuttingDown => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "api_error",
                    "guest_shutting_down",
                ),
            },
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal_error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, code) = self.classify();
        if status.is_server_error() {
            tracing::error!(error = %self, code, "guest API request failed");
        }

        let body = ErrorBody {
            error: ErrorDetail {
                kind: kind.to_owned(),
                code: code.to_owned(),
                message: self.to_string(),
            },
        };
        (status, Json(body)).into_response()
    }
}

/// Fallback for unknown routes.
pub async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::RouteNotFound {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}
