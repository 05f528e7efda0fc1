//! The LLM gateway's settings and listener.
//!
//! Runtimes in sandboxes reach the gateway at the sandbox bridge's address,
//! so by default it listens there and nowhere else: no other host can present
//! a gateway token. Tests that run without sandboxes set `listen` to
//! `127.0.0.1:<port>`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gopilot_control::gateway_bridge::{StoreTokenResolver, StoreUsageSink};
use gopilot_control::{AgentService, UsageService};
use gopilot_llm_gateway::{Gateway, GatewayConfig, PriceTable, PriceTableError};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

/// Settings of the `[gateway]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// Address the gateway listens on. Unset means the sandbox bridge's
    /// address (the first address of `sandbox.subnet`) on port 8181.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Upstream base URL per provider name, merged over the built-in ones
    /// (the providers' public APIs). A name other than `anthropic`,
    /// `openai` or `openrouter` adds an OpenAI-compatible upstream served
    /// under `/compat/<name>`.
    pub upstreams: BTreeMap<String, String>,
    /// TOML price table merged over the shipped one, in USD per million
    /// tokens: `[provider."model"]` with `input`, `output` and optional
    /// `cached_input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<PathBuf>,
    /// Time allowed for a provider to send its response headers, and the
    /// whole body of a response that is not streamed, in seconds.
    pub request_timeout_secs: u64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            listen: None,
            upstreams: BTreeMap::new(),
            prices: None,
            request_timeout_secs: GatewayConfig::default().request_timeout.as_secs(),
        }
    }
}

/// A `[gateway]` setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GatewaySettingsError {
    #[error("gateway.upstreams.{name} = {value:?} is not an http or https URL: {reason}")]
    Upstream { name: String, value: String, reason: String },
    #[error("cannot read the price table gateway.prices = {path}: {source}")]
    PriceFile { path: PathBuf, source: std::io::Error },
    #[error("price table gateway.prices = {path}: {source}")]
    PriceTable { path: PathBuf, source: PriceTableError },
    #[error("gateway.request_timeout_secs must be at least 1")]
    RequestTimeout,
}

impl GatewaySettings {
    /// Builds the gateway's configuration: the defaults with these settings
    /// merged over them.
    pub fn to_gateway_config(&self) -> Result<GatewayConfig, GatewaySettingsError> {
        let mut config = GatewayConfig::default();

        for (name, value) in &self.upstreams {
            let invalid = |reason: String| GatewaySettingsError::Upstream {
                name: name.clone(),
                value: value.clone(),
                reason,
            };
            let url = Url::parse(value).map_err(|err| invalid(err.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(format!("the scheme {:?} is not supported", url.scheme())));
            }
            config.upstreams.insert(name.clone(), url);
        }

        if let Some(path) = &self.prices {
            let text = std::fs::read_to_string(path)
                .map_err(|source| GatewaySettingsError::PriceFile { path: path.clone(), source })?;
            let overrides = PriceTable::from_toml(&text)
                .map_err(|source| GatewaySettingsError::PriceTable { path: path.clone(), source })?;
            config.price_table.merge(overrides);
        }

        if self.request_timeout_secs == 0 {
            return Err(GatewaySettingsError::RequestTimeout);
        }
        config.request_timeout = Duration::from_secs(self.request_timeout_secs);
        Ok(config)
    }
}

/// A gateway serving on its own listener.
#[derive(Debug)]
pub struct SpawnedGateway {
    /// The bound address; differs from the setting when it asked for port 0.
    pub local_addr: SocketAddr,
    pub task: JoinHandle<std::io::Result<()>>,
    shutdown: oneshot::Sender<()>,
}

impl SpawnedGateway {
    /// Stops accepting connections and waits for open responses to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        // A send error means the server already ended, and the task's result
        // contains the reason.
        let _ = self.shutdown.send(());
        self.task.await.context("LLM gateway task panicked")?.context("LLM gateway failed")
    }
}

/// Port of the gateway on the sandbox bridge when `listen` is unset.
pub const DEFAULT_PORT: u16 = 8181;

