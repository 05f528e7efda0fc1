//! Usage accounting end to end: LLM requests through the gateway to a fake
//! provider on 127.0.0.1, then the usage routes of the real binary.
//!
//! The gateway is the binary's own when `gopilot serve` starts it on
//! `gateway.listen`. Until serve does, the test runs the same gateway
//! in-process on the binary's data directory (store and master key), so the
//! usage rows land in the store the binary reads either way.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use common::Server;
use gopilot_control::gateway_bridge::{StoreTokenResolver, StoreUsageSink};
use gopilot_control::{AgentService, UsageService};
use gopilot_core::secret::SecretCipher;
use gopilot_fake_provider::{FakeProvider, FakeProviderConfig, FakeProviderHandle};
use gopilot_llm_gateway::{Gateway, GatewayConfig, PriceTable};
use gopilot_store::Store;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The provider key given to the agent, which the fake provider requires.
const PROVIDER_KEY: &str = "sk-usage-test-provider-key-7f3a";
/// Prompt tokens the fake provider reports as read from its cache.
const CACHED_TOKENS: u64 = 2;
/// A model that the built-in price table does not list.
const UNPRICED_MODEL: &str = "gpt-usage-unpriced";

/// Tokens a provider reported for one response.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Reported {
    input: u64,
    output: u64,
    cached: u64,
}

impl Reported {
    fn plus(self, other: Reported) -> Reported {
        Reported { input: self.input + other.input, output: self.output + other.output, cached: self.cached + other.cached }
    }

    /// Cost at the built-in price table, computed apart from the gateway's code.
    fn cost(self, provider: &str, model: &str) -> f64 {
        let table = PriceTable::builtin();
        let price = table.lookup(provider, model).expect("model is in the built-in price table");
        let cached_price = price.cached_input.unwrap_or(price.input);
        ((self.input - self.cached) as f64 * price.input
            + self.cached as f64 * cached_price
            + self.output as f64 * price.output)
            / 1e6
    }
}

