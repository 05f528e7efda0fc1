//! Forwards an OpenAI Chat Completions request to an agent's runtime.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use gopilot_control::RuntimeEndpoint;
use serde_json::{json, Value};

use crate::error::ApiError;
use super::{ProxyError, RuntimeProxy};

const TARGET: &str = "runtime";

impl RuntimeProxy {
    /// Sends `body` to the runtime's chat endpoint and returns its response.
    ///
    /// A success is passed through: buffered whole within the chat timeout
    /// when `stream` is false, chunk by chunk as it arrives otherwise. An
    /// error status with a JSON body becomes an error in the API's format
    /// with the runtime's message. Any other error status becomes
    /// [`ProxyError::InvalidAnswer`].
    pub async fn forward_chat(
        &self,
        endpoint: &RuntimeEndpoint,
        body: &Value,
        stream: bool,
    ) -> Result<Response, ProxyError> {
        let url = format!("{}{}", endpoint.base_url.trim_end_matches('/'), endpoint.chat_path);
        let request = self
            .client
            .post(url)
            .bearer_auth(&endpoint.bearer_token)
            .header(header::ACCEPT, if stream { "text/event-stream" } else { "application/json" })
            .json(body);

        if stream {
            self.forward_stream(endpoint, request).await
        } else {
            self.forward_whole(endpoint, request).await
        }
    }

    async fn forward_whole(
        &self,
        endpoint: &RuntimeEndpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, ProxyError> {
        let timeout = self.config.chat_timeout;
        let transport = |err| ProxyError::from_transport(&endpoint.agent_id, TARGET, timeout, err);

        // reqwest's per-request timeout runs until the body is read whole.
        let response = request.timeout(timeout).send().await.map_err(transport)?;
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = response.bytes().await.map_err(transport)?;

        if !status.is_success() {
            return pass_error_status(endpoint, status, content_type, bytes);
        }
        let mut forwarded = Response::new(Body::from(bytes));
        *forwarded.status_mut() = status;
        let content_type = content_type.unwrap_or(HeaderValue::from_static("application/json"));
        forwarded.headers_mut().insert(header::CONTENT_TYPE, content_type);
        Ok(forwarded)
    }

    async fn forward_stream(
        &self,
        endpoint: &RuntimeEndpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, ProxyError> {
        let idle = self.config.stream_idle_timeout;
        let agent_id = endpoint.agent_id.clone();
        let transport = |err| ProxyError::from_transport(&agent_id, TARGET, idle, err);

        let response = match tokio::time::timeout(idle, request.send()).await {
            Ok(result) => result.map_err(transport)?,
            Err(_elapsed) => {
                return Err(ProxyError::Timeout { agent_id: agent_id.clone(), target: TARGET, timeout: idle })
            }
        };
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        if !status.is_success() {
            let read = tokio::time::timeout(idle, response.bytes()).await;
            let bytes = match read {
                Ok(result) => result.map_err(transport)?,
                Err(_elapsed) => {
                    return Err(ProxyError::Timeout { agent_id: agent_id.clone(), target: TARGET, timeout: idle })
                }
            };
            return pass_error_status(endpoint, status, content_type, bytes);
        }

        let upstream = response.bytes_stream().boxed();
        let body = Body::from_stream(relay_with_idle_timeout(upstream, agent_id, idle));
        let content_type = content_type.unwrap_or(HeaderValue::from_static("text/event-stream"));
        let forwarded = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CACHE_CONTROL, "no-cache")
            // Tells nginx and similar reverse proxies not to hold chunks back.
            .header("x-accel-buffering", "no")
            .body(body)
            .expect("static headers and a copied content type are valid");
        Ok(forwarded)
    }
}

/// State of a relayed stream.
struct Relay {
    upstream: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    agent_id: String,
    idle: Duration,
    chunks: u64,
    started: Instant,
}

/// Yields the upstream chunks as they arrive. When the upstream fails or
/// stays silent longer than `idle`, the stream ends with one SSE event whose
/// `error` object has the API's error format, because the status line is
/// already sent.
fn relay_with_idle_timeout(
    upstream: BoxStream<'static, reqwest::Result<Bytes>>,
    agent_id: String,
    idle: Duration,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> {
    let relay = Relay { upstream: Some(upstream), agent_id, idle, chunks: 0, started: Instant::now() };

    stream::unfold(relay, |mut relay| async move {
        let upstream = relay.upstream.as_mut()?;
        let failure = match tokio::time::timeout(relay.idle, upstream.next()).await {
            Ok(Some(Ok(chunk))) => {
                relay.chunks += 1;
                return Some((Ok(chunk), relay));
            }
            Ok(None) => {
                tracing::info!(
                    agent_id = %relay.agent_id,
                    chunks = relay.chunks,
                    duration_ms = relay.started.elapsed().as_millis() as u64,
                    "chat stream finished"
                );
                return None;
            }
            Ok(Some(Err(err))) => ProxyError::from_transport(&relay.agent_id, TARGET, relay.idle, err),
            Err(_elapsed) => {
                ProxyError::Timeout { agent_id: relay.agent_id.clone(), target: TARGET, timeout: relay.idle }
            }
        };

        relay.upstream = None;
        Some((Ok(error_event(failure)), relay))
    })
}

/// Encodes a mid-stream failure as an SSE `data:` event, as OpenAI's API
/// reports errors inside a stream.
fn error_event(failure: ProxyError) -> Bytes {
    let error = crate::error::ApiError::from(failure);
    let (status, kind, code) = error.classify();
    let body = json!({
        "error": {"type": kind, "code": code, "message": error.to_string(), "status": status.as_u16()}
    });
    Bytes::from(format!("data: {body}\n\n"))
}

/// Maps a runtime's error response to the API's error format, keeping the
/// runtime's message: a 4xx other than an authentication failure means the
/// request was invalid (400); anything else is a failure behind the API (502).
fn pass_error_status(
    endpoint: &RuntimeEndpoint,
    status: StatusCode,
    _content_type: Option<HeaderValue>,
    bytes: Bytes,
) -> Result<Response, ProxyError> {
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(ProxyError::bad_status(&endpoint.agent_id, TARGET, status.as_u16(), &bytes));
    };
    let message = body
        .pointer("/error/message")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let message = super::redact::redact_secrets(message);
    tracing::info!(agent_id = %endpoint.agent_id, status = status.as_u16(), "runtime rejected a chat request");

    let client_error = status.is_client_error()
        && status != StatusCode::UNAUTHORIZED
        && status != StatusCode::FORBIDDEN;
    let error = if client_error {
        ApiError::InvalidRequest(format!("the agent's runtime rejected the request ({status}): {message}"), None)
    } else {
        ApiError::UpstreamError(format!("the agent's runtime returned {status}: {message}"))
    };
    Ok(error.into_response())
}
