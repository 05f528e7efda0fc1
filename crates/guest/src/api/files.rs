//! `/v1/files` routes: list, read, write and delete under the workspace root.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gopilot_guest_api::FileList;
use tokio_util::io::ReaderStream;

use super::{ApiError, AppState};
use crate::files::{FileError, Workspace};

/// Runs a blocking workspace operation off the async threads.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    operation: impl FnOnce(&Workspace) -> Result<T, FileError> + Send + 'static,
) -> Result<T, ApiError> {
    let workspace = state.workspace.clone();
    tokio::task::spawn_blocking(move || operation(&workspace))
        .await
        .map_err(|error| ApiError::Internal(format!("file operation task failed: {error}")))?
        .map_err(ApiError::from)
}

pub async fn list(State(state): State<AppState>) -> Result<Json<FileList>, ApiError> {
    let list = blocking(&state, |workspace| Ok(workspace.list())).await?;
    Ok(Json(list))
}

/// Streams the file's bytes as `application/octet-stream`.
pub async fn read(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let (file, size) = blocking(&state, move |workspace| workspace.read(&path)).await?;

    let body = Body::from_stream(ReaderStream::new(tokio::fs::File::from_std(file)));
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
        (header::CONTENT_LENGTH, size.to_string()),
    ];
    Ok((headers, body).into_response())
}

/// Replaces the file with the raw request body; 413 above `max_file_bytes`.
pub async fn write(
    State(state): State<AppState>,
    Path(path): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::FileTooLarge {
                limit: state.max_file_bytes,
            }
        } else {
            ApiError::InvalidField {
                field: "body",
                reason: rejection.body_text(),
            }
        }
    })?;

    let size = body.len();
    let logged_path = path.clone();
    blocking(&state, move |workspace| workspace.write(&path, &body)).await?;
    tracing::info!(path = %logged_path, size, "workspace file written");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<StatusCode, ApiError> {
    let logged_path = path.clone();
    blocking(&state, move |workspace| workspace.delete(&path)).await?;
    tracing::info!(path = %logged_path, "workspace file deleted");
    Ok(StatusCode::NO_CONTENT)
}
