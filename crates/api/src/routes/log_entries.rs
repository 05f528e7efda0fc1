//! Entries of an agent's log: runtime output from the guest and the
//! platform's lifecycle events, merged by time, with secrets masked.

use std::collections::VecDeque;

use gopilot_guest_api::{LogLine, LogStream};
use gopilot_store::{AgentEvent, Store, StoreError};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::proxy::redact::redact_secrets;

/// Events read from the store per query.
const EVENT_PAGE_SIZE: u32 = 500;

/// Origin of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The agent's runtime process, as the guest recorded it.
    Runtime,
    /// GoPilot's control plane.
    Platform,
}

/// Stream of an entry: the runtime's `stdout` or `stderr`, `guest` for the
/// sandbox supervisor's own lines, `event` for platform events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogEntryStream {
    Stdout,
    Stderr,
    Guest,
    Event,
}

/// One line of an agent's log.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LogEntry {
    /// When the line was written, RFC 3339 UTC.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ts: OffsetDateTime,
    pub source: LogSource,
    pub stream: LogEntryStream,
    /// The text, with API keys and tokens replaced by `[REDACTED]`.
    pub line: String,
}

/// Converts a guest line, masking secrets. Returns `None` when its time is
/// not RFC 3339, which the guest never sends.
pub fn runtime_entry(line: &LogLine) -> Option<LogEntry> {
    let ts = OffsetDateTime::parse(&line.ts, &Rfc3339).ok()?;
    let stream = match line.stream {
        LogStream::Stdout => LogEntryStream::Stdout,
        LogStream::Stderr => LogEntryStream::Stderr,
        LogStream::Guest => LogEntryStream::Guest,
    };
    Some(LogEntry { ts, source: LogSource::Runtime, stream, line: redact_secrets(&line.line).into_owned() })
}

/// Converts a platform event to a line such as
/// `transition: sandbox ready (provisioning -> running)`.
pub fn platform_entry(event: &AgentEvent) -> LogEntry {
    let statuses = match (event.from_status, event.to_status) {
        (Some(from), Some(to)) => format!(" ({} -> {})", from.as_str(), to.as_str()),
        (None, Some(to)) => format!(" (-> {})", to.as_str()),
        (Some(from), None) => format!(" ({} ->)", from.as_str()),
        (None, None) => String::new(),
    };
    let text = format!("{}: {}{statuses}", event.kind, event.message);
    LogEntry {
        ts: event.at,
        source: LogSource::Platform,
        stream: LogEntryStream::Event,
        line: redact_secrets(&text).into_owned(),
    }
}

/// Returns the last `tail` events of an agent after `since`, oldest first.
// TODO: the store lists events oldest first only, so this reads every event
// of the agent; a newest-first query would read only `tail` of them.
pub async fn recent_platform_entries(
    store: &Store,
    agent_id: &str,
    since: Option<OffsetDateTime>,
    tail: usize,
) -> Result<Vec<LogEntry>, StoreError> {
    let mut newest: VecDeque<LogEntry> = VecDeque::with_capacity(tail.min(1024));
    let mut after = None;

    loop {
        let page = store.list_events(agent_id, after, EVENT_PAGE_SIZE).await?;
        after = page.last().map(|event| event.id);

        for event in page.iter().filter(|event| since.is_none_or(|since| event.at > since)) {
            if newest.len() == tail {
                newest.pop_front();
            }
            if tail > 0 {
                newest.push_back(platform_entry(event));
            }
        }
        if page.len() < EVENT_PAGE_SIZE as usize {
            break;
        }
    }
    Ok(newest.into())
}

/// Merges two time-ordered lists and keeps the last `tail` entries. At equal
/// times, platform events come first, because an event such as `started`
/// precedes the output it causes.
pub fn merge_tail(runtime: Vec<LogEntry>, platform: Vec<LogEntry>, tail: usize) -> Vec<LogEntry> {
    let mut merged = platform;
    merged.extend(runtime);
    // A stable sort keeps each source's own order at equal times.
    merged.sort_by_key(|entry| entry.ts);

    let skip = merged.len().saturating_sub(tail);
    merged.drain(..skip);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use gopilot_core::AgentStatus;
    use time::macros::datetime;

    fn guest_line(ts: &str, stream: LogStream, text: &str) -> LogLine {
        LogLine { ts: ts.into(), stream, line: text.into() }
    }

    fn event(at: OffsetDateTime, message: &str) -> AgentEvent {
        AgentEvent {
            id: 1,
            agent_id: "ag1".into(),
            at,
            kind: "transition".into(),
            from_status: Some(AgentStatus::Provisioning),
            to_status: Some(AgentStatus::Running),
            message: message.into(),
        }
    }

    #[test]
    fn runtime_entry_masks_secret() {
        let line = guest_line("2026-12-01T10:00:00.123456789Z", LogStream::Stderr, "key=sk-abcdefghijklmnopqrst");

        let entry = runtime_entry(&line).unwrap();

        assert_eq!(entry.line, "key=sk-[REDACTED]");
        assert_eq!(entry.stream, LogEntryStream::Stderr);
        assert_eq!(entry.ts, datetime!(2026-12-01 10:00:00.123456789 UTC));
    }

    #[test]
    fn runtime_entry_rejects_bad_time() {
        assert_eq!(runtime_entry(&guest_line("yesterday", LogStream::Stdout, "x")), None);
    }

    #[test]
    fn platform_entry_names_transition() {
        let entry = platform_entry(&event(datetime!(2026-12-01 10:00 UTC), "sandbox ready"));
        assert_eq!(entry.line, "transition: sandbox ready (provisioning -> running)");
        assert_eq!(entry.source, LogSource::Platform);
    }

    #[test]
    fn merge_orders_by_time_and_keeps_tail() {
        let runtime = vec![
            runtime_entry(&guest_line("2026-12-01T10:00:01Z", LogStream::Stdout, "r1")).unwrap(),
            runtime_entry(&guest_line("2026-12-01T10:00:03Z", LogStream::Stdout, "r3")).unwrap(),
        ];
        let platform = vec![
            platform_entry(&event(datetime!(2026-12-01 10:00:00 UTC), "p0")),
            platform_entry(&event(datetime!(2026-12-01 10:00:02 UTC), "p2")),
        ];

        let merged = merge_tail(runtime, platform, 3);

        let lines: Vec<&str> = merged.iter().map(|entry| entry.line.as_str()).collect();
        assert_eq!(
            lines,
            ["r1", "transition: p2 (provisioning -> running)", "r3"],
        );
    }
}
