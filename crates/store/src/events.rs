use gopilot_core::AgentStatus;
use sqlx::Row;
use time::OffsetDateTime;

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_ms::{from_ms, to_ms};

/// A recorded event in an agent's life: a status transition, an action
/// request or an error.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEvent {
    pub id: i64,
    pub agent_id: String,
    pub at: OffsetDateTime,
    /// Short machine-readable kind such as `created`, `transition`, `action`.
    pub kind: String,
    pub from_status: Option<AgentStatus>,
    pub to_status: Option<AgentStatus>,
    pub message: String,
}

impl Store {
    pub async fn insert_event(
        &self,
        agent_id: &str,
        kind: &str,
        from: Option<AgentStatus>,
        to: Option<AgentStatus>,
        message: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agent_events (agent_id, at, kind, from_status, to_status, message) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(agent_id)
        .bind(to_ms(at))
        .bind(kind)
        .bind(from.map(AgentStatus::as_str))
        .bind(to.map(AgentStatus::as_str))
        .bind(message)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lists an agent's events oldest first, `limit` at a time, after the
    /// event id `after` when given.
    pub async fn list_events(&self, agent_id: &str, after: Option<i64>, limit: u32) -> Result<Vec<AgentEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, agent_id, at, kind, from_status, to_status, message FROM agent_events \
             WHERE agent_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(agent_id)
        .bind(after.unwrap_or(0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;

        rows.iter()
            .map(|row| {
                let status = |column: &'static str| -> Result<Option<AgentStatus>, StoreError> {
                    let value: Option<String> = row.try_get(column)?;
                    value
                        .map(|v| AgentStatus::parse(&v).ok_or(StoreError::Corrupt { column, value: v }))
                        .transpose()
                };
                Ok(AgentEvent {
                    id: row.try_get("id")?,
                    agent_id: row.try_get("agent_id")?,
                    at: from_ms(row.try_get("at")?),
                    kind: row.try_get("kind")?,
                    from_status: status("from_status")?,
                    to_status: status("to_status")?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }
}
