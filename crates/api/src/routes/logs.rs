//! `GET /v1/agents/{id}/logs`: the runtime's output merged with the
//! platform's lifecycle events, as a list or as server-sent events.
//!
//! Runtime output comes from the guest inside the sandbox, which keeps it in
//! a size-bounded rotating log file, so old runtime lines disappear as new
//! ones arrive. Platform events are kept for the agent's lifetime.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::{self, Stream, StreamExt};
use gopilot_control::ServiceError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{AgentsRead, Scoped};
use crate::proxy::{GuestLogItem, GuestLogStream};
use crate::routes::log_entries::{merge_tail, recent_platform_entries, runtime_entry, LogEntry};
use crate::AppState;

const DEFAULT_TAIL: usize = 100;
const MAX_TAIL: usize = 10_000;

/// Interval of SSE comments that keep idle proxies from closing a follow stream.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// Query of `GET /v1/agents/{id}/logs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// At most this many of the newest entries, 0 to 10000; default 100.
    pub tail: Option<String>,
    /// Only entries strictly after this RFC 3339 time.
    pub since: Option<String>,
    /// `true` streams server-sent events: first the tail, then new runtime
    /// lines as they are written.
    pub follow: Option<String>,
}

/// Body of a logs response without `follow`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogList {
    /// Always `list`.
    pub object: &'static str,
    /// Oldest first.
    pub data: Vec<LogEntry>,
}

/// The agent's log: runtime output (`source: runtime`, streams `stdout`,
/// `stderr` and `guest`) and lifecycle events (`source: platform`, stream
/// `event`), oldest first, with API keys and tokens masked. With
/// `follow=true` the response is `text/event-stream` with one `log` event
/// per entry. A `lagged` event carries the number of runtime lines skipped
/// when this reader falls behind, an `error` event comes before the stream
/// ends on a failure, and a keep-alive comment comes every 15 s. The stream ends when the
/// client disconnects or the runtime's sandbox stops; with no sandbox
/// running it sends the tail and ends. Runtime output is bounded by the
/// sandbox's rotating log file.
#[utoipa::path(get, path = "/v1/agents/{id}/logs", tag = "agents",
    params(("id" = String, Path, description = "Agent id"), LogsQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Log entries, or with follow=true server-sent `log` events",
            content((LogList = "application/json"), (String = "text/event-stream"))),
        (status = 400, description = "Invalid tail, since or follow", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "API key lacks agents:read", body = ErrorBody),
        (status = 404, description = "Agent not found", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 500, description = "Internal server error", body = ErrorBody),
        (status = 502, description = "The sandbox's guest is unreachable or returned an invalid response", body = ErrorBody),
        (status = 504, description = "The sandbox's guest did not respond in time", body = ErrorBody)))]
pub async fn agent_logs(
    State(state): State<AppState>,
    scoped: Scoped<AgentsRead>,
    Path(id): Path<String>,
    query: Result<Query<LogsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(format!("invalid query: {}", rejection.body_text())))?;
    let tail = parse_tail(query.tail.as_deref())?;
    let since = query.since.as_deref().map(parse_since).transpose()?;
    let follow = parse_follow(query.follow.as_deref())?;
    let account_id = &scoped.caller.account_id;

    // 404 for an agent of another account, before any sandbox is asked.
    state.agents.get(account_id, &id).await?;
    let guest = state.runtime.guest(account_id, &id).await?;

    // Subscribing before the tail is read leaves no gap between the two;
    // lines seen in both are dropped from the live part below.
    let live = match (&guest, follow) {
        (Some(guest), true) => Some(state.proxy.follow_guest_logs(&id, guest).await?),
        _ => None,
    };

    let runtime = match &guest {
        Some(guest) => {
            let since_text = since.map(format_rfc3339);
            let lines = state.proxy.fetch_guest_logs(&id, guest, tail, since_text.as_deref()).await?;
            runtime_entries(&id, &lines)
        }
        None => Vec::new(),
    };
    let last_runtime_ts = runtime.last().map(|entry| entry.ts);
    let platform = recent_platform_entries(state.agents.store(), &id, since, tail)
        .await
        .map_err(ServiceError::from)?;
    let backlog = merge_tail(runtime, platform, tail);

    if !follow {
        return Ok(Json(LogList { object: "list", data: backlog }).into_response());
    }
    tracing::info!(agent_id = %id, tail, runtime = live.is_some(), "log follow stream opened");
    let events = follow_events(id, backlog, live, last_runtime_ts);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE_INTERVAL)).into_response())
}

fn parse_tail(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_TAIL);
    };
    match text.parse::<usize>() {
        Ok(tail) if tail <= MAX_TAIL => Ok(tail),
        _ => Err(ApiError::InvalidRequest(
            format!("tail must be a whole number between 0 and {MAX_TAIL}, got {text:?}"),
            Some("tail".into()),
        )),
    }
}

fn parse_since(text: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ApiError::InvalidRequest(
            format!("since must be an RFC 3339 time such as 2026-12-01T10:00:00Z, got {text:?}"),
            Some("since".into()),
        )
    })
}

fn parse_follow(text: Option<&str>) -> Result<bool, ApiError> {
    match text {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::InvalidRequest(
            format!("follow must be true or false, got {other:?}"),
            Some("follow".into()),
        )),
    }
}

fn format_rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("a time from an RFC 3339 text formats as RFC 3339")
}

fn runtime_entries(agent_id: &str, lines: &[gopilot_guest_api::LogLine]) -> Vec<LogEntry> {
    let entries: Vec<LogEntry> = lines.iter().filter_map(runtime_entry).collect();
    let skipped = lines.len() - entries.len();
    if skipped > 0 {
        // Logged once per request rather than once per line.
        tracing::warn!(agent_id, skipped, "guest sent log lines without an RFC 3339 time; they were left out");
    }
    entries
}

/// Builds the SSE stream of a follow request: the backlog, then live runtime
/// lines newer than `last_runtime_ts`.
fn follow_events(
    agent_id: String,
    backlog: Vec<LogEntry>,
    live: Option<GuestLogStream>,
    last_runtime_ts: Option<OffsetDateTime>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let backlog = stream::iter(backlog).map(|entry| Ok(log_event(&entry)));

    let live = stream::iter(live).flatten();
    let live = live
        .scan(false, move |failed, item| {
            // The guest stream has ended for this reader after an error.
            if *failed {
                return futures::future::ready(None);
            }
            let event = match item {
                Ok(GuestLogItem::Line(line)) => runtime_entry(&line)
                    .filter(|entry| last_runtime_ts.is_none_or(|last| entry.ts > last))
                    .map(|entry| log_event(&entry)),
                Ok(GuestLogItem::Lagged(missed)) => Some(Event::default().event("lagged").data(missed.to_string())),
                Err(err) => {
                    *failed = true;
                    tracing::debug!(agent_id = %agent_id, "log follow stream ends after a guest failure");
                    Some(error_event(ApiError::from(err)))
                }
            };
            futures::future::ready(Some(event))
        })
        .filter_map(|event| futures::future::ready(event.map(Ok)));

    backlog.chain(live)
}

fn log_event(entry: &LogEntry) -> Event {
    // A LogEntry has string fields and a time only, so it always serializes.
    let data = serde_json::to_string(entry).unwrap_or_default();
    Event::default().event("log").data(data)
}

fn error_event(error: ApiError) -> Event {
    let (_, kind, code) = error.classify();
    let body = json!({"error": {"type": kind, "code": code, "message": error.to_string()}});
    Event::default().event("error").data(body.to_string())
}
