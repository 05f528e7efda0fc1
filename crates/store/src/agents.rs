use gopilot_core::agent::LlmKeyHint;
use gopilot_core::channel::ChannelSummary;
use gopilot_core::model::ModelRef;
use gopilot_core::{Agent, AgentStatus, DesiredState, ExtraAgent, RuntimeKind, Size};
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

use crate::connect::Store;
use crate::error::StoreError;
use crate::time_ms::{from_ms, to_ms};

/// An agent as stored: the record plus its sealed secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub agent: Agent,
    /// `AgentSecrets` as JSON, sealed by the secret cipher.
    pub sealed_secrets: Vec<u8>,
    /// SHA-256 of the agent's LLM gateway token, for lookups by token.
    pub gateway_token_hash: String,
}

/// One page of agents, newest first.
#[derive(Debug, Clone)]
pub struct AgentPage {
    pub agents: Vec<AgentRow>,
    pub has_more: bool,
}

const AGENT_COLUMNS: &str = "id, account_id, name, description, model_provider, model_name, \
     runtime_kind, size, llm_key_hints, channel_summaries, extra_agents, secrets, \
     gateway_token_hash, desired_state, status, status_reason, created_at, updated_at, \
     status_changed_at";

fn parse_column<T>(column: &'static str, value: String, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(&value).ok_or(StoreError::Corrupt { column, value })
}

fn json_column<T: DeserializeOwned>(row: &AnyRow, column: &'static str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|_| StoreError::Corrupt { column, value: text })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("agent JSON columns serialize infallibly")
}

fn agent_from_row(row: &AnyRow) -> Result<AgentRow, StoreError> {
    let agent = Agent {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        model: ModelRef { provider: row.try_get("model_provider")?, name: row.try_get("model_name")? },
        runtime_kind: parse_column("agents.runtime_kind", row.try_get("runtime_kind")?, RuntimeKind::parse)?,
        size: parse_column("agents.size", row.try_get("size")?, Size::parse)?,
        llm_keys: json_column::<Vec<LlmKeyHint>>(row, "llm_key_hints")?,
        channels: json_column::<Vec<ChannelSummary>>(row, "channel_summaries")?,
        extra_agents: json_column::<Vec<ExtraAgent>>(row, "extra_agents")?,
        desired_state: parse_column("agents.desired_state", row.try_get("desired_state")?, DesiredState::parse)?,
        status: parse_column("agents.status", row.try_get("status")?, AgentStatus::parse)?,
        status_reason: row.try_get("status_reason")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        status_changed_at: from_ms(row.try_get("status_changed_at")?),
    };
    Ok(AgentRow {
        agent,
        sealed_secrets: row.try_get("secrets")?,
        gateway_token_hash: row.try_get("gateway_token_hash")?,
    })
}

