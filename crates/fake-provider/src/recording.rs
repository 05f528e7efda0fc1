use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::{HeaderMap, Method};
use bytes::Bytes;

/// One request as the fake provider received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: Method,
    /// Path without the query string, as sent by the client (with or without `/v1`).
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub received_at: Instant,
    /// When the last SSE event of a streamed answer was handed to the
    /// connection. `None` for non-streamed answers or a stream still running.
    pub last_chunk_sent_at: Option<Instant>,
}

impl RecordedRequest {
    /// Returns the value of header `name` if it is present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Parses the body as JSON, returning `Value::Null` when it is not JSON.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Shared, append-only log of received requests.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestLog {
    entries: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl RequestLog {
    /// Appends a request and returns its index, used later by
    /// [`RequestLog::mark_last_chunk_sent`].
    pub(crate) fn push(&self, request: RecordedRequest) -> usize {
        let mut entries = self.entries.lock().expect("request log lock poisoned");
        entries.push(request);
        entries.len() - 1
    }

    pub(crate) fn mark_last_chunk_sent(&self, index: usize, at: Instant) {
        let mut entries = self.entries.lock().expect("request log lock poisoned");
        if let Some(entry) = entries.get_mut(index) {
            entry.last_chunk_sent_at = Some(at);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        self.entries
            .lock()
            .expect("request log lock poisoned")
            .clone()
    }
}