struct Setup {
    server: Server,
    client: Client,
    key: String,
    agent_id: String,
    gateway_url: String,
    gateway_token: String,
    _provider: FakeProviderHandle,
    _in_process_gateway: Option<tokio::task::JoinHandle<()>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn setup() -> Setup {
    let provider = FakeProvider::start(FakeProviderConfig {
        expected_api_key: Some(PROVIDER_KEY.into()),
        cached_tokens: CACHED_TOKENS,
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let gateway_listen = format!("127.0.0.1:{}", free_port());
    let server = Server::start_with(&[
        ("GOPILOT_GATEWAY__LISTEN", &gateway_listen),
        ("GOPILOT_GATEWAY__UPSTREAMS__OPENAI", &provider.base_url),
        ("GOPILOT_GATEWAY__UPSTREAMS__ANTHROPIC", &provider.base_url),
    ]);
    let key = server.first_key.clone().unwrap();
    let client = Client::new();

    let body = json!({
        "name": "Usage Bot",
        "model": "anthropic/claude-sonnet-4-6",
        "llm_keys": [
            { "provider": "anthropic", "api_key": PROVIDER_KEY },
            { "provider": "openai", "api_key": PROVIDER_KEY }
        ]
    });
    let response = client.post(server.url("/v1/agents")).header("X-API-Key", &key).json(&body).send().await.unwrap();
    let status = response.status();
    let agent: Value = response.json().await.unwrap();
    assert!(status.is_success(), "create agent: {status} {agent}");
    let agent_id = agent["id"].as_str().unwrap().to_string();

    // The gateway token is sealed in the store; open it with the master key
    // the binary created in its data directory.
    let store = Store::connect(&Store::sqlite_url_for(&server.data_dir)).await.unwrap();
    let master_key = std::fs::read_to_string(server.data_dir.join("master.key")).unwrap();
    let master_key = base64::engine::general_purpose::STANDARD.decode(master_key.trim()).unwrap();
    let agents = AgentService::new(store.clone(), SecretCipher::new(&master_key).unwrap());
    let row = store.get_agent_any_account(&agent_id).await.unwrap().unwrap();
    let gateway_token = agents.open(&row).unwrap().gateway_token;

    let (gateway_url, in_process) = if std::net::TcpStream::connect(&gateway_listen).is_ok() {
        (format!("http://{gateway_listen}"), None)
    } else {
        // TODO: drop this branch once `gopilot serve` starts the gateway.
        eprintln!("gopilot serve does not run the LLM gateway yet; starting it in-process");
        let (url, task) = start_in_process_gateway(agents, UsageService::new(store), &provider.base_url).await;
        (url, Some(task))
    };

    Setup {
        server,
        client,
        key,
        agent_id,
        gateway_url,
        gateway_token,
        _provider: provider,
        _in_process_gateway: in_process,
    }
}

async fn start_in_process_gateway(
    agents: AgentService,
    usage: UsageService,
    provider_url: &str,
) -> (String, tokio::task::JoinHandle<()>) {
    let mut config = GatewayConfig::default();
    for name in ["openai", "anthropic"] {
        config.upstreams.insert(name.into(), provider_url.parse().unwrap());
    }
    let gateway = Gateway::new(
        config,
        Arc::new(StoreTokenResolver::new(agents)),
        Arc::new(StoreUsageSink::new(usage)),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = gateway.router();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (url, task)
}

impl Setup {
    async fn openai(&self, model: &str, stream: bool) -> Reported {
        let mut body = json!({"model": model, "messages": [{"role": "user", "content": "count these five words"}]});
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        let response = self
            .client
            .post(format!("{}/openai/v1/chat/completions", self.gateway_url))
            .bearer_auth(&self.gateway_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "openai {model} stream={stream}");
        let usage = if stream {
            let events = sse_data(&response.text().await.unwrap());
            events.into_iter().rev().find(|event| event["usage"].is_object()).expect("a usage chunk")["usage"].clone()
        } else {
            response.json::<Value>().await.unwrap()["usage"].clone()
        };
        Reported {
            input: usage["prompt_tokens"].as_u64().unwrap(),
            output: usage["completion_tokens"].as_u64().unwrap(),
            cached: usage["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap(),
        }
    }

    async fn anthropic(&self, model: &str, stream: bool) -> Reported {
        let body = json!({
            "model": model,
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "user", "content": "an anthropic prompt of seven words"}]
        });
        let response = self
            .client
            .post(format!("{}/anthropic/v1/messages", self.gateway_url))
            .header("x-api-key", &self.gateway_token)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "anthropic {model} stream={stream}");

        // Anthropic reports uncached input apart from cache reads.
        let (input_usage, output_tokens) = if stream {
            let events = sse_data(&response.text().await.unwrap());
            let start = events.iter().find(|e| e["type"] == "message_start").expect("message_start");
            let delta = events.iter().find(|e| e["type"] == "message_delta").expect("message_delta");
            (start["message"]["usage"].clone(), delta["usage"]["output_tokens"].as_u64().unwrap())
        } else {
            let message: Value = response.json().await.unwrap();
            (message["usage"].clone(), message["usage"]["output_tokens"].as_u64().unwrap())
        };
        let cached = input_usage["cache_read_input_tokens"].as_u64().unwrap();
        Reported { input: input_usage["input_tokens"].as_u64().unwrap() + cached, output: output_tokens, cached }
    }

    async fn get(&self, path: &str, key: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
        let response =
            self.client.get(self.server.url(path)).header("X-API-Key", key).query(query).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text:?}"));
        (status, body)
    }

    /// Polls the account's usage until `requests` are recorded; streamed
    /// responses are recorded after their last chunk.
    async fn wait_for_requests(&self, requests: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = self.get("/v1/usage", &self.key, &[("group_by", "model")]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["totals"]["requests"] == requests || Instant::now() > deadline {
                assert_eq!(body["totals"]["requests"], requests, "recorded requests: {body}");
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn sse_data(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).expect("SSE data is JSON"))
        .collect()
}

fn bucket<'a>(usage: &'a Value, key: &str) -> &'a Value {
    usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|bucket| bucket["key"] == key)
        .unwrap_or_else(|| panic!("no bucket {key} in {usage}"))
}

