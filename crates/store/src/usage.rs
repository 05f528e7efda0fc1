//! Usage records of the LLM gateway and their aggregates.

use sqlx::any::AnyRow;
use sqlx::Row;
use time::macros::format_description;
use time::OffsetDateTime;

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_ms::to_ms;

/// One request that the LLM gateway forwarded to a provider, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUsageRecord {
    pub account_id: String,
    pub agent_id: String,
    pub provider: String,
    pub model: String,
    pub request_id: String,
    /// All prompt tokens, the cached ones included.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The part of `input_tokens` read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// `None` when the model was missing from the price table.
    pub cost_usd: Option<f64>,
    pub started_at: OffsetDateTime,
    pub latency_ms: u64,
    pub status_code: u16,
    pub streamed: bool,
}

/// The grouping of usage rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGrouping {
    /// The UTC day of the request, `YYYY-MM-DD`.
    Day,
    Agent,
    /// `provider/model`.
    Model,
}

/// The selection of usage rows an aggregate reads: one account, optionally
/// one of its agents, and requests started in `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct UsageFilter<'a> {
    pub account_id: &'a str,
    pub agent_id: Option<&'a str>,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

/// Sums over the usage rows of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageBucket {
    /// The day, agent id or `provider/model`, after [`UsageGrouping`].
    pub key: String,
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    /// Sum of the known costs; `None` when no row of the group has one.
    pub known_cost_usd: Option<f64>,
    /// Rows with tokens but no cost, because their model had no price.
    /// Rows without tokens (failed requests) cost nothing, priced or not.
    pub unpriced_requests: u64,
}

/// Postgres sums BIGINT into NUMERIC, which the `Any` driver cannot decode,
/// so every integer sum is cast back to BIGINT.
const AGGREGATE_COLUMNS: &str = "COUNT(*) AS requests, \
     CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, \
     CAST(SUM(output_tokens) AS BIGINT) AS output_tokens, \
     CAST(SUM(cached_tokens) AS BIGINT) AS cached_tokens, \
     SUM(cost_usd) AS known_cost_usd, \
     CAST(SUM(CASE WHEN cost_usd IS NULL AND (input_tokens > 0 OR output_tokens > 0) \
          THEN 1 ELSE 0 END) AS BIGINT) AS unpriced_requests";

impl UsageGrouping {
    /// Returns the columns of the GROUP BY clause, from a fixed list.
    fn columns(self) -> &'static str {
        match self {
            UsageGrouping::Day => "day",
            UsageGrouping::Agent => "agent_id",
            UsageGrouping::Model => "provider, model",
        }
    }

    fn key(self, row: &AnyRow) -> Result<String, StoreError> {
        Ok(match self {
            UsageGrouping::Day => row.try_get("day")?,
            UsageGrouping::Agent => row.try_get("agent_id")?,
            UsageGrouping::Model => {
                let provider: String = row.try_get("provider")?;
                let model: String = row.try_get("model")?;
                format!("{provider}/{model}")
            }
        })
    }
}

/// Returns the UTC day of `at` as `YYYY-MM-DD`.
pub fn utc_day(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .expect("a calendar date always formats")
}

/// Converts a count to the signed 64-bit integer the databases store,
/// saturating values no request can reach.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(row: &AnyRow, column: &'static str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| StoreError::Corrupt { column, value: value.to_string() })
}

impl Store {
    pub async fn insert_usage(&self, record: &NewUsageRecord) -> Result<(), StoreError> {
        // An unknown cost is written by leaving the column out, not by binding
        // a NULL. Through the `Any` driver a NULL binding prepares the
        // statement on that PostgreSQL connection with a parameter type that
        // a later DOUBLE PRECISION value does not match (error 22P03).
        let (cost_column, cost_placeholder) = match record.cost_usd {
            Some(_) => (", cost_usd", ", $14"),
            None => ("", ""),
        };
        let sql = format!(
            "INSERT INTO usage_records (account_id, agent_id, provider, model, request_id, \
             input_tokens, output_tokens, cached_tokens, started_at, day, latency_ms, \
             status_code, streamed{cost_column}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13{cost_placeholder})"
        );
        let mut query = sqlx::query(&sql)
            .bind(&record.account_id)
            .bind(&record.agent_id)
            .bind(&record.provider)
            .bind(&record.model)
            .bind(&record.request_id)
            .bind(to_i64(record.input_tokens))
            .bind(to_i64(record.output_tokens))
            .bind(to_i64(record.cached_tokens))
            .bind(to_ms(record.started_at))
            .bind(utc_day(record.started_at))
            .bind(to_i64(record.latency_ms))
            .bind(i32::from(record.status_code))
            .bind(record.streamed);
        if let Some(cost) = record.cost_usd {
            query = query.bind(cost);
        }
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Sums the usage rows that match `filter`, one bucket per group,
    /// ordered by key. Groups without rows are absent.
    pub async fn aggregate_usage(
        &self,
        filter: &UsageFilter<'_>,
        grouping: UsageGrouping,
    ) -> Result<Vec<UsageBucket>, StoreError> {
        let group = grouping.columns();
        let rows = match filter.agent_id {
            None => {
                let sql = format!(
                    "SELECT {group}, {AGGREGATE_COLUMNS} FROM usage_records \
                     WHERE account_id = $1 AND started_at >= $2 AND started_at < $3 \
                     GROUP BY {group} ORDER BY {group}"
                );
                sqlx::query(&sql)
                    .bind(filter.account_id)
                    .bind(to_ms(filter.start))
                    .bind(to_ms(filter.end))
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(agent_id) => {
                let sql = format!(
                    "SELECT {group}, {AGGREGATE_COLUMNS} FROM usage_records \
                     WHERE account_id = $1 AND agent_id = $2 AND started_at >= $3 AND started_at < $4 \
                     GROUP BY {group} ORDER BY {group}"
                );
                sqlx::query(&sql)
                    .bind(filter.account_id)
                    .bind(agent_id)
                    .bind(to_ms(filter.start))
                    .bind(to_ms(filter.end))
                    .fetch_all(&self.pool)
                    .await?
            }
        };

        rows.iter()
            .map(|row| {
                Ok(UsageBucket {
                    key: grouping.key(row)?,
                    requests: to_u64(row, "requests")?,
                    input_tokens: to_u64(row, "input_tokens")?,
                    output_tokens: to_u64(row, "output_tokens")?,
                    cached_tokens: to_u64(row, "cached_tokens")?,
                    known_cost_usd: row.try_get("known_cost_usd")?,
                    unpriced_requests: to_u64(row, "unpriced_requests")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn utc_day_uses_utc_date() {
        assert_eq!(utc_day(datetime!(2026-03-01 23:30 UTC)), "2026-03-01");
        // 01:30 at +02:00 is still the previous day in UTC.
        assert_eq!(utc_day(datetime!(2026-03-02 01:30 +02:00)), "2026-03-01");
    }
}
