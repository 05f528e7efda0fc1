//! The LLM gateway's two traits, implemented on the store: gateway tokens
//! resolve to the agent's sealed provider keys, and usage goes to
//! [`UsageService`].

use std::collections::HashMap;

use async_trait::async_trait;
use gopilot_core::secret::hash_token;
use gopilot_llm_gateway::{
    AgentCredentials, TokenResolver, TokenResolverError, UsageRecord, UsageSink, UsageSinkError,
};

use crate::agents::AgentService;
use crate::usage::UsageService;

/// Resolves a gateway token to its agent by the token's SHA-256, then opens
/// the agent's sealed secrets for its provider keys.
#[derive(Debug, Clone)]
pub struct StoreTokenResolver {
    agents: AgentService,
}

impl StoreTokenResolver {
    pub fn new(agents: AgentService) -> StoreTokenResolver {
        StoreTokenResolver { agents }
    }
}

#[async_trait]
impl TokenResolver for StoreTokenResolver {
    async fn resolve(&self, token: &str) -> Result<Option<AgentCredentials>, TokenResolverError> {
        let lookup_failed = |err: Box<dyn std::error::Error + Send + Sync>| TokenResolverError(err);

        let hash = hash_token(token);
        let Some(row) = self.agents.store().find_agent_by_gateway_token_hash(&hash).await.map_err(|err| lookup_failed(err.into()))? else {
            return Ok(None);
        };
        let secrets = self.agents.open(&row).map_err(|err| lookup_failed(err.into()))?;

        // A later key for the same provider replaces an earlier one, as the
        // runtime's own configuration would.
        let provider_keys: HashMap<String, String> =
            secrets.llm_keys.into_iter().map(|key| (key.provider, key.api_key)).collect();
        Ok(Some(AgentCredentials {
            agent_id: row.agent.id,
            account_id: row.agent.account_id,
            provider_keys,
        }))
    }
}

/// Stores each usage record through [`UsageService::record`].
#[derive(Debug, Clone)]
pub struct StoreUsageSink {
    usage: UsageService,
}

impl StoreUsageSink {
    pub fn new(usage: UsageService) -> StoreUsageSink {
        StoreUsageSink { usage }
    }
}

#[async_trait]
impl UsageSink for StoreUsageSink {
    async fn record(&self, record: UsageRecord) -> Result<(), UsageSinkError> {
        self.usage.record(record).await.map_err(|err| UsageSinkError(err.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gopilot_core::secret::SecretCipher;
    use gopilot_core::validate::CreateAgent;
    use gopilot_core::LlmKey;
    use gopilot_store::{Store, UsageFilter, UsageGrouping};
    use time::Duration;

    async fn services() -> (AgentService, UsageService, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&Store::sqlite_url_for(dir.path())).await.unwrap();
        store
            .insert_account(&gopilot_store::Account { id: "acc1".into(), name: "a".into(), created_at: crate::clock::now() })
            .await
            .unwrap();
        let cipher = SecretCipher::new(&SecretCipher::generate_master_key()).unwrap();
        (AgentService::new(store.clone(), cipher), UsageService::new(store), dir)
    }

    fn create_request() -> CreateAgent {
        CreateAgent {
            name: Some("bot".into()),
            model: Some("anthropic/claude-sonnet-4-6".into()),
            llm_keys: vec![
                LlmKey { provider: "anthropic".into(), api_key: "sk-ant-one".into() },
                LlmKey { provider: "openai".into(), api_key: "sk-openai-two".into() },
            ],
            ..CreateAgent::default()
        }
    }

    #[tokio::test]
    async fn resolver_returns_provider_keys() {
        let (agents, _, _dir) = services().await;
        let agent = agents.create("acc1", create_request()).await.unwrap();
        let (_, secrets) = agents.get_with_secrets("acc1", &agent.id).await.unwrap();

        let resolver = StoreTokenResolver::new(agents);
        let credentials = resolver.resolve(&secrets.gateway_token).await.unwrap().unwrap();
        assert_eq!(credentials.agent_id, agent.id);
        assert_eq!(credentials.account_id, "acc1");
        assert_eq!(credentials.provider_keys.len(), 2);
        assert_eq!(credentials.provider_keys["anthropic"], "sk-ant-one");
        assert_eq!(credentials.provider_keys["openai"], "sk-openai-two");
    }

    #[tokio::test]
    async fn resolver_rejects_unknown_token() {
        let (agents, _, _dir) = services().await;
        agents.create("acc1", create_request()).await.unwrap();
        let resolver = StoreTokenResolver::new(agents);
        assert!(resolver.resolve("not-a-gateway-token").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn resolver_forgets_deleted_agent() {
        let (agents, _, _dir) = services().await;
        let agent = agents.create("acc1", create_request()).await.unwrap();
        let (_, secrets) = agents.get_with_secrets("acc1", &agent.id).await.unwrap();
        agents.delete("acc1", &agent.id).await.unwrap();

        let resolver = StoreTokenResolver::new(agents);
        assert!(resolver.resolve(&secrets.gateway_token).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn sink_stores_record() {
        let (agents, usage, _dir) = services().await;
        let started_at = crate::clock::now();
        let record = UsageRecord {
            agent_id: "ag1".into(),
            account_id: "acc1".into(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            request_id: "req1".into(),
            input_tokens: 12,
            output_tokens: 7,
            cached_tokens: 3,
            cost_usd: Some(0.001),
            started_at,
            latency_ms: 40,
            status_code: 200,
            streamed: true,
        };
        StoreUsageSink::new(usage).record(record).await.unwrap();

        let filter = UsageFilter {
            account_id: "acc1",
            agent_id: None,
            start: started_at,
            end: started_at + Duration::seconds(1),
        };
        let buckets = agents.store().aggregate_usage(&filter, UsageGrouping::Model).await.unwrap();
        assert_eq!(buckets.len(), 1);
        assert_eq!(buckets[0].key, "openai/gpt-4o");
        assert_eq!((buckets[0].input_tokens, buckets[0].output_tokens, buckets[0].cached_tokens), (12, 7, 3));
        assert_eq!(buckets[0].known_cost_usd, Some(0.001));
    }
}
