//! Turns the usage of one response into a [`UsageRecord`] and delivers it.

use std::sync::Arc;
use std::time::Instant;

use time::OffsetDateTime;

use super::TokenUsage;
use crate::gateway::Shared;
use crate::usage::UsageRecord;

/// Identity of one metered request.
#[derive(Debug, Clone)]
pub(crate) struct MeterContext {
    pub agent_id: String,
    pub account_id: String,
    pub provider: String,
    pub model: String,
    pub request_id: String,
    pub started_at: OffsetDateTime,
    pub started: Instant,
}

/// Builds and delivers the usage record of one request.
pub(crate) struct Meter {
    pub(crate) context: MeterContext,
    shared: Arc<Shared>,
}

impl Meter {
    pub(crate) fn new(context: MeterContext, shared: Arc<Shared>) -> Self {
        Self { context, shared }
    }

    /// Records the response's usage and waits until the sink has taken it.
    /// `usage` is `None` for error statuses and responses without usage, which
    /// are recorded with zero tokens.
    pub(crate) async fn finish(self, usage: Option<TokenUsage>, status_code: u16, streamed: bool) {
        let record = self.build_record(usage, status_code, streamed);
        deliver(&self.shared, record).await;
    }

    /// Records the response's usage from a context that cannot wait, such as
    /// the end of a response stream.
    pub(crate) fn finish_in_background(
        self,
        usage: Option<TokenUsage>,
        status_code: u16,
        streamed: bool,
    ) {
        let record = self.build_record(usage, status_code, streamed);
        let shared = self.shared.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { deliver(&shared, record).await });
            }
            Err(_) => tracing::error!(
                request_id = %record.request_id,
                agent_id = %record.agent_id,
                "usage record lost: no Tokio runtime to deliver it"
            ),
        }
    }

    fn build_record(
        &self,
        usage: Option<TokenUsage>,
        status_code: u16,
        streamed: bool,
    ) -> UsageRecord {
        let context = &self.context;
        let success = (200..300).contains(&status_code);
        if success && usage.is_none() {
            tracing::warn!(
                request_id = %context.request_id,
                agent_id = %context.agent_id,
                provider = %context.provider,
                model = %context.model,
                "the upstream response contained no usage, so zero tokens are recorded"
            );
        }
        let usage = if success {
            usage.unwrap_or_default()
        } else {
            TokenUsage::default()
        };

        let cost_usd = self.cost_usd(&usage);
        let latency_ms = u64::try_from(context.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(
            request_id = %context.request_id,
            agent_id = %context.agent_id,
            provider = %context.provider,
            model = %context.model,
            status = status_code,
            input_tokens = usage.input,
            output_tokens = usage.output,
            cached_tokens = usage.cached,
            cost_usd = ?cost_usd,
            latency_ms,
            streamed,
            "llm request metered"
        );

        UsageRecord {
            agent_id: context.agent_id.clone(),
            account_id: context.account_id.clone(),
            provider: context.provider.clone(),
            model: context.model.clone(),
            request_id: context.request_id.clone(),
            input_tokens: usage.input,
            output_tokens: usage.output,
            cached_tokens: usage.cached,
            cost_usd,
            started_at: context.started_at,
            latency_ms,
            status_code,
            streamed,
        }
    }

    fn cost_usd(&self, usage: &TokenUsage) -> Option<f64> {
        let context = &self.context;
        let price_table = &self.shared.config.price_table;
        if let Some(price) = price_table.lookup(&context.provider, &context.model) {
            return Some(price.cost_usd(usage));
        }

        let key = format!("{}/{}", context.provider, context.model);
        let first_time = self
            .shared
            .unpriced_models
            .lock()
            .expect("unpriced models lock poisoned")
            .insert(key);
        if first_time {
            tracing::warn!(
                provider = %context.provider,
                model = %context.model,
                "model missing from the price table, so its cost is not recorded; add it to the price table configuration"
            );
        }
        None
    }
}

async fn deliver(shared: &Shared, record: UsageRecord) {
    let request_id = record.request_id.clone();
    let agent_id = record.agent_id.clone();
    if let Err(error) = shared.usage_sink.record(record).await {
        tracing::error!(%request_id, %agent_id, %error, "failed to store a usage record");
    }
}
