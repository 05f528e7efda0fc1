//! Response bodies.

use gopilot_core::agent::LlmKeyHint;
use gopilot_core::channel::ChannelSummary;
use gopilot_core::{Agent, AgentStatus, DesiredState, ExtraAgent, Resources, RuntimeKind, Size};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// An agent as the API returns it. Secrets appear only as hints.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentResponse {
    pub id: String,
    /// Always `agent`.
    pub object: &'static str,
    pub name: String,
    pub description: Option<String>,
    /// `provider/model` for OpenClaw, the bare model name for Hermes.
    pub model: String,
    pub model_provider: String,
    pub runtime_kind: RuntimeKind,
    pub size: Size,
    pub resources: Resources,
    pub status: AgentStatus,
    /// Why the agent is in `error`, or other detail on the status.
    pub status_reason: Option<String>,
    pub desired_state: DesiredState,
    pub llm_keys: Vec<LlmKeyHint>,
    pub channels: Vec<ChannelSummary>,
    /// Extra OpenClaw agents in the same sandbox.
    pub agents: Vec<ExtraAgent>,
    /// Hostname under which the agent's runtime is routed.
    pub hostname: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// When `status` last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub status_changed_at: OffsetDateTime,
    /// Current CPU and memory use of the sandbox; present while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<LiveUsage>,
}

/// Readings of a sandbox's cgroup.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveUsage {
    /// CPU time used since the sandbox started, in seconds.
    pub cpu_seconds: f64,
    /// Memory in use, in bytes.
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
}

impl AgentResponse {
    pub fn new(agent: Agent, agents_domain: &str) -> AgentResponse {
        AgentResponse {
            hostname: format!("{}-{}.{agents_domain}", agent.runtime_kind.as_str(), agent.id),
            model: agent.model.display(agent.runtime_kind),
            model_provider: agent.model.provider,
            resources: agent.size.resources(),
            id: agent.id,
            object: "agent",
            name: agent.name,
            description: agent.description,
            runtime_kind: agent.runtime_kind,
            size: agent.size,
            status: agent.status,
            status_reason: agent.status_reason,
            desired_state: agent.desired_state,
            llm_keys: agent.llm_keys,
            channels: agent.channels,
            agents: agent.extra_agents,
            created_at: agent.created_at,
            updated_at: agent.updated_at,
            status_changed_at: agent.status_changed_at,
            usage: None,
        }
    }

    pub fn with_usage(mut self, usage: Option<gopilot_sandbox::ResourceUsage>) -> AgentResponse {
        self.usage = usage.map(|u| LiveUsage {
            cpu_seconds: u.cpu_usage_ns as f64 / 1e9,
            memory_bytes: u.memory_bytes,
            memory_limit_bytes: u.memory_limit_bytes,
        });
        self
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentList {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<AgentResponse>,
    /// True when more items follow; pass the last item's id as
    /// `starting_after` to get them.
    pub has_more: bool,
    /// The `starting_after` value for the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// Body of a successful delete.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    /// Always `agent`.
    pub object: &'static str,
    pub deleted: bool,
}

/// Body of the health endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
