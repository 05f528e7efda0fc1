//! Liveness and readiness probes. They need no API key.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::views::Health;
use crate::AppState;

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The server is alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok", reason: None })
}

/// Readiness: the store answers a query.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "The server can serve requests", body = Health),
    (status = 503, description = "The store is unreachable", body = Health)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.agents.store().ping().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ok", reason: None })),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health { status: "unavailable", reason: Some("store is unreachable".into()) }),
            )
        }
    }
}
