//! Workspace files, read and written through the in-sandbox supervisor so
//! that path checks happen where the files live.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use gopilot_control::GuestEndpoint;
use std::time::Duration;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AgentsRead, AgentsWrite, RawBody, Scoped};
use crate::AppState;

/// Returns the guest of a running agent, resuming a paused one first.
async fn guest_of(state: &AppState, account_id: &str, id: &str) -> Result<GuestEndpoint, ApiError> {
    state.runtime.ensure_running(account_id, id).await?;
    state
        .runtime
        .guest(account_id, id)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("agent {id:?} has no running sandbox; start it first")))
}

async fn forward(
    guest: &GuestEndpoint,
    method: reqwest::Method,
    path: &str,
    body: Option<Bytes>,
) -> Result<Response, ApiError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|_| ApiError::Internal)?;
    let mut request = client.request(method, format!("{}{path}", guest.base_url)).bearer_auth(&guest.token);
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.map_err(|err| {
        tracing::warn!(error = %err, "workspace file request to the guest failed");
        ApiError::UpstreamError(format!("the agent's sandbox did not respond: {err}"))
    })?;

    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = response.bytes().await.map_err(|err| ApiError::UpstreamError(err.to_string()))?;
    if status.is_success() {
        let mut out = (StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::OK), Body::from(bytes)).into_response();
        if let Some(content_type) = content_type {
            out.headers_mut().insert(header::CONTENT_TYPE, content_type);
        }
        return Ok(out);
    }

    // The guest returns errors in the same JSON format; keep its message.
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    Err(match status.as_u16() {
        400 => ApiError::InvalidRequest(message, Some("name".into())),
        404 => ApiError::NotFound(message),
        413 => ApiError::FileTooLarge(message),
        _ => ApiError::UpstreamError(format!("the agent's sandbox returned {status}: {message}")),
    })
}

fn file_path(name: &str) -> String {
    let encoded: Vec<String> = name.split('/').map(|part| urlencode(part)).collect();
    format!("/v1/files/{}", encoded.join("/"))
}

fn urlencode(part: &str) -> String {
    part.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// List the workspace's files.
#[utoipa::path(get, path = "/v1/agents/{id}/files", tag = "files",
    params(("id" = String, Path, description = "Agent id")),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Files: path, size, modified time"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:read", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
        (status = 409, description = "Agent is stopped (agent_not_running)", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody),
        (status = 502, description = "The sandbox did not respond", body = ErrorBody)))]
pub async fn list_files(
    State(state): State<AppState>,
    scoped: Scoped<AgentsRead>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let guest = guest_of(&state, &scoped.caller.account_id, &id).await?;
    forward(&guest, reqwest::Method::GET, "/v1/files", None).await
}

/// Read a workspace file such as `AGENTS.md` or `notes/todo.md`.
#[utoipa::path(get, path = "/v1/agents/{id}/files/{name}", tag = "files",
    params(("id" = String, Path, description = "Agent id"), ("name" = String, Path, description = "Path under the workspace root")),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The file's bytes"),
        (status = 400, description = "Invalid path", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:read", body = ErrorBody),
        (status = 404, description = "Agent or file not found", body = ErrorBody),
        (status = 409, description = "Agent is stopped (agent_not_running)", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody),
        (status = 502, description = "The sandbox did not respond", body = ErrorBody)))]
pub async fn read_file(
    State(state): State<AppState>,
    scoped: Scoped<AgentsRead>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let guest = guest_of(&state, &scoped.caller.account_id, &id).await?;
    forward(&guest, reqwest::Method::GET, &file_path(&name), None).await
}

/// Write a workspace file; the body is the file's content (at most 1 MiB).
#[utoipa::path(put, path = "/v1/agents/{id}/files/{name}", tag = "files",
    params(("id" = String, Path, description = "Agent id"), ("name" = String, Path, description = "Path under the workspace root")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Written"),
        (status = 400, description = "Invalid path", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:write", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
        (status = 409, description = "Agent is stopped (agent_not_running)", body = ErrorBody),
        (status = 413, description = "File too large", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody),
        (status = 502, description = "The sandbox did not respond", body = ErrorBody)))]
pub async fn write_file(
    State(state): State<AppState>,
    scoped: Scoped<AgentsWrite>,
    Path((id, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let guest = guest_of(&state, &scoped.caller.account_id, &id).await?;
    forward(&guest, reqwest::Method::PUT, &file_path(&name), Some(body)).await
}

/// Delete a workspace file.
#[utoipa::path(delete, path = "/v1/agents/{id}/files/{name}", tag = "files",
    params(("id" = String, Path, description = "Agent id"), ("name" = String, Path, description = "Path under the workspace root")),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid path", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:write", body = ErrorBody),
        (status = 404, description = "Agent or file not found", body = ErrorBody),
        (status = 409, description = "Agent is stopped (agent_not_running)", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody),
        (status = 502, description = "The sandbox did not respond", body = ErrorBody)))]
pub async fn delete_file(
    State(state): State<AppState>,
    scoped: Scoped<AgentsWrite>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let guest = guest_of(&state, &scoped.caller.account_id, &id).await?;
    forward(&guest, reqwest::Method::DELETE, &file_path(&name), None).await
}
