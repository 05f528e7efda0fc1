use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;

/// Credentials behind a gateway token: the agent it belongs to and its provider keys.
#[derive(Clone)]
pub struct AgentCredentials {
    pub agent_id: String,
    pub account_id: String,
    /// Provider API key per provider name (`anthropic`, `openai`,
    /// `openrouter`, or a compat upstream's name).
    pub provider_keys: HashMap<String, String>,
}

// Keys are left out so that a stray `{:?}` cannot log them.
impl std::fmt::Debug for AgentCredentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let providers: Vec<&String> = self.provider_keys.keys().collect();
        formatter
            .debug_struct("AgentCredentials")
            .field("agent_id", &self.agent_id)
            .field("account_id", &self.account_id)
            .field("providers", &providers)
            .finish()
    }
}

/// Failure to look a token up, as opposed to a token that is not known.
#[derive(Debug, thiserror::Error)]
#[error("failed to look up the gateway token: {0}")]
pub struct TokenResolverError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Maps a gateway token to the credentials of the agent that owns it.
#[async_trait]
pub trait TokenResolver: Send + Sync {
    /// Returns `Ok(None)` for a token that belongs to no agent.
    async fn resolve(&self, token: &str) -> Result<Option<AgentCredentials>, TokenResolverError>;
}

/// A [`TokenResolver`] backed by a map in memory, for tests and single-process use.
#[derive(Debug, Default)]
pub struct InMemoryTokenResolver {
    tokens: RwLock<HashMap<String, AgentCredentials>>,
}

impl InMemoryTokenResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `token` for `credentials`, replacing an earlier entry.
    pub fn insert(&self, token: impl Into<String>, credentials: AgentCredentials) {
        let mut tokens = self.tokens.write().expect("token map lock poisoned");
        tokens.insert(token.into(), credentials);
    }

    /// Revokes `token`.
    pub fn remove(&self, token: &str) {
        let mut tokens = self.tokens.write().expect("token map lock poisoned");
        tokens.remove(token);
    }
}

#[async_trait]
impl TokenResolver for InMemoryTokenResolver {
    async fn resolve(&self, token: &str) -> Result<Option<AgentCredentials>, TokenResolverError> {
        let tokens = self.tokens.read().expect("token map lock poisoned");
        Ok(tokens.get(token).cloned())
    }
}