fn assert_tokens(bucket: &Value, requests: u64, reported: Reported) {
    assert_eq!(bucket["requests"], requests, "{bucket}");
    assert_eq!(bucket["input_tokens"], reported.input, "{bucket}");
    assert_eq!(bucket["output_tokens"], reported.output, "{bucket}");
    assert_eq!(bucket["cached_tokens"], reported.cached, "{bucket}");
}

fn assert_cost(bucket: &Value, expected: f64) {
    let actual = bucket["cost_usd"].as_f64().unwrap_or_else(|| panic!("cost_usd is not a number: {bucket}"));
    assert!((actual - expected).abs() < 1e-12, "cost {actual} != expected {expected}: {bucket}");
    assert_eq!(bucket["cost_complete"], true, "{bucket}");
}

fn time_of(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339).unwrap()
}

#[tokio::test]
async fn usage_matches_provider_reports() {
    let setup = setup().await;
    let created_at = OffsetDateTime::now_utc();

    let gpt_4o = setup.openai("gpt-4o", false).await.plus(setup.openai("gpt-4o", true).await);
    let sonnet = setup
        .anthropic("claude-sonnet-4-6", false)
        .await
        .plus(setup.anthropic("claude-sonnet-4-6", true).await);
    let unpriced = setup.openai(UNPRICED_MODEL, false).await;
    assert!(gpt_4o.cached > 0, "the fake provider must report cached tokens");
    assert!(sonnet.cached > 0, "the fake provider must report cached tokens");

    let usage = setup.wait_for_requests(5).await;
    assert_eq!(usage["object"], "usage");
    assert_eq!(usage["group_by"], "model");
    assert_eq!(time_of(&usage["end"]) - time_of(&usage["start"]), time::Duration::days(30));
    let keys: Vec<&str> = usage["data"].as_array().unwrap().iter().map(|b| b["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["anthropic/claude-sonnet-4-6", "openai/gpt-4o", "openai/gpt-usage-unpriced"]);

    let sonnet_bucket = bucket(&usage, "anthropic/claude-sonnet-4-6");
    assert_tokens(sonnet_bucket, 2, sonnet);
    assert_cost(sonnet_bucket, sonnet.cost("anthropic", "claude-sonnet-4-6"));
    let gpt_4o_bucket = bucket(&usage, "openai/gpt-4o");
    assert_tokens(gpt_4o_bucket, 2, gpt_4o);
    assert_cost(gpt_4o_bucket, gpt_4o.cost("openai", "gpt-4o"));

    let unpriced_bucket = bucket(&usage, "openai/gpt-usage-unpriced");
    assert_tokens(unpriced_bucket, 1, unpriced);
    assert!(unpriced_bucket["cost_usd"].is_null(), "{unpriced_bucket}");
    assert_eq!(unpriced_bucket["cost_complete"], false);

    let totals = &usage["totals"];
    assert_tokens(totals, 5, gpt_4o.plus(sonnet).plus(unpriced));
    let known_cost = sonnet.cost("anthropic", "claude-sonnet-4-6") + gpt_4o.cost("openai", "gpt-4o");
    assert!((totals["cost_usd"].as_f64().unwrap() - known_cost).abs() < 1e-12, "{totals}");
    assert_eq!(totals["cost_complete"], false, "an unpriced request makes the total incomplete");

    // The agent has existed since its creation, at its size.
    let compute = usage["compute"].as_array().unwrap();
    assert_eq!(compute.len(), 1, "{usage}");
    assert_eq!(compute[0]["agent_id"], setup.agent_id.as_str());
    assert_eq!(compute[0]["size"], "medium");
    let seconds = &compute[0]["seconds"];
    let total: f64 = ["provisioning", "running", "paused", "stopped", "error"]
        .iter()
        .map(|status| seconds[status].as_f64().unwrap())
        .sum();
    let elapsed = (OffsetDateTime::now_utc() - created_at).as_seconds_f64() + 30.0;
    assert!(total > 0.0, "the agent existed during the range: {seconds}");
    assert!(total < elapsed, "seconds {seconds} must lie within the agent's life");
    let running = seconds["running"].as_f64().unwrap();
    assert_eq!(compute[0]["vcpu_seconds"].as_f64().unwrap(), running * 2.0);
    assert_eq!(compute[0]["memory_gib_seconds"].as_f64().unwrap(), running * 4.0);

    // One agent, by day (the default): all requests fall on today's UTC date.
    let path = format!("/v1/agents/{}/usage", setup.agent_id);
    let (status, by_day) = setup.get(&path, &setup.key, &[]).await;
    assert_eq!(status, StatusCode::OK, "{by_day}");
    assert_eq!(by_day["group_by"], "day");
    let today = gopilot_store::utc_day(OffsetDateTime::now_utc());
    assert_eq!(by_day["data"].as_array().unwrap().len(), 1, "{by_day}");
    assert_tokens(bucket(&by_day, &today), 5, gpt_4o.plus(sonnet).plus(unpriced));
    assert_eq!(by_day["totals"], usage["totals"]);

    let (status, by_agent) = setup.get(&path, &setup.key, &[("group_by", "agent")]).await;
    assert_eq!(status, StatusCode::OK, "{by_agent}");
    assert_tokens(bucket(&by_agent, &setup.agent_id), 5, gpt_4o.plus(sonnet).plus(unpriced));

    // A range that ends before the requests contains none of them.
    let (status, past) = setup
        .get("/v1/usage", &setup.key, &[("start", "2026-01-01T00:00:00Z"), ("end", "2026-01-02T00:00:00Z")])
        .await;
    assert_eq!(status, StatusCode::OK, "{past}");
    assert_eq!(past["data"], json!([]));
    assert_eq!(past["totals"]["requests"], 0);
    assert_eq!(past["totals"]["cost_usd"], 0.0);
    assert_eq!(past["compute"], json!([]));
}

#[tokio::test]
async fn gateway_rejects_unknown_token() {
    let setup = setup().await;
    let response = setup
        .client
        .post(format!("{}/openai/v1/chat/completions", setup.gateway_url))
        .bearer_auth("not-a-gateway-token")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_gateway_token");
}

#[tokio::test]
async fn usage_requires_scope_and_own_agent() {
    let setup = setup().await;
    let agent_path = format!("/v1/agents/{}/usage", setup.agent_id);

    let agents_only = setup.server.create_key("agents:read");
    for path in ["/v1/usage", agent_path.as_str()] {
        let (status, body) = setup.get(path, &agents_only, &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"]["code"], "missing_scope");
    }
    let usage_only = setup.server.create_key("usage:read");
    let (status, body) = setup.get(&agent_path, &usage_only, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = setup.get("/v1/usage", "gopt_live_notakey", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let other_account = setup.server.create_account("other");
    let other_key = setup.server.create_key_for(Some(&other_account), "usage:read");
    let (status, body) = setup.get(&agent_path, &other_key, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another account's agent: {body}");
    assert_eq!(body["error"]["type"], "not_found_error");
    let (status, body) = setup.get("/v1/usage", &other_key, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["compute"], json!([]), "another account's agents must not appear");

    let (status, body) = setup.get("/v1/agents/agmissing/usage", &setup.key, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn usage_rejects_invalid_query() {
    let setup = setup().await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("group_by", "week")], "group_by"),
        (&[("start", "yesterday")], "start"),
        (&[("end", "2026-13-01T00:00:00Z")], "end"),
        (&[("start", "2026-02-01T00:00:00Z"), ("end", "2026-01-01T00:00:00Z")], "end"),
        (&[("start", "2025-01-01T00:00:00Z"), ("end", "2026-02-01T00:00:00Z")], "start"),
    ];
    for (query, param) in cases {
        for path in ["/v1/usage".to_string(), format!("/v1/agents/{}/usage", setup.agent_id)] {
            let (status, body) = setup.get(&path, &setup.key, query).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {query:?}: {body}");
            assert_eq!(body["error"]["type"], "invalid_request_error");
            assert_eq!(body["error"]["param"], param, "{query:?}: {body}");
            assert!(body["error"]["message"].as_str().unwrap().starts_with(param), "{body}");
        }
    }

    let exact_366_days = [("start", "2025-01-01T00:00:00Z"), ("end", "2026-01-02T00:00:00Z")];
    let (status, body) = setup.get("/v1/usage", &setup.key, &exact_366_days).await;
    assert_eq!(status, StatusCode::OK, "366 days is allowed: {body}");
    assert_eq!(body["start"], "2025-01-01T00:00:00Z");
}
