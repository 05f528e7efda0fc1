//! Request extractors: JSON bodies with field-named errors, and the scope
//! check carried in the handler's signature so no handler can forget it.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use gopilot_control::Caller;
use gopilot_core::Scope;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

use crate::error::ApiError;

/// A JSON request body. Errors name the field path, such as
/// `channels.slack: missing field botToken`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "request body must be JSON: send the header Content-Type: application/json".into(),
            ));
        }

        let limit = req.extensions().get::<BodyLimit>().map(|l| l.0).unwrap_or(0);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::invalid(format!("cannot read request body: {rejection}"))
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The body size limit in force, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Parses JSON, naming the path of the field that failed.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid(format!("request body is not valid JSON: {inner}"));
        }
        let message = inner.to_string();
        let message = match message.find(" at line ") {
            Some(cut) => message[..cut].to_string(),
            None => message,
        };
        let message = message.replace('`', "");
        if path == "." || path.is_empty() {
            ApiError::InvalidRequest(format!("request body: {message}"), None)
        } else {
            ApiError::InvalidRequest(format!("{path}: {message}"), Some(path))
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::invalid(format!("request body is not valid JSON: {err}")))?;
    Ok(value)
}

/// A scope, as a type, for [`Scoped`].
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: Scope;
}

macro_rules! scope_marker {
    ($name:ident, $scope:expr) => {
        pub struct $name;
        impl RequiredScope for $name {
            const SCOPE: Scope = $scope;
        }
    };
}

scope_marker!(AgentsRead, Scope::AgentsRead);
scope_marker!(AgentsWrite, Scope::AgentsWrite);
scope_marker!(AgentsDelete, Scope::AgentsDelete);
scope_marker!(UsageRead, Scope::UsageRead);

/// The authenticated caller, guaranteed to hold scope `S`.
pub struct Scoped<S: RequiredScope> {
    pub caller: Caller,
    _scope: PhantomData<S>,
}

impl<S: RequiredScope, St: Send + Sync> FromRequestParts<St> for Scoped<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthenticated("missing API key".into()))?;
        if !caller.has_scope(S::SCOPE) {
            tracing::info!(key_id = %caller.key_id, scope = %S::SCOPE, "request rejected: missing scope");
            return Err(ApiError::MissingScope(S::SCOPE));
        }
        Ok(Scoped { caller, _scope: PhantomData })
    }
}

/// A query string. Errors name the parameter, in the API's error format.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text.strip_prefix("Failed to deserialize query string: ").unwrap_or(&text);
                let param = detail.split_once(':').map(|(name, _)| name.trim().to_string());
                Err(ApiError::InvalidRequest(format!("invalid query parameter {detail}"), param))
            }
        }
    }
}

/// A raw request body of any type, limited to the body size limit.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().map(|l| l.0).unwrap_or(0);
        Bytes::from_request(req, state).await.map(RawBody).map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::invalid(format!("cannot read request body: {rejection}"))
            }
        })
    }
}
