//! Chat with an agent through the OpenAI Chat Completions protocol.
//!
//! Both routes need `agents:write`: a chat makes the agent act (run tools,
//! write files, send messages) and resumes it when paused, which is more
//! than reading it.

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AgentsWrite, JsonBody, Scoped};
use crate::routes::chat_target::{target_for_agent, target_from_model, ChatTarget, PRIMARY_AGENT};
use crate::AppState;

/// Chat with one agent. `model` may be left out for the primary agent, or
/// name an extra agent of the sandbox. `user` keeps a stable conversation:
/// requests with the same `user` share the runtime's session.
#[utoipa::path(post, path = "/v1/agents/{id}/chat/completions", tag = "chat",
    params(("id" = String, Path, description = "Agent id")),
    request_body(content = Object, description = "An OpenAI Chat Completions request: `messages`, optional `model`, `stream`, `user` and sampling fields"),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The runtime's completion, or with `stream: true` its server-sent events passed through as they arrive",
            content((Object = "application/json"), (String = "text/event-stream"))),
        (status = 400, description = "Invalid body or model, or the runtime rejected the request (its message is kept)", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:write", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
        (status = 409, description = "Agent is stopped (agent_not_running) or still provisioning", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody),
        (status = 502, description = "Runtime unreachable (runtime_unavailable), or it failed or returned an invalid response (upstream_error)", body = ErrorBody),
        (status = 504, description = "Runtime did not respond in time (runtime_timeout)", body = ErrorBody)))]
pub async fn agent_chat_completions(
    State(state): State<AppState>,
    scoped: Scoped<AgentsWrite>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let request = ChatRequest::parse(body)?;
    let target = target_for_agent(&id, request.model.as_deref())?;
    forward(&state, &scoped.caller.account_id, target, request).await
}

/// Chat with an agent chosen by `model`, for OpenAI SDK clients whose base
/// URL is GoPilot's `/v1`: `model` is an agent id, `agent:<id>`, or
/// `<id>/<extra agent>`.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "chat",
    request_body(content = Object, description = "An OpenAI Chat Completions request whose `model` names the agent"),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The runtime's completion, or with `stream: true` its server-sent events passed through as they arrive",
            content((Object = "application/json"), (String = "text/event-stream"))),
        (status = 400, description = "Invalid body, `model` is not an agent reference, or the runtime rejected the request", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:write", body = ErrorBody),
        (status = 404, description = "No agent with that id in this account", body = ErrorBody),
        (status = 409, description = "Agent is stopped (agent_not_running) or still provisioning", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody),
        (status = 502, description = "Runtime unreachable (runtime_unavailable), or it failed or returned an invalid response (upstream_error)", body = ErrorBody),
        (status = 504, description = "Runtime did not respond in time (runtime_timeout)", body = ErrorBody)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    scoped: Scoped<AgentsWrite>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let request = ChatRequest::parse(body)?;
    let target = target_from_model(request.model.as_deref())?;
    let model = request.model.clone().unwrap_or_default();

    forward(&state, &scoped.caller.account_id, target, request).await.map_err(|err| match err {
        // SDK users who kept a provider's model name get here, so the message
        // names where the valid names are listed.
        ApiError::NotFound(_) => ApiError::NotFound(format!(
            "model {model:?} names no agent of this account; GET /v1/models lists the valid names"
        )),
        other => other,
    })
}

/// A chat request body, with the fields the platform reads checked.
/// Everything else goes to the runtime unchanged.
struct ChatRequest {
    body: Map<String, Value>,
    model: Option<String>,
    stream: bool,
}

impl ChatRequest {
    fn parse(body: Map<String, Value>) -> Result<ChatRequest, ApiError> {
        let invalid = |field: &str, message: String| ApiError::InvalidRequest(message, Some(field.into()));

        match body.get("messages") {
            Some(Value::Array(messages)) if !messages.is_empty() => {}
            Some(Value::Array(_)) => return Err(invalid("messages", "messages must contain at least one message".into())),
            Some(_) => return Err(invalid("messages", "messages must be an array of {role, content} objects".into())),
            None => return Err(invalid("messages", "messages is required".into())),
        }
        let model = match body.get("model") {
            None | Some(Value::Null) => None,
            Some(Value::String(model)) => Some(model.clone()),
            Some(other) => return Err(invalid("model", format!("model must be a string, got {other}"))),
        };
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(stream)) => *stream,
            Some(other) => return Err(invalid("stream", format!("stream must be true or false, got {other}"))),
        };
        // `user` goes to the runtime as it is: OpenClaw derives a stable
        // session key from it, so one `user` is one conversation.
        match body.get("user") {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => return Err(invalid("user", format!("user must be a string, got {other}"))),
        }

        Ok(ChatRequest { body, model, stream })
    }
}

/// Resumes the agent if needed, puts the runtime's model id into the body
/// and forwards it.
async fn forward(state: &AppState, account_id: &str, target: ChatTarget, request: ChatRequest) -> Result<Response, ApiError> {
    let endpoint = state.runtime.ensure_running(account_id, &target.agent_id).await?;
    state.runtime.touch(&target.agent_id);

    let Some(model) = endpoint.model_for(target.extra_agent.as_deref()) else {
        let names: Vec<&str> = endpoint.models.iter().map(|model| model.agent.as_str()).collect();
        let extra = target.extra_agent.as_deref().unwrap_or(PRIMARY_AGENT);
        return Err(ApiError::InvalidRequest(
            format!("agent {:?} has no agent named {extra:?}; its agents are: {}", target.agent_id, names.join(", ")),
            Some("model".into()),
        ));
    };

    let mut body = request.body;
    body.insert("model".into(), Value::String(model.to_string()));
    tracing::info!(
        agent_id = %target.agent_id,
        extra_agent = target.extra_agent.as_deref().unwrap_or(PRIMARY_AGENT),
        stream = request.stream,
        "forwarding chat request to runtime"
    );
    let response = state.proxy.forward_chat(&endpoint, &Value::Object(body), request.stream).await?;
    Ok(response)
}
