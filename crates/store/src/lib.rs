//! GoPilot's persistence layer.
//!
//! One [`Store`] serves both databases through sqlx's `Any` driver: SQLite
//! (a file in the data directory, WAL mode) by default and PostgreSQL when
//! the URL starts with `postgres://`. Queries use only SQL that both accept,
//! times are Unix milliseconds in `BIGINT` columns, and each database has its
//! own migration folder for the few type names that differ.

mod accounts;
mod agents;
mod api_keys;
mod connect;
mod error;
mod events;
mod idempotency;
mod status_history;
mod time_ms;
mod usage;

pub use accounts::Account;
pub use agents::{AgentPage, AgentRow};
pub use api_keys::{ApiKeyRecord, NewApiKey};
pub use connect::{Database, Store};
pub use error::StoreError;
pub use events::AgentEvent;
pub use status_history::StatusHistory;
pub use usage::{utc_day, NewUsageRecord, UsageBucket, UsageFilter, UsageGrouping};
