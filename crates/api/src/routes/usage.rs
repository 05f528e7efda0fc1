//! The usage resource: LLM tokens and cost from the gateway's records, and
//! compute time from the agents' status history.

mod views;

use axum::extract::{Path, State};
use axum::Json;
use gopilot_control::{GroupBy, UsageRange, UsageService};
use gopilot_core::ValidationError;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, Scoped, UsageRead};
use crate::AppState;

pub use views::{ComputeView, StatusSecondsView, UsageBucketView, UsageResponse, UsageTotals};

/// Query of the usage routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Start of the range, inclusive, RFC 3339; default 30 days before `end`.
    pub start: Option<String>,
    /// End of the range, exclusive, RFC 3339; default now. It must be later
    /// than `start` and at most 366 days after it.
    pub end: Option<String>,
    /// `day` (default, UTC days), `agent` or `model` (`provider/model`).
    pub group_by: Option<String>,
}

impl UsageQuery {
    fn parse(&self) -> Result<(UsageRange, GroupBy), ValidationError> {
        let start = self.start.as_deref().map(|text| parse_time("start", text)).transpose()?;
        let end = self.end.as_deref().map(|text| parse_time("end", text)).transpose()?;
        let range = UsageRange::resolve(start, end, gopilot_control::clock::now())?;
        let group_by = self.group_by.as_deref().map(GroupBy::parse).transpose()?.unwrap_or_default();
        Ok((range, group_by))
    }
}

fn parse_time(field: &str, text: &str) -> Result<OffsetDateTime, ValidationError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ValidationError::new(field, format!("must be an RFC 3339 time such as 2026-03-01T00:00:00Z, got {text:?}"))
    })
}

/// Builds the service on the shared store, which is its only state.
fn usage_service(state: &AppState) -> UsageService {
    UsageService::new(state.agents.store().clone())
}

/// Usage of the whole account.
///
/// `data` groups the LLM requests that the gateway forwarded. `cost_usd`
/// sums the known costs. `cost_complete` is false when a request used a
/// model missing from the price table, because its cost is unknown and left
/// out. `compute` lists each agent's seconds per status. Usage of deleted
/// agents stays in `data` and `totals`, but their compute time is gone.
#[utoipa::path(get, path = "/v1/usage", tag = "usage", params(UsageQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Usage of the account", body = UsageResponse),
        (status = 400, description = "Invalid start, end or group_by", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks usage:read", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody)))]
pub async fn get_usage(
    State(state): State<AppState>,
    scoped: Scoped<UsageRead>,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<UsageResponse>, ApiError> {
    let (range, group_by) = query.parse()?;
    let summary = usage_service(&state)
        .summary(&scoped.caller.account_id, None, range, group_by)
        .await?;
    Ok(Json(summary.into()))
}

/// Usage of one agent.
///
/// Same body as `GET /v1/usage`, restricted to the agent. `cost_complete`
/// is false when a request used a model missing from the price table.
#[utoipa::path(get, path = "/v1/agents/{id}/usage", tag = "usage", params(("id" = String, Path, description = "Agent id"), UsageQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Usage of the agent", body = UsageResponse),
        (status = 400, description = "Invalid start, end or group_by", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks usage:read", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody)))]
pub async fn get_agent_usage(
    State(state): State<AppState>,
    scoped: Scoped<UsageRead>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<UsageResponse>, ApiError> {
    let (range, group_by) = query.parse()?;
    let summary = usage_service(&state)
        .summary(&scoped.caller.account_id, Some(&id), range, group_by)
        .await?;
    Ok(Json(summary.into()))
}
