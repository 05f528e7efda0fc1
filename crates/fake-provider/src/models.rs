//! `GET /v1/models` in the OpenAI or the Anthropic list shape.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::server::RequestContext;

/// Lists the configured model ids. A request with an `anthropic-version`
/// header gets Anthropic's list shape, any other request OpenAI's.
pub(crate) fn handle(context: &RequestContext, headers: &HeaderMap) -> Response {
    let ids = &context.config.model_ids;

    if headers.contains_key("anthropic-version") {
        let data: Vec<Value> = ids
            .iter()
            .map(|id| {
                json!({"type": "model", "id": id, "display_name": id,
                             "created_at": "2025-01-01T00:00:00Z"})
            })
            .collect();
        return Json(json!({
            "data": data,
            "has_more": false,
            "first_id": ids.first(),
            "last_id": ids.last(),
        }))
        .into_response();
    }

    let data: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"id": id, "object": "model", "created": context.created,
                         "owned_by": "gopilot-fake-provider"})
        })
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}
