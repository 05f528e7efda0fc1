//! GoPilot's HTTP API.
//!
//! Handlers parse the request, check the scope through a typed extractor,
//! call a control-plane service, and map its result through the single error
//! table in [`error`]. Nothing below this crate knows HTTP.

pub mod error;
pub mod extract;
mod middleware;
mod openapi;
pub mod proxy;
pub mod rate_limit;
mod routes;
pub mod views;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use gopilot_control::lifecycle::{Lifecycle, LifecycleSettings};
use gopilot_control::{AgentService, KeyService, RuntimeLocator};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::extract::BodyLimit;
use crate::proxy::RuntimeProxy;
use crate::rate_limit::{RateLimitConfig, RateLimiter};

pub use proxy::ProxyConfig;

pub use openapi::openapi_json;

/// Settings of the HTTP surface.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    pub rate_limit: RateLimitConfig,
    /// Domain under which agents get hostnames: `<runtime>-<id>.<domain>`.
    pub agents_domain: String,
    /// How long `POST /v1/agents` waits for the agent to run before it
    /// answers 202.
    pub create_wait: std::time::Duration,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub keys: Arc<KeyService>,
    pub agents: AgentService,
    pub runtime: Arc<dyn RuntimeLocator>,
    pub lifecycle: Arc<Lifecycle>,
    /// Client for agents' runtimes and guests (chat proxy, logs).
    pub proxy: Arc<RuntimeProxy>,
    pub limiter: Arc<RateLimiter>,
    pub config: Arc<ApiConfig>,
}

impl AppState {
    pub fn new(
        keys: Arc<KeyService>,
        agents: AgentService,
        runtime: Arc<dyn RuntimeLocator>,
        config: ApiConfig,
    ) -> AppState {
        AppState {
            limiter: Arc::new(RateLimiter::new(config.rate_limit)),
            lifecycle: Arc::new(Lifecycle::records_only(agents.clone(), LifecycleSettings::default())),
            keys,
            agents,
            runtime,
            proxy: Arc::new(RuntimeProxy::default()),
            config: Arc::new(config),
        }
    }

    /// Replaces the default timeouts of requests to runtimes and guests.
    pub fn with_proxy_config(mut self, config: ProxyConfig) -> AppState {
        self.proxy = Arc::new(RuntimeProxy::new(config));
        self
    }

    /// Uses `lifecycle` for agent operations and to find running agents.
    pub fn with_lifecycle(mut self, lifecycle: Arc<Lifecycle>) -> AppState {
        self.runtime = Arc::new(lifecycle.clone());
        self.lifecycle = lifecycle;
        self
    }
}

/// Builds the whole HTTP application.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/agents", get(routes::agents::list_agents).post(routes::agents::create_agent))
        .route(
            "/agents/{id}",
            get(routes::agents::get_agent)
                .patch(routes::agents::update_agent)
                .delete(routes::agents::delete_agent),
        )
        .route("/agents/{id}/chat/completions", post(routes::chat::agent_chat_completions))
        .route("/agents/{id}/logs", get(routes::logs::agent_logs))
        .route("/agents/{id}/start", post(routes::lifecycle::start_agent))
        .route("/agents/{id}/stop", post(routes::lifecycle::stop_agent))
        .route("/agents/{id}/restart", post(routes::lifecycle::restart_agent))
        .route("/agents/{id}/pause", post(routes::lifecycle::pause_agent))
        .route("/agents/{id}/resume", post(routes::lifecycle::resume_agent))
        .route("/agents/{id}/events", get(routes::lifecycle::list_events))
        .route("/agents/{id}/files", get(routes::files::list_files))
        .route(
            "/agents/{id}/files/{*name}",
            get(routes::files::read_file).put(routes::files::write_file).delete(routes::files::delete_file),
        )
        .route("/chat/completions", post(routes::chat::chat_completions))
        .route("/models", get(routes::models::list_models))
        .route("/usage", get(routes::usage::get_usage))
        .route("/agents/{id}/usage", get(routes::usage::get_agent_usage))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::authenticate));

    let limit = state.config.max_body_bytes;
    let app = Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/v1/openapi.json", get(openapi::serve))
        .nest("/v1", v1)
        .with_state(state);
    with_edge_layers(app, limit)
}

/// Adds what every response goes through: JSON errors for unknown routes
/// and methods, the body size limit, panic recovery and request ids.
pub fn with_edge_layers(app: Router, max_body_bytes: usize) -> Router {
    app.fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::Extension(BodyLimit(max_body_bytes)))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(middleware::request_id))
}

async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::RouteNotFound(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into());
    tracing::error!(panic = %detail, "request handler panicked");
    ApiError::Internal.into_response()
}
