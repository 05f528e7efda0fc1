//! The HTTP server: binding, request recording and routing by path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{self, ErrorShape};
use crate::config::FakeProviderConfig;
use crate::recording::{RecordedRequest, RequestLog};
use crate::sse::StreamMark;
use crate::{anthropic, models, openai_chat, openai_responses};

/// Maximum request body the fake provider reads, in bytes.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Failure to start a fake provider.
#[derive(Debug, thiserror::Error)]
pub enum FakeProviderError {
    #[error("failed to bind the fake provider to {addr}: {source}; choose another port")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Entry point: `FakeProvider::start(config)` runs a server on 127.0.0.1.
pub struct FakeProvider;

impl FakeProvider {
    /// Starts a fake provider on an ephemeral port of 127.0.0.1.
    pub async fn start(
        config: FakeProviderConfig,
    ) -> Result<FakeProviderHandle, FakeProviderError> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a fake provider on `addr`.
    pub async fn start_on(
        config: FakeProviderConfig,
        addr: SocketAddr,
    ) -> Result<FakeProviderHandle, FakeProviderError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| FakeProviderError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| FakeProviderError::Bind { addr, source })?;

        let state = ServerState {
            config: Arc::new(config),
            log: RequestLog::default(),
        };
        let log = state.log.clone();
        let app = Router::new().fallback(handle_request).with_state(state);

        let (shutdown_sender, shutdown_receiver) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = shutdown_receiver.await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "fake provider server failed");
            }
        });
        tracing::info!(addr = %local_addr, "fake provider listening");

        Ok(FakeProviderHandle {
            addr: local_addr,
            base_url: format!("http://{local_addr}"),
            log,
            shutdown_sender: Some(shutdown_sender),
            task: Some(task),
        })
    }
}

/// A running fake provider. Dropping the handle stops the server too.
pub struct FakeProviderHandle {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`, without a trailing slash or `/v1`.
    pub base_url: String,
    log: RequestLog,
    shutdown_sender: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeProviderHandle {
    /// Returns every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.snapshot()
    }

    /// Stops accepting connections and waits for open responses to finish.
    pub async fn shutdown(mut self) {
        if let Some(sender) = self.shutdown_sender.take() {
            let _ = sender.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeProviderHandle {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown_sender.take() {
            let _ = sender.send(());
        }
    }
}

#[derive(Clone)]
struct ServerState {
    config: Arc<FakeProviderConfig>,
    log: RequestLog,
}

/// Inputs a protocol handler needs to build its response.
pub(crate) struct RequestContext {
    pub config: Arc<FakeProviderConfig>,
    log: RequestLog,
    request_index: usize,
    /// Unix time in seconds, for the `created` fields.
    pub created: u64,
}

impl RequestContext {
    pub(crate) fn stream_mark(&self) -> StreamMark {
        StreamMark {
            log: self.log.clone(),
            request_index: self.request_index,
        }
    }
}

/// The endpoints the fake provider serves.
enum Endpoint {
    ChatCompletions,
    Responses,
    Messages,
    Models,
}

impl Endpoint {
    /// Matches a path with or without the `/v1` prefix.
    fn from_request(method: &Method, path: &str) -> Option<Self> {
        let path = path.strip_prefix("/v1").unwrap_or(path);
        match (method, path.trim_end_matches('/')) {
            (&Method::POST, "/chat/completions") => Some(Self::ChatCompletions),
            (&Method::POST, "/responses") => Some(Self::Responses),
            (&Method::POST, "/messages") => Some(Self::Messages),
            (&Method::GET, "/models") => Some(Self::Models),
            _ => None,
        }
    }

    /// Returns the provider whose key header and error body apply. The model
    /// list exists in both APIs, so there the `anthropic-version` header decides.
    fn error_shape(&self, headers: &HeaderMap) -> ErrorShape {
        match self {
            Self::Messages => ErrorShape::Anthropic,
            Self::Models if headers.contains_key("anthropic-version") => ErrorShape::Anthropic,
            _ => ErrorShape::OpenAi,
        }
    }
}

async fn handle_request(State(state): State<ServerState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            let message = format!("failed to read the request body: {error}");
            return auth::provider_error(ErrorShape::OpenAi, StatusCode::BAD_REQUEST, &message);
        }
    };

    let path = parts.uri.path().to_owned();
    let request_index = state.log.push(RecordedRequest {
        method: parts.method.clone(),
        path: path.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
        received_at: Instant::now(),
        last_chunk_sent_at: None,
    });
    tracing::debug!(method = %parts.method, %path, "fake provider received a request");

    let Some(endpoint) = Endpoint::from_request(&parts.method, &path) else {
        let message = format!("no route for {} {path}", parts.method);
        return auth::provider_error(ErrorShape::OpenAi, StatusCode::NOT_FOUND, &message);
    };
    let shape = endpoint.error_shape(&parts.headers);

    if !state.config.response_delay.is_zero() {
        tokio::time::sleep(state.config.response_delay).await;
    }
    if let Err(response) = auth::check_api_key(
        state.config.expected_api_key.as_deref(),
        &parts.headers,
        shape,
    ) {
        return response;
    }

    let context = RequestContext {
        config: state.config.clone(),
        log: state.log.clone(),
        request_index,
        created: unix_seconds(),
    };
    let json = || {
        serde_json::from_slice::<Value>(&body).map_err(|error| {
            let message = format!("the request body is not valid JSON: {error}");
            auth::provider_error(shape, StatusCode::BAD_REQUEST, &message)
        })
    };
    let result = match endpoint {
        Endpoint::Models => Ok(models::handle(&context, &parts.headers)),
        Endpoint::ChatCompletions => json().map(|json| openai_chat::handle(&context, &json)),
        Endpoint::Responses => json().map(|json| openai_responses::handle(&context, &json)),
        Endpoint::Messages => json().map(|json| anthropic::handle(&context, &json)),
    };
    result.unwrap_or_else(|error_response| error_response)
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
