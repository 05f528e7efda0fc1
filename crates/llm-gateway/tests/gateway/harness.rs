//! A gateway on 127.0.0.1 in front of a fake provider, with one agent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gopilot_fake_provider::{FakeProvider, FakeProviderConfig, FakeProviderHandle};
use gopilot_llm_gateway::{
    AgentCredentials, Gateway, GatewayConfig, InMemoryTokenResolver, InMemoryUsageSink, PriceTable,
    UsageRecord,
};
use serde_json::Value;
use tokio::net::TcpListener;
use url::Url;

pub const GATEWAY_TOKEN: &str = "gwtok-agent1-5f0c2d9e8b7a";
pub const PROVIDER_KEY: &str = "sk-real-provider-key-93be11f4";
pub const AGENT_ID: &str = "agent1";
pub const ACCOUNT_ID: &str = "acct1";

/// Name of the OpenAI-compatible upstream served under `/compat/local`.
pub const COMPAT_PROVIDER: &str = "local";

pub struct Harness {
    pub gateway_url: String,
    pub provider: FakeProviderHandle,
    pub resolver: Arc<InMemoryTokenResolver>,
    pub sink: Arc<InMemoryUsageSink>,
    pub client: reqwest::Client,
}

impl Harness {
    /// Starts a fake provider that expects [`PROVIDER_KEY`] and a gateway
    /// whose every upstream points at it.
    pub async fn start(provider_config: FakeProviderConfig) -> Self {
        Self::start_with(provider_config, |_| {}).await
    }

    /// Like [`Harness::start`], with a hook to adjust the gateway config
    /// after the upstreams are set.
    pub async fn start_with(
        provider_config: FakeProviderConfig,
        adjust: impl FnOnce(&mut GatewayConfig),
    ) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("info")
            .try_init();

        let provider_config = FakeProviderConfig {
            expected_api_key: Some(PROVIDER_KEY.to_owned()),
            ..provider_config
        };
        let provider = FakeProvider::start(provider_config)
            .await
            .expect("fake provider starts");
        let provider_url = Url::parse(&provider.base_url).unwrap();

        let mut config = GatewayConfig::default();
        for name in ["anthropic", "openai", "openrouter", COMPAT_PROVIDER] {
            config
                .upstreams
                .insert(name.to_owned(), provider_url.clone());
        }
        adjust(&mut config);

        let resolver = Arc::new(InMemoryTokenResolver::new());
        let provider_keys: HashMap<String, String> =
            ["anthropic", "openai", "openrouter", COMPAT_PROVIDER]
                .into_iter()
                .map(|name| (name.to_owned(), PROVIDER_KEY.to_owned()))
                .collect();
        resolver.insert(
            GATEWAY_TOKEN,
            AgentCredentials {
                agent_id: AGENT_ID.to_owned(),
                account_id: ACCOUNT_ID.to_owned(),
                provider_keys,
            },
        );
        let sink = Arc::new(InMemoryUsageSink::new());

        let gateway = Gateway::new(config, resolver.clone(), sink.clone()).expect("gateway builds");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_url = format!("http://{}", listener.local_addr().unwrap());
        let router = gateway.router();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });

        Self {
            gateway_url,
            provider,
            resolver,
            sink,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway_url)
    }

    /// Posts `body` with the gateway token in `Authorization: Bearer`.
    pub async fn post_bearer(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(GATEWAY_TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts `body` the way Anthropic clients do: token in `x-api-key`.
    pub async fn post_anthropic(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("x-api-key", GATEWAY_TOKEN)
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits until the sink contains `count` records. Streamed responses are
    /// recorded by a background task after the last chunk.
    pub async fn wait_for_records(&self, count: usize) -> Vec<UsageRecord> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let records = self.sink.records();
            if records.len() >= count || Instant::now() > deadline {
                assert_eq!(records.len(), count, "usage records after waiting");
                return records;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Computes the cost the built-in price table gives, independently of the
/// gateway's own code: uncached input, cached input and output at their prices.
pub fn expected_cost(
    provider: &str,
    model: &str,
    input: u64,
    cached: u64,
    output: u64,
) -> Option<f64> {
    let table = PriceTable::builtin();
    let price = table.lookup(provider, model)?;
    let cached_price = price.cached_input.unwrap_or(price.input);
    Some(
        ((input - cached) as f64 * price.input
            + cached as f64 * cached_price
            + output as f64 * price.output)
            / 1e6,
    )
}

pub fn assert_cost(record: &UsageRecord, expected: Option<f64>) {
    match (record.cost_usd, expected) {
        (Some(actual), Some(expected)) => {
            assert!(
                (actual - expected).abs() < 1e-12,
                "cost {actual} != expected {expected}"
            )
        }
        (actual, expected) => assert_eq!(actual, expected, "cost of {}", record.model),
    }
}

/// Checks GoPilot's error format and returns the body.
pub async fn assert_gateway_error(
    response: reqwest::Response,
    status: u16,
    error_type: &str,
    code: &str,
) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert!(response.headers().contains_key("x-gopilot-request-id"));
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["type"], error_type, "body: {body}");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("error.message is a string");
    assert!(!message.is_empty());
    body
}

/// Splits an SSE body into the `data:` payloads parsed as JSON, skipping `[DONE]`.
pub fn sse_data(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).expect("SSE data is JSON"))
        .collect()
}

pub fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}
