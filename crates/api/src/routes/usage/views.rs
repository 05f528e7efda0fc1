//! Response bodies of the usage routes.

use gopilot_control::usage::{ComputeUsage, StatusSeconds, UsageAmounts, UsageLine};
use gopilot_control::UsageSummary;
use gopilot_core::Size;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Tokens, cost and compute time over a time range.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageResponse {
    /// Always `usage`.
    pub object: &'static str,
    /// Start of the range, inclusive.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub start: OffsetDateTime,
    /// End of the range, exclusive.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub end: OffsetDateTime,
    /// `day`, `agent` or `model`.
    pub group_by: &'static str,
    /// One entry per group with at least one LLM request, ordered by key.
    pub data: Vec<UsageBucketView>,
    /// The sums of `data`.
    pub totals: UsageTotals,
    /// Time per status of each agent that existed during the range.
    pub compute: Vec<ComputeView>,
}

/// LLM requests of one group.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBucketView {
    /// The UTC day (`YYYY-MM-DD`), the agent id, or `provider/model`.
    pub key: String,
    #[serde(flatten)]
    pub amounts: UsageTotals,
}

/// Request count, tokens and cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageTotals {
    /// LLM requests forwarded by the gateway, failed ones included.
    pub requests: u64,
    /// Prompt tokens, the cached ones included.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The part of `input_tokens` read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Sum of the known costs in USD, at the gateway's price table when the
    /// request was made. `null` when no request of the group had a price.
    pub cost_usd: Option<f64>,
    /// `false` when a request with tokens used a model missing from the
    /// price table: its cost is unknown and left out of `cost_usd`.
    pub cost_complete: bool,
}

/// Compute time of one agent within the range.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComputeView {
    pub agent_id: String,
    /// The agent's current size; every second is counted at it.
    pub size: Size,
    pub seconds: StatusSecondsView,
    /// Seconds in `running` times the size's vCPUs.
    pub vcpu_seconds: f64,
    /// Seconds in `running` times the size's memory limit in GiB.
    pub memory_gib_seconds: f64,
}

/// Seconds spent in each status, clipped to the range and to now.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusSecondsView {
    pub provisioning: f64,
    pub running: f64,
    pub paused: f64,
    pub stopped: f64,
    pub error: f64,
}

impl From<UsageSummary> for UsageResponse {
    fn from(summary: UsageSummary) -> UsageResponse {
        UsageResponse {
            object: "usage",
            start: summary.range.start,
            end: summary.range.end,
            group_by: summary.group_by.as_str(),
            data: summary.data.into_iter().map(UsageBucketView::from).collect(),
            totals: summary.totals.into(),
            compute: summary.compute.into_iter().map(ComputeView::from).collect(),
        }
    }
}

impl From<UsageLine> for UsageBucketView {
    fn from(line: UsageLine) -> UsageBucketView {
        UsageBucketView { key: line.key, amounts: line.amounts.into() }
    }
}

impl From<UsageAmounts> for UsageTotals {
    fn from(amounts: UsageAmounts) -> UsageTotals {
        UsageTotals {
            requests: amounts.requests,
            input_tokens: amounts.input_tokens,
            output_tokens: amounts.output_tokens,
            cached_tokens: amounts.cached_tokens,
            cost_usd: amounts.cost_usd,
            cost_complete: amounts.cost_complete,
        }
    }
}

impl From<ComputeUsage> for ComputeView {
    fn from(usage: ComputeUsage) -> ComputeView {
        ComputeView {
            agent_id: usage.agent_id,
            size: usage.size,
            seconds: usage.seconds.into(),
            vcpu_seconds: usage.vcpu_seconds,
            memory_gib_seconds: usage.memory_gib_seconds,
        }
    }
}

impl From<StatusSeconds> for StatusSecondsView {
    fn from(seconds: StatusSeconds) -> StatusSecondsView {
        StatusSecondsView {
            provisioning: seconds.provisioning,
            running: seconds.running,
            paused: seconds.paused,
            stopped: seconds.stopped,
            error: seconds.error,
        }
    }
}
