//! Where a running agent answers, for the chat proxy and the logs API.

use crate::error::ServiceError;

/// One model id the runtime's chat endpoint accepts, and the agent it
/// addresses: `main` for the primary agent, or an extra agent's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatModel {
    pub agent: String,
    pub model: String,
}

/// The runtime's OpenAI-compatible chat endpoint inside a sandbox.
#[derive(Debug, Clone)]
pub struct RuntimeEndpoint {
    pub agent_id: String,
    /// Base URL such as `http://10.231.0.5:18789`.
    pub base_url: String,
    /// Path of chat completions, such as `/v1/chat/completions`.
    pub chat_path: String,
    /// Bearer token the runtime expects.
    pub bearer_token: String,
    /// Model ids per agent in this sandbox; the first is the primary agent.
    pub models: Vec<ChatModel>,
}

impl RuntimeEndpoint {
    /// Returns the runtime's model id for `agent` (`None` = primary agent).
    pub fn model_for(&self, agent: Option<&str>) -> Option<&str> {
        match agent {
            None => self.models.first().map(|m| m.model.as_str()),
            Some(name) => self.models.iter().find(|m| m.agent == name).map(|m| m.model.as_str()),
        }
    }
}

/// The in-sandbox supervisor's API.
#[derive(Debug, Clone)]
pub struct GuestEndpoint {
    /// Base URL such as `http://10.231.0.5:7077`.
    pub base_url: String,
    pub token: String,
}

/// Finds running agents for request paths that need one.
#[async_trait::async_trait]
pub trait RuntimeLocator: Send + Sync {
    /// Returns the chat endpoint of a running agent of `account_id`, resuming
    /// it first when it is paused. Errors: `NotFound` for an unknown agent,
    /// `Lifecycle(NotRunning)` when it is stopped, `Lifecycle(Conflict)` while
    /// it is provisioning or in error.
    async fn ensure_running(&self, account_id: &str, agent_id: &str) -> Result<RuntimeEndpoint, ServiceError>;

    /// Returns the guest endpoint when the agent has a sandbox that runs
    /// (running or paused), or `None`; used by the logs API.
    async fn guest(&self, account_id: &str, agent_id: &str) -> Result<Option<GuestEndpoint>, ServiceError>;

    /// Records API activity on the agent, for the idle policy.
    fn touch(&self, agent_id: &str);
}
