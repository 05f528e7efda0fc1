//! Usage accounting: records each LLM request the gateway metered and
//! summarizes tokens, cost and compute time per day, agent or model.

mod compute;

use gopilot_core::id::is_valid_id;
use gopilot_core::ValidationError;
use gopilot_llm_gateway::UsageRecord;
use gopilot_store::{NewUsageRecord, Store, UsageBucket, UsageFilter, UsageGrouping};
use time::{Duration, OffsetDateTime};

use crate::error::ServiceError;

pub use compute::{status_seconds, ComputeUsage, StatusSeconds};

/// Length of the range a summary covers when the caller gives no start.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

/// Maximum length of the range a summary covers.
pub const MAX_RANGE_DAYS: i64 = 366;

/// The grouping of a usage summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// The UTC day of the request, `YYYY-MM-DD`.
    #[default]
    Day,
    Agent,
    /// `provider/model`.
    Model,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Day => "day",
            GroupBy::Agent => "agent",
            GroupBy::Model => "model",
        }
    }

    pub fn parse(value: &str) -> Result<GroupBy, ValidationError> {
        match value {
            "day" => Ok(GroupBy::Day),
            "agent" => Ok(GroupBy::Agent),
            "model" => Ok(GroupBy::Model),
            other => Err(ValidationError::new(
                "group_by",
                format!("must be day, agent or model, got {other:?}"),
            )),
        }
    }

    fn grouping(self) -> UsageGrouping {
        match self {
            GroupBy::Day => UsageGrouping::Day,
            GroupBy::Agent => UsageGrouping::Agent,
            GroupBy::Model => UsageGrouping::Model,
        }
    }
}

/// The time range `[start, end)` of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRange {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl UsageRange {
    /// Fills in the defaults (`end` is `now`, `start` is
    /// [`DEFAULT_RANGE_DAYS`] before `end`) and checks that `end` follows
    /// `start` by at most [`MAX_RANGE_DAYS`].
    pub fn resolve(
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<UsageRange, ValidationError> {
        let end = end.unwrap_or(now);
        let start = start.unwrap_or(end - Duration::days(DEFAULT_RANGE_DAYS));
        if end <= start {
            return Err(ValidationError::new("end", "must be later than start"));
        }
        if end - start > Duration::days(MAX_RANGE_DAYS) {
            return Err(ValidationError::new(
                "start",
                format!(
                    "must be at most {MAX_RANGE_DAYS} days before end, got {} days; request a shorter range",
                    (end - start).whole_days()
                ),
            ));
        }
        Ok(UsageRange { start, end })
    }
}

/// Request counts, tokens and cost of a group of requests.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageAmounts {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    /// Sum of the known costs in USD; `None` when no request had a price.
    pub cost_usd: Option<f64>,
    /// False when a request with tokens had a model missing from the price
    /// table, so `cost_usd` leaves it out.
    pub cost_complete: bool,
}

impl UsageAmounts {
    fn zero() -> UsageAmounts {
        UsageAmounts {
            requests: 0,
            input_tokens: 0,
            output_tokens: 0,
            cached_tokens: 0,
            cost_usd: Some(0.0),
            cost_complete: true,
        }
    }

    fn from_bucket(bucket: &UsageBucket) -> UsageAmounts {
        // Without a known cost, a group is free only if nothing in it lacked a price.
        let cost_usd = match (bucket.known_cost_usd, bucket.unpriced_requests) {
            (Some(cost), _) => Some(cost),
            (None, 0) => Some(0.0),
            (None, _) => None,
        };
        UsageAmounts {
            requests: bucket.requests,
            input_tokens: bucket.input_tokens,
            output_tokens: bucket.output_tokens,
            cached_tokens: bucket.cached_tokens,
            cost_usd,
            cost_complete: bucket.unpriced_requests == 0,
        }
    }

    fn plus(&self, other: &UsageAmounts) -> UsageAmounts {
        let cost_usd = match (self.cost_usd, other.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        UsageAmounts {
            requests: self.requests + other.requests,
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cached_tokens: self.cached_tokens + other.cached_tokens,
            cost_usd,
            cost_complete: self.cost_complete && other.cost_complete,
        }
    }
}

/// One group of a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageLine {
    /// The day, agent id or `provider/model`, after [`GroupBy`].
    pub key: String,
    pub amounts: UsageAmounts,
}

/// Tokens, cost and compute time of an account or one agent over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSummary {
    pub range: UsageRange,
    pub group_by: GroupBy,
    /// Groups with at least one request, ordered by key.
    pub data: Vec<UsageLine>,
    pub totals: UsageAmounts,
    /// Agents that existed during the range, ordered by id.
    pub compute: Vec<ComputeUsage>,
}

/// Records usage and summarizes it for usage queries. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UsageService {
    store: Store,
}

impl UsageService {
    pub fn new(store: Store) -> UsageService {
        UsageService { store }
    }

    /// Stores one metered request. Usage rows stay when their agent is
    /// deleted, so an account's cost history is complete.
    pub async fn record(&self, record: UsageRecord) -> Result<(), ServiceError> {
        let row = NewUsageRecord {
            account_id: record.account_id,
            agent_id: record.agent_id,
            provider: record.provider,
            model: record.model,
            request_id: record.request_id,
            input_tokens: record.input_tokens,
            output_tokens: record.output_tokens,
            cached_tokens: record.cached_tokens,
            cost_usd: record.cost_usd,
            started_at: record.started_at,
            latency_ms: record.latency_ms,
            status_code: record.status_code,
            streamed: record.streamed,
        };
        self.store.insert_usage(&row).await?;
        tracing::debug!(request_id = %row.request_id, agent_id = %row.agent_id, "usage recorded");
        Ok(())
    }

