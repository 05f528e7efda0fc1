//! The agents resource.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gopilot_core::validate::{CreateAgent, UpdateAgent};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, AgentsDelete, AgentsRead, AgentsWrite, JsonBody, Scoped};
use crate::views::{AgentList, AgentResponse, Deleted};
use crate::AppState;

const DEFAULT_PAGE_SIZE: u32 = 20;

/// Query of `GET /v1/agents`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100; default 20.
    pub limit: Option<String>,
    /// Id of the last agent of the previous page.
    pub starting_after: Option<String>,
}

/// Query of `POST /v1/agents`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// `false` answers 202 at once instead of waiting until the agent runs.
    pub wait: Option<bool>,
}

/// Create an agent. The call provisions a sandbox and returns once the
/// runtime is ready (201), or with 202 and `status: "provisioning"` when the
/// configured wait passes first or when `wait` is false. A repeated
/// `Idempotency-Key` header returns the agent the first request created.
#[utoipa::path(post, path = "/v1/agents", tag = "agents", request_body = CreateAgent,
    params(CreateQuery, ("Idempotency-Key" = Option<String>, Header, description = "Repeated keys return the agent the first request created")),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Agent created and running", body = AgentResponse),
        (status = 202, description = "Agent created and still provisioning", body = AgentResponse),
        (status = 400, description = "Missing or invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:write", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody)))]
pub async fn create_agent(
    State(state): State<AppState>,
    scoped: Scoped<AgentsWrite>,
    headers: axum::http::HeaderMap,
    ApiQuery(query): ApiQuery<CreateQuery>,
    JsonBody(mut request): JsonBody<CreateAgent>,
) -> Result<(StatusCode, Json<AgentResponse>), ApiError> {
    let wait = query.wait.or(request.wait.take()).unwrap_or(true) && state.lifecycle.has_sandboxes();
    let wait_for = if wait { state.config.create_wait } else { std::time::Duration::ZERO };

    let idempotency_key = idempotency_key(&headers)?;

    let agent = state
        .lifecycle
        .create(&scoped.caller.account_id, request, wait_for, idempotency_key.as_deref())
        .await?;
    let status = if agent.status == gopilot_core::AgentStatus::Running { StatusCode::CREATED } else { StatusCode::ACCEPTED };
    Ok((status, Json(AgentResponse::new(agent, &state.config.agents_domain))))
}

/// Reads `Idempotency-Key`: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().unwrap_or("");
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidRequest(
            "Idempotency-Key header must be 1 to 255 visible ASCII characters".into(),
            Some("Idempotency-Key".into()),
        ));
    }
    Ok(Some(key.to_string()))
}

/// List agents, newest first.
#[utoipa::path(get, path = "/v1/agents", tag = "agents", params(ListQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "One page of agents", body = AgentList),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:read", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody)))]
pub async fn list_agents(
    State(state): State<AppState>,
    scoped: Scoped<AgentsRead>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<AgentList>, ApiError> {
    let limit = match query.limit.as_deref() {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text.parse::<u32>().map_err(|_| {
            ApiError::InvalidRequest(
                format!("limit must be a whole number between 1 and 100, got {text:?}"),
                Some("limit".into()),
            )
        })?,
    };
    let (agents, has_more) = state
        .agents
        .list(&scoped.caller.account_id, limit, query.starting_after.as_deref())
        .await?;

    let next_cursor = if has_more { agents.last().map(|a| a.id.clone()) } else { None };
    let data = agents
        .into_iter()
        .map(|agent| AgentResponse::new(agent, &state.config.agents_domain))
        .collect();
    Ok(Json(AgentList { object: "list", data, has_more, next_cursor }))
}

/// Get an agent.
#[utoipa::path(get, path = "/v1/agents/{id}", tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The agent", body = AgentResponse),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:read", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody)))]
pub async fn get_agent(
    State(state): State<AppState>,
    scoped: Scoped<AgentsRead>,
    Path(id): Path<String>,
) -> Result<Json<AgentResponse>, ApiError> {
    let agent = state.agents.get(&scoped.caller.account_id, &id).await?;
    let usage = state.lifecycle.resource_usage(&id).await;
    Ok(Json(AgentResponse::new(agent, &state.config.agents_domain).with_usage(usage)))
}

/// Update an agent. Absent fields keep their values.
#[utoipa::path(patch, path = "/v1/agents/{id}", tag = "agents", request_body = UpdateAgent,
    params(("id" = String, Path, description = "Agent id")),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The updated agent", body = AgentResponse),
        (status = 400, description = "Missing or invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:write", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody)))]
pub async fn update_agent(
    State(state): State<AppState>,
    scoped: Scoped<AgentsWrite>,
    Path(id): Path<String>,
    JsonBody(update): JsonBody<UpdateAgent>,
) -> Result<Json<AgentResponse>, ApiError> {
    if update.is_empty() {
        return Err(ApiError::invalid("request body must change at least one field"));
    }
    let agent = state.lifecycle.update(&scoped.caller.account_id, &id, update).await?;
    Ok(Json(AgentResponse::new(agent, &state.config.agents_domain)))
}

/// Delete an agent with its sandbox, volume and secrets.
#[utoipa::path(delete, path = "/v1/agents/{id}", tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Agent deleted", body = Deleted),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:delete", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody)))]
pub async fn delete_agent(
    State(state): State<AppState>,
    scoped: Scoped<AgentsDelete>,
    Path(id): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    state.lifecycle.delete(&scoped.caller.account_id, &id).await?;
    Ok(Json(Deleted { id, object: "agent", deleted: true }))
}
