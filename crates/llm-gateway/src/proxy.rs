//! The request flow: authenticate, swap the key, forward, stream back, meter.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http_body_util::LengthLimitError;
use time::OffsetDateTime;
use tracing::Instrument;

use crate::auth::gateway_token;
use crate::config::BUILTIN_PROVIDERS;
use crate::endpoint::{ApiFamily, Endpoint};
use crate::error::GatewayError;
use crate::gateway::Shared;
use crate::headers::downstream_response_headers;
use crate::metering::{usage_from_body, Meter, MeterContext, MeteredStream, StreamUsageTracker};
use crate::outgoing::{prepare_body, upstream_headers, upstream_url};
use crate::request_id::new_request_id;

/// Response header carrying the gateway's id of the request, as in its logs
/// and usage record.
const REQUEST_ID_HEADER: &str = "x-gopilot-request-id";

/// Forwards a request under `/{provider}/` for a built-in provider.
pub(crate) async fn forward(
    shared: Arc<Shared>,
    provider: String,
    path: String,
    request: Request,
) -> Response {
    respond(shared, provider, path, request, false).await
}

/// Forwards a request under `/compat/{provider}/`.
pub(crate) async fn forward_compat(
    shared: Arc<Shared>,
    provider: String,
    path: String,
    request: Request,
) -> Response {
    respond(shared, provider, path, request, true).await
}

async fn respond(
    shared: Arc<Shared>,
    provider: String,
    path: String,
    request: Request,
    compat: bool,
) -> Response {
    let request_id = new_request_id();
    let span = tracing::info_span!(
        "llm_request",
        request_id = %request_id,
        provider = %provider,
        agent_id = tracing::field::Empty,
    );
    let started = Instant::now();

    let result = async {
        if compat {
            check_compat_provider(&shared, &provider)?;
        }
        forward_request(&shared, &provider, &path, request, &request_id, started).await
    }
    .instrument(span.clone())
    .await;

    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            let _entered = span.enter();
            let status = error.status().as_u16();
            if error.status().is_server_error() {
                tracing::warn!(status, code = error.code(), %error, "llm request failed");
            } else {
                tracing::info!(status, code = error.code(), %error, "llm request rejected");
            }
            error.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// A compat provider must be configured and must not shadow a built-in one,
/// whose API family and key differ.
fn check_compat_provider(shared: &Shared, provider: &str) -> Result<(), GatewayError> {
    let builtin = BUILTIN_PROVIDERS.contains(&provider);
    if builtin || !shared.config.upstreams.contains_key(provider) {
        return Err(GatewayError::UnknownProvider {
            provider: provider.to_owned(),
        });
    }
    Ok(())
}

async fn forward_request(
    shared: &Arc<Shared>,
    provider: &str,
    path: &str,
    request: Request,
    request_id: &str,
    started: Instant,
) -> Result<Response, GatewayError> {
    let started_at = OffsetDateTime::now_utc();
    let config = &shared.config;
    let (parts, body) = request.into_parts();

    let family = ApiFamily::of(provider);
    let endpoint = Endpoint::parse(family, &parts.method, path).ok_or_else(|| {
        GatewayError::UnknownEndpoint {
            provider: provider.to_owned(),
            method: parts.method.to_string(),
            path: path.to_owned(),
        }
    })?;

    let token = gateway_token(&parts.headers).ok_or(GatewayError::MissingToken)?;
    let credentials = shared
        .token_resolver
        .resolve(token)
        .await?
        .ok_or(GatewayError::InvalidToken)?;
    tracing::Span::current().record("agent_id", credentials.agent_id.as_str());

    let provider_key = credentials.provider_keys.get(provider).ok_or_else(|| {
        GatewayError::MissingProviderKey {
            provider: provider.to_owned(),
        }
    })?;
    let base_url =
        config
            .upstreams
            .get(provider)
            .ok_or_else(|| GatewayError::UpstreamUnreachable {
                provider: provider.to_owned(),
                reason: "no upstream base URL is configured for it".to_owned(),
            })?;

    let body = read_body(body, config.max_request_body_bytes).await?;
    let (body, summary) = prepare_body(endpoint, body)?;
    let url = upstream_url(base_url, path, parts.uri.query());
    let headers = upstream_headers(&parts.headers, family, provider, provider_key)?;

    // One deadline covers the upstream's headers and, for responses that are
    // not streamed, its body.
    let deadline = tokio::time::Instant::now() + config.request_timeout;
    let upstream_request = shared
        .client
        .request(parts.method.clone(), url)
        .headers(headers)
        .body(body);
    let upstream = tokio::time::timeout_at(deadline, upstream_request.send())
        .await
        .map_err(|_| timeout_error(shared, provider))?
        .map_err(|error| upstream_error(shared, provider, &error))?;

    let status = upstream.status();
    let mut response_headers = downstream_response_headers(upstream.headers());
    let is_sse = response_headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));

    let Some(protocol) = endpoint.metered_protocol() else {
        // Unmetered endpoints such as the model list are streamed through as they are.
        let body = Body::from_stream(upstream.bytes_stream());
        return Ok(build_response(status, response_headers, body));
    };

    let meter = Meter::new(
        MeterContext {
            agent_id: credentials.agent_id.clone(),
            account_id: credentials.account_id.clone(),
            provider: provider.to_owned(),
            model: summary.model,
            request_id: request_id.to_owned(),
            started_at,
            started,
        },
        shared.clone(),
    );

    if is_sse {
        let stream = MeteredStream::new(
            upstream.bytes_stream().boxed(),
            StreamUsageTracker::new(protocol),
            meter,
            status.as_u16(),
            config.stream_idle_timeout,
        );
        // Proxies such as nginx buffer responses unless this header disables it.
        response_headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        return Ok(build_response(
            status,
            response_headers,
            Body::from_stream(stream),
        ));
    }

    let body = tokio::time::timeout_at(deadline, upstream.bytes())
        .await
        .map_err(|_| timeout_error(shared, provider))?
        .map_err(|error| upstream_error(shared, provider, &error))?;
    let usage = match status.is_success() {
        true => usage_from_body(protocol, &body),
        false => None,
    };
    meter.finish(usage, status.as_u16(), false).await;
    Ok(build_response(status, response_headers, Body::from(body)))
}

async fn read_body(body: Body, limit_bytes: usize) -> Result<bytes::Bytes, GatewayError> {
    axum::body::to_bytes(body, limit_bytes)
        .await
        .map_err(|error| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(current) = source {
                if current.is::<LengthLimitError>() {
                    return GatewayError::BodyTooLarge { limit_bytes };
                }
                source = current.source();
            }
            GatewayError::BodyRead {
                reason: error.to_string(),
            }
        })
}

fn build_response(status: StatusCode, headers: axum::http::HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn timeout_error(shared: &Shared, provider: &str) -> GatewayError {
    GatewayError::UpstreamTimeout {
        provider: provider.to_owned(),
        timeout: shared.config.request_timeout,
    }
}

/// Classifies a failed upstream exchange: a timeout gives 504, anything else
/// (refused or reset connection, DNS or TLS failure) gives 502.
fn upstream_error(shared: &Shared, provider: &str, error: &reqwest::Error) -> GatewayError {
    if error.is_timeout() && !error.is_connect() {
        return timeout_error(shared, provider);
    }

    // The reqwest message alone is generic; its sources name the cause.
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    GatewayError::UpstreamUnreachable {
        provider: provider.to_owned(),
        reason,
    }
}
