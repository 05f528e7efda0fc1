//! The error body that every failed guest API request returns.

use serde::{Deserialize, Serialize};

/// `{"error": {"type", "code", "message"}}`, the same shape as the public API's errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// Error class, machine-readable code and a sentence that names the value at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Error class, e.g. `invalid_request_error`, `authentication_error`, `not_found_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Stable code for programs, e.g. `invalid_path`, `file_too_large`.
    pub code: String,
    pub message: String,
}
