//! The agent service: create, read, update and delete agent records with
//! their sealed secrets.

use gopilot_core::agent::LlmKeyHint;
use gopilot_core::id::{is_valid_id, new_id, random_base62};
use gopilot_core::secret::{hash_token, secret_hint, SecretCipher};
use gopilot_core::validate::{AgentSpec, CreateAgent, UpdateAgent};
use gopilot_core::{Agent, AgentSecrets, AgentStatus, DesiredState};
use gopilot_store::{AgentRow, Store};

use crate::error::ServiceError;

/// Length of the per-agent tokens (gateway, guest, runtime): 48 base62
/// characters, about 285 bits.
const AGENT_TOKEN_LEN: usize = 48;

/// Largest page of a list request.
pub const MAX_PAGE_SIZE: u32 = 100;

/// An agent as callers see it: the record without secrets.
pub type AgentView = Agent;

#[derive(Debug, Clone)]
pub struct AgentService {
    store: Store,
    cipher: SecretCipher,
}

impl AgentService {
    pub fn new(store: Store, cipher: SecretCipher) -> AgentService {
        AgentService { store, cipher }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Validates and stores a new agent in `provisioning`, desired `running`.
    pub async fn create(&self, account_id: &str, request: CreateAgent) -> Result<AgentView, ServiceError> {
        let spec = request.validate()?;
        let now = crate::clock::now();
        let id = new_id("ag");

        let secrets = AgentSecrets {
            llm_keys: spec.llm_keys.clone(),
            channels: spec.channels.clone(),
            gateway_token: random_base62(AGENT_TOKEN_LEN),
            guest_token: random_base62(AGENT_TOKEN_LEN),
            runtime_token: random_base62(AGENT_TOKEN_LEN),
        };
        let agent = Agent {
            id: id.clone(),
            account_id: account_id.to_string(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            model: spec.model.clone(),
            runtime_kind: spec.runtime_kind,
            size: spec.size,
            llm_keys: key_hints(&spec),
            channels: spec.channels.summaries(),
            extra_agents: spec.extra_agents.clone(),
            desired_state: DesiredState::Running,
            status: AgentStatus::Provisioning,
            status_reason: None,
            created_at: now,
            updated_at: now,
            status_changed_at: now,
        };
        let row = AgentRow {
            gateway_token_hash: hash_token(&secrets.gateway_token),
            sealed_secrets: self.seal(&id, &secrets)?,
            agent,
        };

        self.store.insert_agent(&row).await?;
        self.store
            .insert_event(&id, "created", None, Some(AgentStatus::Provisioning), "agent created", now)
            .await?;
        tracing::info!(
            agent_id = %id,
            account_id = %account_id,
            runtime = row.agent.runtime_kind.as_str(),
            size = row.agent.size.as_str(),
            "agent created"
        );
        Ok(row.agent)
    }

    pub async fn get(&self, account_id: &str, id: &str) -> Result<AgentView, ServiceError> {
        Ok(self.get_row(account_id, id).await?.agent)
    }

    /// Returns the row and its opened secrets.
    pub async fn get_with_secrets(&self, account_id: &str, id: &str) -> Result<(AgentRow, AgentSecrets), ServiceError> {
        let row = self.get_row(account_id, id).await?;
        let secrets = self.open(&row)?;
        Ok((row, secrets))
    }

    async fn get_row(&self, account_id: &str, id: &str) -> Result<AgentRow, ServiceError> {
        // An id that cannot exist is a 404 like any unknown id, without a query.
        if !is_valid_id(id) {
            return Err(ServiceError::agent_not_found(id));
        }
        self.store
            .get_agent(account_id, id)
            .await?
            .ok_or_else(|| ServiceError::agent_not_found(id))
    }

    /// Lists an account's agents newest first. `limit` must be 1 to 100.
    pub async fn list(
        &self,
        account_id: &str,
        limit: u32,
        starting_after: Option<&str>,
    ) -> Result<(Vec<AgentView>, bool), ServiceError> {
        if limit == 0 || limit > MAX_PAGE_SIZE {
            return Err(gopilot_core::ValidationError::new(
                "limit",
                format!("must be between 1 and {MAX_PAGE_SIZE}, got {limit}"),
            )
            .into());
        }
        if let Some(cursor) = starting_after {
            if !is_valid_id(cursor) || self.store.get_agent(account_id, cursor).await?.is_none() {
                return Err(gopilot_core::ValidationError::new(
                    "starting_after",
                    format!("{cursor:?} is not an agent of this account"),
                )
                .into());
            }
        }
        let page = self.store.list_agents(account_id, limit, starting_after).await?;
        Ok((page.agents.into_iter().map(|row| row.agent).collect(), page.has_more))
    }

    /// Applies a partial update. The result is validated whole before
    /// anything is written, so a rejected update changes nothing.
    pub async fn update(&self, account_id: &str, id: &str, update: UpdateAgent) -> Result<AgentView, ServiceError> {
        let (row, secrets) = self.get_with_secrets(account_id, id).await?;
        let current = spec_of(&row.agent, &secrets);
        let next = update.apply(&current)?;
        if next == current {
            return Ok(row.agent);
        }

        let next_secrets = AgentSecrets { llm_keys: next.llm_keys.clone(), channels: next.channels.clone(), ..secrets };
        let mut agent = row.agent.clone();
        agent.name = next.name.clone();
        agent.description = next.description.clone();
        agent.model = next.model.clone();
        agent.size = next.size;
        agent.llm_keys = key_hints(&next);
        agent.channels = next.channels.summaries();
        agent.extra_agents = next.extra_agents.clone();
        agent.updated_at = crate::clock::now();

        let updated = AgentRow {
            sealed_secrets: self.seal(id, &next_secrets)?,
            gateway_token_hash: row.gateway_token_hash.clone(),
            agent,
        };
        if !self.store.update_agent_config(&updated).await? {
            return Err(ServiceError::agent_not_found(id));
        }
        self.store
            .insert_event(id, "updated", None, None, &describe_changes(&current, &next), updated.agent.updated_at)
            .await?;
        tracing::info!(agent_id = %id, account_id = %account_id, "agent updated");
        Ok(updated.agent)
    }

    pub async fn delete(&self, account_id: &str, id: &str) -> Result<(), ServiceError> {
        if !is_valid_id(id) || !self.store.delete_agent(account_id, id).await? {
            return Err(ServiceError::agent_not_found(id));
        }
        tracing::info!(agent_id = %id, account_id = %account_id, "agent deleted");
        Ok(())
    }

    fn seal(&self, id: &str, secrets: &AgentSecrets) -> Result<Vec<u8>, ServiceError> {
        let json = serde_json::to_vec(secrets)?;
        Ok(self.cipher.seal(id, &json))
    }

    pub fn open(&self, row: &AgentRow) -> Result<AgentSecrets, ServiceError> {
        let json = self.cipher.open(&row.agent.id, &row.sealed_secrets)?;
        Ok(serde_json::from_slice(&json)?)
    }
}

/// Rebuilds the validated spec of a stored agent.
pub fn spec_of(agent: &Agent, secrets: &AgentSecrets) -> AgentSpec {
    AgentSpec {
        name: agent.name.clone(),
        description: agent.description.clone(),
        model: agent.model.clone(),
        runtime_kind: agent.runtime_kind,
        size: agent.size,
        llm_keys: secrets.llm_keys.clone(),
        channels: secrets.channels.clone(),
        extra_agents: agent.extra_agents.clone(),
    }
}

fn key_hints(spec: &AgentSpec) -> Vec<LlmKeyHint> {
    spec.llm_keys
        .iter()
        .map(|key| LlmKeyHint { provider: key.provider.clone(), hint: secret_hint(&key.api_key) })
        .collect()
}

/// Names the fields an update changed, for the event log; never values of
/// secrets.
fn describe_changes(before: &AgentSpec, after: &AgentSpec) -> String {
    let mut fields = Vec::new();
    if before.name != after.name {
        fields.push("name");
    }
    if before.description != after.description {
        fields.push("description");
    }
    if before.model != after.model {
        fields.push("model");
    }
    if before.size != after.size {
        fields.push("size");
    }
    if before.llm_keys != after.llm_keys {
        fields.push("llm_keys");
    }
    if before.channels != after.channels {
        fields.push("channels");
    }
    if before.extra_agents != after.extra_agents {
        fields.push("agents");
    }
    format!("updated {}", fields.join(", "))
}
