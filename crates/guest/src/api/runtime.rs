//! `POST /v1/runtime/restart` and `POST /v1/runtime/signal`.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use gopilot_guest_api::{RuntimeStatus, SignalRequest};

use super::{ApiError, AppState};

/// Stops the runtime and starts it again; returns the status after the new spawn.
pub async fn restart(State(state): State<AppState>) -> Result<Json<RuntimeStatus>, ApiError> {
    state.supervisor.restart().await?;
    Ok(Json(state.supervisor.status()))
}

/// Sends SIGHUP or SIGUSR1 to the runtime process; 409 when no process is running.
pub async fn signal(
    State(state): State<AppState>,
    body: Result<Json<SignalRequest>, JsonRejection>,
) -> Result<Json<RuntimeStatus>, ApiError> {
    let Json(request) = body.map_err(|rejection| ApiError::InvalidField {
        field: "signal",
        reason: format!(
            "{}; send {{\"signal\": \"SIGHUP\"}} or {{\"signal\": \"SIGUSR1\"}}",
            rejection.body_text()
        ),
    })?;

    state.supervisor.signal(request.signal).await?;
    Ok(Json(state.supervisor.status()))
}
