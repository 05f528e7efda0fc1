//! `GET /v1/logs`: recent lines as JSON, or new lines as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::{ApiError, AppState};

/// Interval of SSE comments that keep idle proxies from closing the stream.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    /// At most this many of the newest lines.
    tail: Option<usize>,
    /// Only lines read strictly after this RFC 3339 time.
    since: Option<String>,
    /// Stream new lines as server-sent events instead of returning a list.
    #[serde(default)]
    follow: bool,
}

/// Returns a JSON array of `{ts, stream, line}`, or with `follow=true` an SSE
/// stream. The stream starts with the last `tail` lines (0 by default) and then
/// sends one `log` event per new line. A follower that falls behind by more
/// than the channel capacity gets a `lagged` event with the number of lines missed.
pub async fn logs(
    State(state): State<AppState>,
    query: Result<Query<LogsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::InvalidField {
        field: "query",
        reason: format!(
            "{}; use tail=N, since=RFC3339 and follow=true|false",
            rejection.body_text()
        ),
    })?;

    if query.follow {
        if query.since.is_some() {
            return Err(ApiError::InvalidField {
                field: "since",
                reason:
                    "cannot be combined with follow=true; use tail=N to start with recent lines"
                        .to_owned(),
            });
        }
        return Ok(follow(&state, query.tail.unwrap_or(0)).into_response());
    }

    let since = query.since.as_deref().map(parse_since).transpose()?;
    Ok(Json(state.logs.recent(query.tail, since)).into_response())
}

fn parse_since(text: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|error| ApiError::InvalidField {
        field: "since",
        reason: format!("`{text}` is not an RFC 3339 time such as 2026-12-01T10:00:00Z: {error}"),
    })
}

fn follow(state: &AppState, tail: usize) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (recent, receiver) = state.logs.follow(tail);

    let backlog = stream::iter(recent).map(|line| Ok(log_event(&line)));
    let live = BroadcastStream::new(receiver).map(|item| {
        Ok(match item {
            Ok(line) => log_event(&line),
            Err(BroadcastStreamRecvError::Lagged(missed)) => {
                Event::default().event("lagged").data(missed.to_string())
            }
        })
    });

    Sse::new(backlog.chain(live)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE_INTERVAL))
}

fn log_event(line: &gopilot_guest_api::LogLine) -> Event {
    // serde_json fails only on non-string map keys or a failing `Serialize`
    // impl, and a LogLine has neither.
    let data = serde_json::to_string(line).unwrap_or_default();
    Event::default().event("log").data(data)
}
