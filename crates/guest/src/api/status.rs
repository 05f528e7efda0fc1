//! `GET /v1/status` and `GET /v1/ready`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gopilot_guest_api::{GuestStatus, ReadyResponse};

use super::AppState;

pub async fn status(State(state): State<AppState>) -> Json<GuestStatus> {
    let ready = state.readiness.check().await.is_ok();

    Json(GuestStatus {
        runtime: state.supervisor.status(),
        ready,
        guest_version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// Returns 200 when the runtime passes its readiness check, else 503 with the reason.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadyResponse>) {
    match state.readiness.check().await {
        Ok(()) => (
            StatusCode::OK,
            Json(ReadyResponse {
                ready: true,
                reason: None,
            }),
        ),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(ReadyResponse {
                ready: false,
                reason: Some(reason),
            }),
        ),
    }
}
