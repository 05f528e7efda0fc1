//! Wall-clock time at the store's precision.

use time::OffsetDateTime;

/// Returns the current UTC time truncated to milliseconds, the precision the
/// store keeps, so a value returned at creation equals the value read back.
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .expect("a truncated nanosecond value stays in range")
}
