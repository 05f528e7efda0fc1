//! RFC 3339 formatting of times for logs, status and file listings.

use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Formats `at` as RFC 3339 UTC, e.g. `2026-12-01T10:00:00.123456789Z`.
pub fn rfc3339(at: OffsetDateTime) -> String {
    // The `time` crate rejects RFC 3339 formatting only for years outside 0..=9999,
    // which the system clock does not produce; the Unix timestamp is a fallback.
    at.format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// Returns the current time as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// Formats a file system time as RFC 3339 UTC.
pub fn system_time_rfc3339(at: SystemTime) -> String {
    rfc3339(OffsetDateTime::from(at))
}
