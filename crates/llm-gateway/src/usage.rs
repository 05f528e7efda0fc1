use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

/// Tokens and cost of one request forwarded to a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub agent_id: String,
    pub account_id: String,
    /// Provider name, as in the route (`anthropic`, `openai`, `openrouter`, or a compat name).
    pub provider: String,
    /// The `model` field of the request; empty when the request had none.
    pub model: String,
    pub request_id: String,
    /// All prompt tokens, the cached ones included.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The part of `input_tokens` read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// `None` when the model is missing from the price table.
    pub cost_usd: Option<f64>,
    pub started_at: OffsetDateTime,
    /// Time from receiving the request to the end of the response, in milliseconds.
    pub latency_ms: u64,
    /// Upstream HTTP status. Error statuses are recorded with zero tokens.
    pub status_code: u16,
    /// Whether the response came as SSE.
    pub streamed: bool,
}

/// Failure to store a usage record.
#[derive(Debug, thiserror::Error)]
#[error("failed to record usage: {0}")]
pub struct UsageSinkError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Receives one record per metered request. The gateway logs a returned
/// error and goes on, so the response to the runtime is not affected.
#[async_trait]
pub trait UsageSink: Send + Sync {
    async fn record(&self, record: UsageRecord) -> Result<(), UsageSinkError>;
}

/// A [`UsageSink`] that keeps the records in memory, for tests.
#[derive(Debug, Default)]
pub struct InMemoryUsageSink {
    records: Mutex<Vec<UsageRecord>>,
}

impl InMemoryUsageSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the records received so far, oldest first.
    pub fn records(&self) -> Vec<UsageRecord> {
        self.records
            .lock()
            .expect("usage records lock poisoned")
            .clone()
    }
}

#[async_trait]
impl UsageSink for InMemoryUsageSink {
    async fn record(&self, record: UsageRecord) -> Result<(), UsageSinkError> {
        self.records
            .lock()
            .expect("usage records lock poisoned")
            .push(record);
        Ok(())
    }
}
