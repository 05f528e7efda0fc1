//! Bearer token check, in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::ApiError;

/// The configured token. Its `Debug` output hides the value.
#[derive(Clone)]
pub struct ApiToken(Arc<[u8]>);

impl ApiToken {
    pub fn new(token: &str) -> Self {
        Self(token.as_bytes().into())
    }

    fn matches(&self, presented: &[u8]) -> bool {
        // `ct_eq` compares equal-length slices in constant time; a length
        // mismatch returns early, which reveals only the length.
        self.0.ct_eq(presented).into()
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

/// Rejects requests without `Authorization: Bearer <api_token>` with 401.
pub async fn require_token(
    State(token): State<ApiToken>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "));

    match presented {
        Some(presented) if token.matches(presented) => Ok(next.run(request).await),
        Some(_) => {
            tracing::debug!(
                path = request.uri().path(),
                "rejected guest API request with a wrong bearer token"
            );
            Err(ApiError::Unauthorized("the bearer token is wrong"))
        }
        None => Err(ApiError::Unauthorized(
            "the request has no `Authorization: Bearer` header",
        )),
    }
}
