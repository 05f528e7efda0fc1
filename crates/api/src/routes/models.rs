//! `GET /v1/models`: the account's agents as OpenAI model ids, so OpenAI SDK
//! clients can list what they may put in `model`.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AgentsRead, Scoped};
use crate::AppState;

/// Page size used to walk the account's agents.
const PAGE_SIZE: u32 = gopilot_control::agents::MAX_PAGE_SIZE;

/// One chat target in OpenAI's model shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelEntry {
    /// An agent id, or `<agent id>/<extra agent>`.
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    /// Creation time of the agent, in Unix seconds.
    pub created: i64,
    /// Always `gopilot`.
    pub owned_by: &'static str,
}

/// OpenAI's list shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<ModelEntry>,
}

/// List the account's agents, newest first, each followed by its extra
/// agents as `<id>/<name>`. Every id works as `model` of
/// `POST /v1/chat/completions`.
#[utoipa::path(get, path = "/v1/models", tag = "chat",
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Every agent of the account", body = ModelList),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:read", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody)))]
pub async fn list_models(State(state): State<AppState>, scoped: Scoped<AgentsRead>) -> Result<Json<ModelList>, ApiError> {
    let account_id = &scoped.caller.account_id;
    let mut data = Vec::new();
    let mut cursor: Option<String> = None;

    loop {
        let (agents, has_more) = state.agents.list(account_id, PAGE_SIZE, cursor.as_deref()).await?;
        cursor = agents.last().map(|agent| agent.id.clone());

        for agent in agents {
            let created = agent.created_at.unix_timestamp();
            data.push(model_entry(agent.id.clone(), created));
            for extra in &agent.extra_agents {
                data.push(model_entry(format!("{}/{}", agent.id, extra.name), created));
            }
        }

        if !has_more || cursor.is_none() {
            break;
        }
    }
    Ok(Json(ModelList { object: "list", data }))
}

fn model_entry(id: String, created: i64) -> ModelEntry {
    ModelEntry { id, object: "model", created, owned_by: "gopilot" }
}
