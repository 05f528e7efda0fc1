//! The agent record.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::channel::{ChannelSummary, Channels};
use crate::lifecycle::{AgentStatus, DesiredState};
use crate::model::ModelRef;
use crate::size::Size;

/// Which agent runtime runs inside the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// OpenClaw on Node.js.
    #[default]
    Openclaw,
    /// Hermes Agent on Python.
    Hermes,
}

impl RuntimeKind {
    pub const ALL: [RuntimeKind; 2] = [RuntimeKind::Openclaw, RuntimeKind::Hermes];

    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Openclaw => "openclaw",
            RuntimeKind::Hermes => "hermes",
        }
    }

    pub fn parse(value: &str) -> Option<RuntimeKind> {
        RuntimeKind::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// Returns true when the runtime hosts several agents in one sandbox.
    pub fn supports_extra_agents(self) -> bool {
        matches!(self, RuntimeKind::Openclaw)
    }
}

/// A provider API key given for an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmKey {
    /// Provider id such as `anthropic`, `openai` or `openrouter`.
    pub provider: String,
    /// The provider's API key. Write-only: responses show a hint.
    pub api_key: String,
}

/// What a response shows of an LLM key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LlmKeyHint {
    pub provider: String,
    /// The key's last four characters after an ellipsis.
    pub hint: String,
}

/// An additional OpenClaw agent that shares the sandbox, with its own
/// workspace directory `workspace-<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraAgent {
    /// Agent name: lowercase letters, digits and '-', not `main`.
    pub name: String,
    /// Model for this agent (`provider/model`); defaults to the main model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Everything about an agent that must never leave the host in clear text.
/// Stored sealed with [`crate::secret::SecretCipher`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AgentSecrets {
    pub llm_keys: Vec<LlmKey>,
    pub channels: Channels,
    /// Token the runtime presents to the LLM gateway.
    pub gateway_token: String,
    /// Token the control plane presents to the in-sandbox supervisor.
    pub guest_token: String,
    /// Token the control plane presents to the runtime's own API.
    pub runtime_token: String,
}

/// An agent as stored: configuration, lifecycle state and timestamps.
/// Secrets are held apart in [`AgentSecrets`].
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub description: Option<String>,
    pub model: ModelRef,
    pub runtime_kind: RuntimeKind,
    pub size: Size,
    pub llm_keys: Vec<LlmKeyHint>,
    pub channels: Vec<ChannelSummary>,
    pub extra_agents: Vec<ExtraAgent>,
    pub desired_state: DesiredState,
    pub status: AgentStatus,
    pub status_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub status_changed_at: OffsetDateTime,
}
