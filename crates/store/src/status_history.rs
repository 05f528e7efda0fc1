//! The status history of agents, read from their `created` and `transition`
//! events, for compute-time accounting.

use gopilot_core::{AgentStatus, Size};
use sqlx::Row;
use time::OffsetDateTime;

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_ms::{from_ms, to_ms};

/// One agent's status changes, oldest first, with its current size.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusHistory {
    pub agent_id: String,
    /// The agent's size now. An earlier size changed by an update is not
    /// kept, so all of the history is reported at this size.
    pub size: Size,
    /// When the agent entered each status.
    pub changes: Vec<(OffsetDateTime, AgentStatus)>,
}

impl Store {
    /// Returns the status history before `before` of an account's agents, or
    /// of one of them, ordered by agent id. Deleted agents have no events
    /// left, so they are absent.
    // TODO: this reads each agent's whole history; a long-lived fleet needs
    // a periodic snapshot of the status at a point in time.
    pub async fn list_status_history(
        &self,
        account_id: &str,
        agent_id: Option<&str>,
        before: OffsetDateTime,
    ) -> Result<Vec<StatusHistory>, StoreError> {
        const SELECT: &str = "SELECT e.agent_id, a.size, e.at, e.to_status \
             FROM agent_events e JOIN agents a ON a.id = e.agent_id \
             WHERE e.kind IN ('created', 'transition') AND e.to_status IS NOT NULL";
        let rows = match agent_id {
            None => {
                let sql = format!("{SELECT} AND a.account_id = $1 AND e.at < $2 ORDER BY e.agent_id, e.at, e.id");
                sqlx::query(&sql).bind(account_id).bind(to_ms(before)).fetch_all(&self.pool).await?
            }
            Some(agent_id) => {
                let sql = format!(
                    "{SELECT} AND a.account_id = $1 AND e.agent_id = $2 AND e.at < $3 ORDER BY e.agent_id, e.at, e.id"
                );
                sqlx::query(&sql)
                    .bind(account_id)
                    .bind(agent_id)
                    .bind(to_ms(before))
                    .fetch_all(&self.pool)
                    .await?
            }
        };

        let mut histories: Vec<StatusHistory> = Vec::new();
        for row in &rows {
            let agent_id: String = row.try_get("agent_id")?;
            let size: String = row.try_get("size")?;
            let status: String = row.try_get("to_status")?;
            let at = from_ms(row.try_get("at")?);
            let status = AgentStatus::parse(&status)
                .ok_or(StoreError::Corrupt { column: "agent_events.to_status", value: status })?;

            let same_agent = histories.last().is_some_and(|history| history.agent_id == agent_id);
            if !same_agent {
                let size = Size::parse(&size).ok_or(StoreError::Corrupt { column: "agents.size", value: size })?;
                histories.push(StatusHistory { agent_id, size, changes: Vec::new() });
            }
            histories.last_mut().expect("a history was pushed above").changes.push((at, status));
        }
        Ok(histories)
    }
}
