//! API key checks and the providers' own error bodies.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Error body shape of a route, matching the real provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorShape {
    OpenAi,
    Anthropic,
}

/// Checks the API key the way the provider does: `x-api-key` for Anthropic,
/// `Authorization: Bearer` for OpenAI. Returns the provider's 401 otherwise.
pub(crate) fn check_api_key(
    expected: Option<&str>,
    headers: &HeaderMap,
    shape: ErrorShape,
) -> Result<(), Response> {
    let Some(expected) = expected else {
        return Ok(());
    };

    let presented = match shape {
        ErrorShape::Anthropic => headers
            .get("x-api-key")
            .and_then(|value| value.to_str().ok()),
        ErrorShape::OpenAi => headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer ")),
    };

    if presented == Some(expected) {
        return Ok(());
    }
    let message = match shape {
        ErrorShape::Anthropic => "invalid x-api-key",
        ErrorShape::OpenAi => "Incorrect API key provided.",
    };
    Err(provider_error(shape, StatusCode::UNAUTHORIZED, message))
}

/// Builds an error response in the provider's own format.
pub(crate) fn provider_error(shape: ErrorShape, status: StatusCode, message: &str) -> Response {
    let body = match shape {
        ErrorShape::Anthropic => json!({
            "type": "error",
            "error": {"type": anthropic_error_type(status), "message": message},
        }),
        ErrorShape::OpenAi => json!({
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": null,
                "code": openai_error_code(status),
            }
        }),
    };
    (status, Json(body)).into_response()
}

fn anthropic_error_type(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "authentication_error",
        StatusCode::NOT_FOUND => "not_found_error",
        _ => "invalid_request_error",
    }
}

fn openai_error_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "invalid_api_key",
        StatusCode::NOT_FOUND => "unknown_url",
        _ => "invalid_request",
    }
}
