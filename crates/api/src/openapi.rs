//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{agents, files, health, lifecycle};
use crate::routes::{chat, log_entries, logs, models};
use crate::routes::usage;
use crate::views::{AgentList, AgentResponse, Deleted, Health};

#[derive(OpenApi)]
#[openapi(
    info(title = "GoPilot API", description = "Create, run and talk to AI agents."),
    paths(
        health::healthz,
        health::readyz,
        agents::create_agent,
        agents::list_agents,
        agents::get_agent,
        agents::update_agent,
        agents::delete_agent,
        lifecycle::start_agent,
        lifecycle::stop_agent,
        lifecycle::restart_agent,
        lifecycle::pause_agent,
        lifecycle::resume_agent,
        lifecycle::list_events,
        files::list_files,
        files::read_file,
        files::write_file,
        files::delete_file,
        logs::agent_logs,
        chat::agent_chat_completions,
        chat::chat_completions,
        models::list_models,
        usage::get_usage,
        usage::get_agent_usage,
        serve,
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        AgentResponse,
        AgentList,
        Deleted,
        Health,
        lifecycle::EventList,
        logs::LogList,
        log_entries::LogEntry,
        log_entries::LogSource,
        log_entries::LogEntryStream,
        models::ModelList,
        models::ModelEntry,
        usage::UsageResponse,
        usage::UsageBucketView,
        usage::UsageTotals,
        usage::ComputeView,
        usage::StatusSecondsView,
    )),
    modifiers(&SecuritySchemes),
    tags((name = "agents", description = "Agents and their lifecycle"), (name = "health", description = "Probes"),
        (name = "chat", description = "OpenAI-compatible chat with agents"),
        (name = "files", description = "Workspace files of an agent"),
        (name = "usage", description = "LLM tokens, cost and compute time"))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("gopt_live_...").build()),
        );
    }
}

/// Returns the OpenAPI document as JSON text.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().expect("OpenAPI document serializes")
}

/// Serves the OpenAPI document; it needs no API key.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "health",
    responses((status = 200, description = "This document")))]
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