/// Binds `listen` and serves the LLM gateway there: tokens resolve through
/// `agents`, and each metered request is stored through `usage`.
pub async fn spawn(
    settings: &GatewaySettings,
    listen: SocketAddr,
    agents: AgentService,
    usage: UsageService,
) -> anyhow::Result<SpawnedGateway> {
    let config = settings.to_gateway_config()?;
    let gateway = Gateway::new(
        config,
        Arc::new(StoreTokenResolver::new(agents)),
        Arc::new(StoreUsageSink::new(usage)),
    )
    .context("cannot build the LLM gateway")?;

    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| {
        format!(
            "cannot listen on {listen} for the LLM gateway; the address must exist on this host \
             (the sandbox bridge's), or set gateway.listen"
        )
    })?;
    let local_addr = listener.local_addr().context("cannot read the LLM gateway's address")?;

    let (shutdown, stopped) = oneshot::channel::<()>();
    let router = gateway.router();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        tracing::info!(listen = %local_addr, "LLM gateway stopped");
        result
    });
    tracing::info!(listen = %local_addr, "LLM gateway listening");
    Ok(SpawnedGateway { local_addr, task, shutdown })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gopilot_core::secret::SecretCipher;
    use gopilot_core::validate::CreateAgent;
    use gopilot_core::LlmKey;
    use gopilot_fake_provider::{FakeProvider, FakeProviderConfig};
    use gopilot_store::{Store, UsageFilter, UsageGrouping};
    use std::io::Write;

    #[test]
    fn defaults_listen_on_bridge() {
        let settings = GatewaySettings::default();
        assert_eq!(settings.listen, None);
        let config = settings.to_gateway_config().unwrap();
        assert_eq!(config.upstreams, GatewayConfig::default_upstreams());
        assert_eq!(config.request_timeout, GatewayConfig::default().request_timeout);
    }

    #[test]
    fn upstreams_merge_over_defaults() {
        let settings = GatewaySettings {
            upstreams: [
                ("openai".to_string(), "http://127.0.0.1:9/v1".to_string()),
                ("local".to_string(), "http://127.0.0.1:10".to_string()),
            ]
            .into(),
            ..GatewaySettings::default()
        };
        let config = settings.to_gateway_config().unwrap();
        assert_eq!(config.upstreams["openai"].as_str(), "http://127.0.0.1:9/v1");
        assert_eq!(config.upstreams["local"].as_str(), "http://127.0.0.1:10/");
        assert_eq!(config.upstreams["anthropic"], GatewayConfig::default_upstreams()["anthropic"]);
    }

    #[test]
    fn invalid_upstream_names_setting() {
        for value in ["not a url", "ftp://127.0.0.1/"] {
            let settings = GatewaySettings {
                upstreams: [("openai".to_string(), value.to_string())].into(),
                ..GatewaySettings::default()
            };
            let message = settings.to_gateway_config().unwrap_err().to_string();
            assert!(message.contains("gateway.upstreams.openai"), "{message}");
        }
    }

    #[test]
    fn price_file_merges_over_builtin() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[local.\"llama\"]\ninput = 1.5\noutput = 2.5").unwrap();
        let settings = GatewaySettings { prices: Some(file.path().to_path_buf()), ..GatewaySettings::default() };
        let config = settings.to_gateway_config().unwrap();
        assert_eq!(config.price_table.lookup("local", "llama").unwrap().input, 1.5);
        assert!(config.price_table.lookup("openai", "gpt-4o").is_some(), "built-in prices must stay");
    }

    #[test]
    fn price_file_errors_name_path() {
        let missing = GatewaySettings { prices: Some("/nonexistent/prices.toml".into()), ..GatewaySettings::default() };
        let message = missing.to_gateway_config().unwrap_err().to_string();
        assert!(message.contains("/nonexistent/prices.toml"), "{message}");

        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[openai.\"gpt-4o\"]\ninput = \"cheap\"").unwrap();
        let invalid = GatewaySettings { prices: Some(file.path().to_path_buf()), ..GatewaySettings::default() };
        let message = invalid.to_gateway_config().unwrap_err().to_string();
        assert!(message.contains("invalid price table"), "{message}");
    }

    #[test]
    fn zero_timeout_rejected() {
        let settings = GatewaySettings { request_timeout_secs: 0, ..GatewaySettings::default() };
        assert!(matches!(settings.to_gateway_config(), Err(GatewaySettingsError::RequestTimeout)));
    }

    #[tokio::test]
    async fn spawned_gateway_meters_into_store() {
        let provider = FakeProvider::start(FakeProviderConfig {
            expected_api_key: Some("sk-openai-test".into()),
            ..FakeProviderConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&Store::sqlite_url_for(dir.path())).await.unwrap();
        let account = gopilot_store::Account { id: "acc1".into(), name: "a".into(), created_at: time::OffsetDateTime::now_utc() };
        store.insert_account(&account).await.unwrap();
        let cipher = SecretCipher::new(&SecretCipher::generate_master_key()).unwrap();
        let agents = AgentService::new(store.clone(), cipher);
        let request = CreateAgent {
            name: Some("bot".into()),
            model: Some("openai/gpt-4o".into()),
            llm_keys: vec![LlmKey { provider: "openai".into(), api_key: "sk-openai-test".into() }],
            ..CreateAgent::default()
        };
        let agent = agents.create("acc1", request).await.unwrap();
        let (_, secrets) = agents.get_with_secrets("acc1", &agent.id).await.unwrap();

        let settings = GatewaySettings {
            upstreams: [("openai".to_string(), provider.base_url.clone())].into(),
            ..GatewaySettings::default()
        };
        let listen = "127.0.0.1:0".parse().unwrap();
        let gateway = spawn(&settings, listen, agents.clone(), UsageService::new(store.clone())).await.unwrap();
        assert_ne!(gateway.local_addr.port(), 0);

        let response = reqwest::Client::new()
            .post(format!("http://{}/openai/v1/chat/completions", gateway.local_addr))
            .bearer_auth(&secrets.gateway_token)
            .json(&serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "one two three"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        let prompt_tokens = body["usage"]["prompt_tokens"].as_u64().unwrap();
        let completion_tokens = body["usage"]["completion_tokens"].as_u64().unwrap();
        gateway.stop().await.unwrap();

        let now = time::OffsetDateTime::now_utc();
        let filter = UsageFilter {
            account_id: "acc1",
            agent_id: Some(&agent.id),
            start: now - time::Duration::minutes(1),
            end: now + time::Duration::minutes(1),
        };
        // The gateway stores usage from a background task after the response.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let buckets = loop {
            let buckets = store.aggregate_usage(&filter, UsageGrouping::Model).await.unwrap();
            if !buckets.is_empty() || std::time::Instant::now() > deadline {
                break buckets;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(buckets.len(), 1, "{buckets:?}");
        assert_eq!(buckets[0].key, "openai/gpt-4o");
        assert_eq!(buckets[0].input_tokens, prompt_tokens);
        assert_eq!(buckets[0].output_tokens, completion_tokens);
        assert!(buckets[0].known_cost_usd.unwrap() > 0.0);
    }
}