impl Store {
    pub async fn insert_agent(&self, row: &AgentRow) -> Result<(), StoreError> {
        let a = &row.agent;
        let sql = format!(
            "INSERT INTO agents ({AGENT_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        );
        sqlx::query(&sql)
            .bind(&a.id)
            .bind(&a.account_id)
            .bind(&a.name)
            .bind(&a.description)
            .bind(&a.model.provider)
            .bind(&a.model.name)
            .bind(a.runtime_kind.as_str())
            .bind(a.size.as_str())
            .bind(to_json(&a.llm_keys))
            .bind(to_json(&a.channels))
            .bind(to_json(&a.extra_agents))
            .bind(&row.sealed_secrets)
            .bind(&row.gateway_token_hash)
            .bind(a.desired_state.as_str())
            .bind(a.status.as_str())
            .bind(&a.status_reason)
            .bind(to_ms(a.created_at))
            .bind(to_ms(a.updated_at))
            .bind(to_ms(a.status_changed_at))
            .execute(&self.pool)
            .await
            .map_err(|err| StoreError::from_insert(err, "agent id"))?;
        Ok(())
    }

    /// Returns the agent with `id` if it belongs to `account_id`.
    pub async fn get_agent(&self, account_id: &str, id: &str) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1 AND account_id = $2");
        let row = sqlx::query(&sql).bind(id).bind(account_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// Returns the agent with `id` whatever its account; for the control
    /// plane's own use (reconciler, gateway), never for API callers.
    pub async fn get_agent_any_account(&self, id: &str) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    pub async fn find_agent_by_gateway_token_hash(&self, hash: &str) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE gateway_token_hash = $1");
        let row = sqlx::query(&sql).bind(hash).fetch_optional(&self.pool).await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// Lists an account's agents, newest first, `limit` at a time, after the
    /// agent `starting_after` when given. An unknown cursor yields an empty page.
    pub async fn list_agents(
        &self,
        account_id: &str,
        limit: u32,
        starting_after: Option<&str>,
    ) -> Result<AgentPage, StoreError> {
        let fetch = i64::from(limit) + 1;
        let rows = match starting_after {
            None => {
                let sql = format!(
                    "SELECT {AGENT_COLUMNS} FROM agents WHERE account_id = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                );
                sqlx::query(&sql).bind(account_id).bind(fetch).fetch_all(&self.pool).await?
            }
            Some(cursor) => {
                let Some(cursor) = self.get_agent(account_id, cursor).await? else {
                    return Ok(AgentPage { agents: Vec::new(), has_more: false });
                };
                let created = to_ms(cursor.agent.created_at);
                let sql = format!(
                    "SELECT {AGENT_COLUMNS} FROM agents WHERE account_id = $1 \
                     AND (created_at < $2 OR (created_at = $3 AND id < $4)) \
                     ORDER BY created_at DESC, id DESC LIMIT $5"
                );
                sqlx::query(&sql)
                    .bind(account_id)
                    .bind(created)
                    .bind(created)
                    .bind(&cursor.agent.id)
                    .bind(fetch)
                    .fetch_all(&self.pool)
                    .await?
            }
        };

        let mut agents = rows.iter().map(agent_from_row).collect::<Result<Vec<_>, _>>()?;
        let has_more = agents.len() > limit as usize;
        agents.truncate(limit as usize);
        Ok(AgentPage { agents, has_more })
    }

    /// Lists every agent of every account, for the reconciler.
    pub async fn list_all_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY created_at, id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(agent_from_row).collect()
    }

    /// Replaces the stored configuration and secrets of an agent. Lifecycle
    /// columns are written by [`Store::set_agent_status`] and
    /// [`Store::set_desired_state`] only, so a concurrent status change is
    /// never overwritten by a configuration update.
    pub async fn update_agent_config(&self, row: &AgentRow) -> Result<bool, StoreError> {
        let a = &row.agent;
        let result = sqlx::query(
            "UPDATE agents SET name = $1, description = $2, model_provider = $3, model_name = $4, \
             size = $5, llm_key_hints = $6, channel_summaries = $7, extra_agents = $8, secrets = $9, \
             updated_at = $10 WHERE id = $11 AND account_id = $12",
        )
        .bind(&a.name)
        .bind(&a.description)
        .bind(&a.model.provider)
        .bind(&a.model.name)
        .bind(a.size.as_str())
        .bind(to_json(&a.llm_keys))
        .bind(to_json(&a.channels))
        .bind(to_json(&a.extra_agents))
        .bind(&row.sealed_secrets)
        .bind(to_ms(a.updated_at))
        .bind(&a.id)
        .bind(&a.account_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    pub async fn set_desired_state(&self, id: &str, desired: DesiredState, at: OffsetDateTime) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE agents SET desired_state = $1, updated_at = $2 WHERE id = $3")
            .bind(desired.as_str())
            .bind(to_ms(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Sets the observed status and reason; `status_changed_at` moves only
    /// when the status itself changes.
    pub async fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
        reason: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE agents SET \
             status_changed_at = CASE WHEN status = $1 THEN status_changed_at ELSE $2 END, \
             status = $3, status_reason = $4 WHERE id = $5",
        )
        .bind(status.as_str())
        .bind(to_ms(at))
        .bind(status.as_str())
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Deletes an agent and its events. Returns false when the account has
    /// no such agent.
    pub async fn delete_agent(&self, account_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("DELETE FROM agents WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM agent_events WHERE agent_id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }
}