    /// Summarizes the usage of `account_id`, or of its agent `agent_id`,
    /// over `range`. An agent of another account is not found.
    pub async fn summary(
        &self,
        account_id: &str,
        agent_id: Option<&str>,
        range: UsageRange,
        group_by: GroupBy,
    ) -> Result<UsageSummary, ServiceError> {
        if let Some(id) = agent_id {
            if !is_valid_id(id) || self.store.get_agent(account_id, id).await?.is_none() {
                return Err(ServiceError::agent_not_found(id));
            }
        }

        let filter = UsageFilter { account_id, agent_id, start: range.start, end: range.end };
        let buckets = self.store.aggregate_usage(&filter, group_by.grouping()).await?;
        let data: Vec<UsageLine> = buckets
            .iter()
            .map(|bucket| UsageLine { key: bucket.key.clone(), amounts: UsageAmounts::from_bucket(bucket) })
            .collect();
        let totals = data
            .iter()
            .map(|line| &line.amounts)
            .fold(None, |sum: Option<UsageAmounts>, amounts| {
                Some(sum.map_or_else(|| amounts.clone(), |sum| sum.plus(amounts)))
            })
            .unwrap_or_else(UsageAmounts::zero);

        let compute = self.compute(account_id, agent_id, range).await?;
        Ok(UsageSummary { range, group_by, data, totals, compute })
    }

    async fn compute(
        &self,
        account_id: &str,
        agent_id: Option<&str>,
        range: UsageRange,
    ) -> Result<Vec<ComputeUsage>, ServiceError> {
        let now = crate::clock::now();
        let histories = self.store.list_status_history(account_id, agent_id, range.end).await?;
        let compute = histories
            .into_iter()
            .filter_map(|history| {
                let seconds = status_seconds(&history.changes, range.start, range.end, now);
                (seconds.total() > 0.0).then(|| ComputeUsage::new(history.agent_id, history.size, seconds))
            })
            .collect();
        Ok(compute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-31 12:00 UTC);

    #[test]
    fn range_defaults_to_last_30_days() {
        let range = UsageRange::resolve(None, None, NOW).unwrap();
        assert_eq!(range.end, NOW);
        assert_eq!(range.start, datetime!(2026-03-01 12:00 UTC));
    }

    #[test]
    fn range_start_defaults_before_given_end() {
        let end = datetime!(2026-02-01 00:00 UTC);
        let range = UsageRange::resolve(None, Some(end), NOW).unwrap();
        assert_eq!(range.start, datetime!(2026-01-02 00:00 UTC));
    }

    #[test]
    fn range_end_before_start_rejected() {
        let error = UsageRange::resolve(Some(NOW), Some(NOW), NOW).unwrap_err();
        assert_eq!(error.field, "end");
    }

    #[test]
    fn range_over_366_days_rejected() {
        let start = NOW - Duration::days(367);
        let error = UsageRange::resolve(Some(start), None, NOW).unwrap_err();
        assert_eq!(error.field, "start");
        assert!(error.message.contains("367 days"), "{}", error.message);
        assert!(UsageRange::resolve(Some(NOW - Duration::days(366)), None, NOW).is_ok());
    }

    #[test]
    fn group_by_parses_known_values() {
        for group_by in [GroupBy::Day, GroupBy::Agent, GroupBy::Model] {
            assert_eq!(GroupBy::parse(group_by.as_str()).unwrap(), group_by);
        }
        assert_eq!(GroupBy::parse("week").unwrap_err().field, "group_by");
    }

    fn bucket(known_cost_usd: Option<f64>, unpriced_requests: u64) -> UsageBucket {
        UsageBucket {
            key: "k".into(),
            requests: 2,
            input_tokens: 10,
            output_tokens: 5,
            cached_tokens: 1,
            known_cost_usd,
            unpriced_requests,
        }
    }

    #[test]
    fn amounts_cost_from_bucket() {
        let priced = UsageAmounts::from_bucket(&bucket(Some(0.5), 0));
        assert_eq!((priced.cost_usd, priced.cost_complete), (Some(0.5), true));
        let partly = UsageAmounts::from_bucket(&bucket(Some(0.5), 1));
        assert_eq!((partly.cost_usd, partly.cost_complete), (Some(0.5), false));
        let unpriced = UsageAmounts::from_bucket(&bucket(None, 2));
        assert_eq!((unpriced.cost_usd, unpriced.cost_complete), (None, false));
        let failed_only = UsageAmounts::from_bucket(&bucket(None, 0));
        assert_eq!((failed_only.cost_usd, failed_only.cost_complete), (Some(0.0), true));
    }

    #[test]
    fn amounts_sum_keeps_known_cost() {
        let priced = UsageAmounts::from_bucket(&bucket(Some(0.5), 0));
        let unpriced = UsageAmounts::from_bucket(&bucket(None, 2));
        let sum = priced.plus(&unpriced);
        assert_eq!(sum.requests, 4);
        assert_eq!(sum.input_tokens, 20);
        assert_eq!(sum.cost_usd, Some(0.5));
        assert!(!sum.cost_complete);
        assert_eq!(unpriced.plus(&unpriced).cost_usd, None);
    }
}
