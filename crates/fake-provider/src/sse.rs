//! Paced SSE responses that note when their last event went out.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use futures::stream;

use crate::recording::RequestLog;

/// One server-sent event.
pub(crate) struct SseEvent {
    /// The `event:` field. OpenAI Chat Completions sends none.
    pub name: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub(crate) fn data(data: impl Into<String>) -> Self {
        Self {
            name: None,
            data: data.into(),
        }
    }

    pub(crate) fn named(name: &str, data: &serde_json::Value) -> Self {
        Self {
            name: Some(name.to_owned()),
            data: data.to_string(),
        }
    }

    fn encode(&self) -> Bytes {
        let mut text = String::new();
        if let Some(name) = &self.name {
            text.push_str("event: ");
            text.push_str(name);
            text.push('\n');
        }
        text.push_str("data: ");
        text.push_str(&self.data);
        text.push_str("\n\n");
        Bytes::from(text)
    }
}

/// Log entry in which a stream records the moment its last event was sent.
pub(crate) struct StreamMark {
    pub log: RequestLog,
    pub request_index: usize,
}

/// Builds a `text/event-stream` response that sends `events` one by one with
/// `delay` before each event after the first.
pub(crate) fn sse_response(events: Vec<SseEvent>, delay: Duration, mark: StreamMark) -> Response {
    let total = events.len();
    let state = (events.into_iter().enumerate(), mark);

    let body = stream::unfold(state, move |(mut events, mark)| async move {
        let (index, event) = events.next()?;
        if index > 0 && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if index + 1 == total {
            mark.log
                .mark_last_chunk_sent(mark.request_index, Instant::now());
        }
        let chunk: Result<Bytes, std::convert::Infallible> = Ok(event.encode());
        Some((chunk, (events, mark)))
    });

    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .expect("static SSE response headers are valid")
}
