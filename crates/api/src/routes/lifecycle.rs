//! Lifecycle actions and the event history of an agent.

use axum::extract::{Path, State};
use axum::Json;
use gopilot_core::{Action, AgentStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, AgentsRead, AgentsWrite, Scoped};
use crate::views::AgentResponse;
use crate::AppState;

async fn act(state: AppState, account_id: &str, id: &str, action: Action) -> Result<Json<AgentResponse>, ApiError> {
    let agent = state.lifecycle.act(account_id, id, action).await?;
    let usage = state.lifecycle.resource_usage(id).await;
    Ok(Json(AgentResponse::new(agent, &state.config.agents_domain).with_usage(usage)))
}

macro_rules! action_route {
    ($name:ident, $action:expr, $path:literal, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(post, path = $path, tag = "agents",
            params(("id" = String, Path, description = "Agent id")),
            security(("api_key" = []), ("bearer" = [])),
            responses(
                (status = 200, description = "The agent after the action; repeating an action is a no-op", body = AgentResponse),
                (status = 401, description = "Missing or invalid API key", body = ErrorBody),
                (status = 403, description = "API key lacks agents:write", body = ErrorBody),
                (status = 404, description = "Agent not found", body = ErrorBody),
                (status = 409, description = "The agent's state does not allow this action (code invalid_state or agent_not_running)", body = ErrorBody),
                (status = 429, description = "Too many requests", body = ErrorBody),
                (status = 500, description = "Internal server error", body = ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            scoped: Scoped<AgentsWrite>,
            Path(id): Path<String>,
        ) -> Result<Json<AgentResponse>, ApiError> {
            act(state, &scoped.caller.account_id, &id, $action).await
        }
    };
}

action_route!(start_agent, Action::Start, "/v1/agents/{id}/start", "Start a stopped agent.");
action_route!(stop_agent, Action::Stop, "/v1/agents/{id}/stop", "Stop an agent: compute is released, the workspace is kept.");
action_route!(restart_agent, Action::Restart, "/v1/agents/{id}/restart", "Restart an agent's runtime.");
action_route!(pause_agent, Action::Pause, "/v1/agents/{id}/pause", "Pause an agent: every process is frozen.");
action_route!(resume_agent, Action::Resume, "/v1/agents/{id}/resume", "Resume a paused agent.");

/// Query of the events list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this event id.
    pub after: Option<i64>,
    /// Page size, 1 to 1000; default 100.
    pub limit: Option<u32>,
}

/// One recorded event of an agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// `created`, `transition`, `action`, `updated`, `reconfigured`, `idle` or `oom`.
    pub kind: String,
    pub from_status: Option<AgentStatus>,
    pub to_status: Option<AgentStatus>,
    pub message: String,
}

/// A page of events, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub object: &'static str,
    pub data: Vec<EventResponse>,
}

/// List an agent's lifecycle events, oldest first.
#[utoipa::path(get, path = "/v1/agents/{id}/events", tag = "agents",
    params(("id" = String, Path, description = "Agent id"), EventsQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Events", body = EventList),
        (status = 400, description = "Invalid limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:read", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody)))]
pub async fn list_events(
    State(state): State<AppState>,
    scoped: Scoped<AgentsRead>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<EventList>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidRequest(
            format!("limit must be between 1 and 1000, got {limit}"),
            Some("limit".into()),
        ));
    }
    state.agents.get(&scoped.caller.account_id, &id).await?;
    let events = state
        .agents
        .store()
        .list_events(&id, query.after, limit)
        .await
        .map_err(gopilot_control::ServiceError::from)?;
    let data = events
        .into_iter()
        .map(|e| EventResponse {
            id: e.id,
            at: e.at,
            kind: e.kind,
            from_status: e.from_status,
            to_status: e.to_status,
            message: e.message,
        })
        .collect();
    Ok(Json(EventList { object: "list", data }))
}
