//! Request middleware: request ids with a tracing span per request, and
//! authentication with rate limiting for `/v1`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gopilot_core::id::random_base62;
use std::time::Instant;
use tracing::Instrument;

use crate::error::ApiError;
use crate::rate_limit::Decision;
use crate::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Accepts a caller's `X-Request-Id` (1 to 128 visible ASCII characters) or
/// makes one, runs the request inside a span that carries it, logs the
/// outcome, and returns the id in the response.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_acceptable_request_id(value))
        .map(str::to_string)
        .unwrap_or_else(|| format!("req_{}", random_base62(24)));
    let header = HeaderValue::from_str(&id).expect("request id is visible ASCII");
    req.headers_mut().insert(REQUEST_ID_HEADER, header.clone());

    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %path,
        key_id = tracing::field::Empty
    );
    let started = Instant::now();

    let mut response = next.run(req).instrument(span.clone()).await;

    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request finished"
        );
    });
    response.headers_mut().insert(REQUEST_ID_HEADER, header);
    response
}

fn is_acceptable_request_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic())
}

/// Reads the API key from `X-API-Key` or `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    if let Some(value) = headers.get("x-api-key") {
        let key = value
            .to_str()
            .map_err(|_| ApiError::Unauthenticated("X-API-Key header is not valid text".into()))?;
        return Ok(Some(key.trim().to_string()));
    }
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::Unauthenticated("Authorization header is not valid text".into()))?;
        let Some((scheme, key)) = value.split_once(' ') else {
            return Err(ApiError::Unauthenticated(
                "Authorization header must be \"Bearer gopt_live_...\"".into(),
            ));
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::Unauthenticated(format!(
                "Authorization scheme {scheme:?} is not supported; use \"Bearer gopt_live_...\""
            )));
        }
        return Ok(Some(key.trim().to_string()));
    }
    Ok(None)
}

/// Authenticates `/v1` requests, applies the caller's rate limit and adds
/// the rate-limit headers to the response.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let key = match presented_key(req.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => {
            return ApiError::Unauthenticated(
                "missing API key: send it in the X-API-Key header or as Authorization: Bearer".into(),
            )
            .into_response()
        }
        Err(err) => return err.into_response(),
    };

    let caller = match state.keys.authenticate(&key).await {
        Ok(Ok(caller)) => caller,
        Ok(Err(failure)) => {
            tracing::info!(reason = ?failure, "request rejected: API key not accepted");
            return ApiError::Unauthenticated("invalid API key: it is malformed, unknown or revoked".into())
                .into_response();
        }
        Err(err) => return ApiError::from(err).into_response(),
    };

    let decision = state.limiter.check(&caller.key_id);
    if !decision.allowed {
        tracing::info!(key_id = %caller.key_id, "request rejected: rate limit exceeded");
        let mut response =
            ApiError::RateLimited { retry_after_secs: decision.retry_after_secs }.into_response();
        add_rate_limit_headers(response.headers_mut(), &decision);
        return response;
    }

    tracing::Span::current().record("key_id", caller.key_id.as_str());
    req.extensions_mut().insert(caller);
    let mut response = next.run(req).await;
    add_rate_limit_headers(response.headers_mut(), &decision);
    response
}

fn add_rate_limit_headers(headers: &mut HeaderMap, decision: &Decision) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(decision.reset_secs));
}
