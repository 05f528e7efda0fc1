//! The guest's HTTP API for the control plane. Every route requires
//! `Authorization: Bearer <api_token>`.

mod auth;
mod error;
mod files;
mod logs;
mod runtime;
mod status;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::files::Workspace;
use crate::logs::LogBook;
use crate::readiness::Readiness;
use crate::supervisor::SupervisorHandle;

pub use error::ApiError;

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    pub supervisor: SupervisorHandle,
    pub readiness: Arc<Readiness>,
    pub logs: Arc<LogBook>,
    pub workspace: Arc<Workspace>,
    pub max_file_bytes: u64,
}

/// Builds the router with authentication in front of every route, the fallback included.
pub fn router(state: AppState, api_token: &str) -> Router {
    let token = auth::ApiToken::new(api_token);
    let body_limit = usize::try_from(state.max_file_bytes).unwrap_or(usize::MAX);

    Router::new()
        .route("/v1/status", get(status::status))
        .route("/v1/ready", get(status::ready))
        .route("/v1/logs", get(logs::logs))
        .route("/v1/files", get(files::list))
        .route(
            "/v1/files/{*path}",
            get(files::read).put(files::write).delete(files::delete),
        )
        .route("/v1/runtime/restart", post(runtime::restart))
        .route("/v1/runtime/signal", post(runtime::signal))
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
        .with_state(state)
}
