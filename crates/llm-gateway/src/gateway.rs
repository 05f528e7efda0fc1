use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::any;
use axum::Router;

use crate::config::GatewayConfig;
use crate::credentials::TokenResolver;
use crate::error::GatewayBuildError;
use crate::proxy;
use crate::usage::UsageSink;

/// State shared by every request of one gateway.
pub(crate) struct Shared {
    pub(crate) config: GatewayConfig,
    pub(crate) client: reqwest::Client,
    pub(crate) token_resolver: Arc<dyn TokenResolver>,
    pub(crate) usage_sink: Arc<dyn UsageSink>,
    /// `provider/model` pairs already warned about as missing from the price table.
    pub(crate) unpriced_models: Mutex<HashSet<String>>,
}

/// The LLM gateway. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

impl Gateway {
    /// Builds a gateway with its own HTTP client for the upstreams.
    pub fn new(
        config: GatewayConfig,
        token_resolver: Arc<dyn TokenResolver>,
        usage_sink: Arc<dyn UsageSink>,
    ) -> Result<Self, GatewayBuildError> {
        // Redirects are not followed because they would carry the provider key
        // to wherever the upstream points.
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let shared = Shared {
            config,
            client,
            token_resolver,
            usage_sink,
            unpriced_models: Mutex::new(HashSet::new()),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// Returns the routes of the gateway, to be mounted at the root of a
    /// listener (or nested under a prefix).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/anthropic/{*path}", any(forward_anthropic))
            .route("/openai/{*path}", any(forward_openai))
            .route("/openrouter/{*path}", any(forward_openrouter))
            .route("/compat/{provider}/{*path}", any(forward_compat))
            .with_state(self.shared.clone())
    }
}

async fn forward_anthropic(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    proxy::forward(shared, "anthropic".to_owned(), path, request).await
}

async fn forward_openai(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    proxy::forward(shared, "openai".to_owned(), path, request).await
}

async fn forward_openrouter(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    proxy::forward(shared, "openrouter".to_owned(), path, request).await
}

async fn forward_compat(
    State(shared): State<Arc<Shared>>,
    Path((provider, path)): Path<(String, String)>,
    request: Request,
) -> Response {
    proxy::forward_compat(shared, provider, path, request).await
}
