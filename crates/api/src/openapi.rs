//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{agents, health};
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
        serve,
    ),
    components(schemas(ErrorBody, ErrorDetail, AgentResponse, AgentList, Deleted, Health)),
    modifiers(&SecuritySchemes),
    tags((name = "agents", description = "Agents and their lifecycle"), (name = "health", description = "Probes"))
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
