//! Harness for the chat and logs tests: the API in-process on a free
//! loopback port over a temporary SQLite store, a scriptable
//! `RuntimeLocator`, and a fake guest that serves `GET /v1/logs`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use gopilot_api::rate_limit::RateLimitConfig;
use gopilot_api::{ApiConfig, AppState, ProxyConfig};
use gopilot_control::{AgentService, ChatModel, GuestEndpoint, KeyService, RuntimeEndpoint, RuntimeLocator, ServiceError};
use gopilot_core::secret::SecretCipher;
use gopilot_core::{LifecycleError, ScopeSet};
use gopilot_guest_api::{LogLine, LogStream};
use gopilot_store::Store;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

/// Bearer token the fake runtime endpoints are given.
pub const RUNTIME_TOKEN: &str = "runtime-token-0123456789abcdef";
/// Bearer token the fake guest accepts.
pub const GUEST_TOKEN: &str = "guest-token-0123456789abcdefghij";

/// What the fake locator reports for one agent.
#[derive(Clone)]
pub enum AgentRuntime {
    Running { base_url: String, guest: Option<GuestEndpoint> },
    Stopped,
}

/// A `RuntimeLocator` whose results the test sets per agent id.
#[derive(Default)]
pub struct FakeLocator {
    agents: Mutex<HashMap<String, AgentRuntime>>,
    touched: Mutex<Vec<String>>,
}

impl FakeLocator {
    pub fn set(&self, agent_id: &str, runtime: AgentRuntime) {
        self.agents.lock().unwrap().insert(agent_id.to_string(), runtime);
    }

    pub fn touched(&self) -> Vec<String> {
        self.touched.lock().unwrap().clone()
    }

    fn lookup(&self, agent_id: &str) -> Result<AgentRuntime, ServiceError> {
        self.agents
            .lock()
            .unwrap()
            .get(agent_id)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound { kind: "agent", id: agent_id.to_string() })
    }
}

#[async_trait::async_trait]
impl RuntimeLocator for FakeLocator {
    async fn ensure_running(&self, _account_id: &str, agent_id: &str) -> Result<RuntimeEndpoint, ServiceError> {
        match self.lookup(agent_id)? {
            AgentRuntime::Running { base_url, .. } => Ok(RuntimeEndpoint {
                agent_id: agent_id.to_string(),
                base_url,
                chat_path: "/v1/chat/completions".into(),
                bearer_token: RUNTIME_TOKEN.into(),
                models: vec![
                    ChatModel { agent: "main".into(), model: "openclaw/default".into() },
                    ChatModel { agent: "research".into(), model: "openclaw/research".into() },
                ],
            }),
            AgentRuntime::Stopped => Err(LifecycleError::NotRunning.into()),
        }
    }

    async fn guest(&self, _account_id: &str, agent_id: &str) -> Result<Option<GuestEndpoint>, ServiceError> {
        match self.lookup(agent_id)? {
            AgentRuntime::Running { guest, .. } => Ok(guest),
            AgentRuntime::Stopped => Ok(None),
        }
    }

    fn touch(&self, agent_id: &str) {
        self.touched.lock().unwrap().push(agent_id.to_string());
    }
}

/// The API server under test.
pub struct Api {
    pub base_url: String,
    pub locator: Arc<FakeLocator>,
    /// A key with every scope.
    pub admin_key: String,
    pub read_key: String,
    pub write_key: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Api {
    pub async fn start() -> Api {
        Api::start_with(ProxyConfig::default()).await
    }

    pub async fn start_with(proxy: ProxyConfig) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&Store::sqlite_url_for(dir.path())).await.unwrap();
        let cipher = SecretCipher::new(&SecretCipher::generate_master_key()).unwrap();
        let keys = Arc::new(KeyService::new(store.clone()));
        let admin_key = keys.bootstrap().await.unwrap().expect("a new store creates the first key").key;
        let read_key = keys.create(None, "read", ScopeSet::parse_list("agents:read").unwrap()).await.unwrap().key;
        let write_key = keys.create(None, "write", ScopeSet::parse_list("agents:write").unwrap()).await.unwrap().key;

        let locator = Arc::new(FakeLocator::default());
        let config = ApiConfig {
            max_body_bytes: 1024 * 1024,
            // High enough that tests creating many agents are not limited.
            rate_limit: RateLimitConfig { per_second: 1000.0, burst: 1000 },
            agents_domain: "agents.test".into(),
            // No sandbox backend runs here, so agents stay provisioning.
            create_wait: Duration::ZERO,
        };
        let state = AppState::new(keys, AgentService::new(store, cipher), locator.clone(), config).with_proxy_config(proxy);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, gopilot_api::router(state)).await.unwrap();
        });

        Api {
            base_url: format!("http://{addr}"),
            locator,
            admin_key,
            read_key,
            write_key,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            _dir: dir,
        }
    }

    /// Creates an agent with one extra agent, `research`, and returns its id.
    pub async fn create_agent(&self, name: &str) -> String {
        let response = self
            .client
            .post(format!("{}/v1/agents", self.base_url))
            .header("x-api-key", &self.admin_key)
            .json(&json!({
                "name": name,
                "model": "anthropic/claude-sonnet-4-6",
                "llm_keys": [{"provider": "anthropic", "api_key": "sk-ant-test-0000000000000000"}],
                "agents": [{"name": "research"}],
            }))
            .send()
            .await
            .unwrap();
        // 202: no sandbox backend runs in these tests, so the agent stays in
        // provisioning; the fake locator decides whether it chats.
        assert!(response.status().is_success(), "create agent: {}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_string()
    }

    pub fn post(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.base_url)).bearer_auth(key)
    }

    pub fn get(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base_url)).header("x-api-key", key)
    }
}

/// Returns a loopback address on which nothing listens.
pub fn closed_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Asserts an API error response and returns its body.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "error body: {body}");
    body
}

/// Formats a time as the guest does: RFC 3339 UTC with nanoseconds.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

pub fn log_line(at: OffsetDateTime, stream: LogStream, line: &str) -> LogLine {
    LogLine { ts: rfc3339(at), stream, line: line.to_string() }
}

/// A stand-in for the in-sandbox guest's logs API: `GET /v1/logs` with
/// `tail`, `since` and `follow`, behind bearer authentication.
pub struct FakeGuest {
    pub endpoint: GuestEndpoint,
    state: GuestState,
}

#[derive(Clone)]
struct GuestState {
    lines: Arc<Mutex<Vec<LogLine>>>,
    queries: Arc<Mutex<Vec<HashMap<String, String>>>>,
    followers: broadcast::Sender<LogLine>,
}

impl FakeGuest {
    pub async fn start(lines: Vec<LogLine>) -> FakeGuest {
        let (followers, _) = broadcast::channel(64);
        let state = GuestState { lines: Arc::new(Mutex::new(lines)), queries: Default::default(), followers };
        let app = Router::new().route("/v1/logs", get(guest_logs)).with_state(state.clone());

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGuest { endpoint: GuestEndpoint { base_url: format!("http://{addr}"), token: GUEST_TOKEN.into() }, state }
    }

    /// Records a new runtime line and sends it to open follow streams.
    pub fn emit(&self, line: LogLine) {
        self.state.lines.lock().unwrap().push(line.clone());
        let _ = self.state.followers.send(line);
    }

    /// Waits until `count` follow streams are open.
    pub async fn wait_for_followers(&self, count: usize) {
        for _ in 0..200 {
            if self.state.followers.receiver_count() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no follow stream reached the fake guest within 2 s");
    }

    /// Query parameters of every request received, oldest first.
    pub fn queries(&self) -> Vec<HashMap<String, String>> {
        self.state.queries.lock().unwrap().clone()
    }
}

async fn guest_logs(
    State(state): State<GuestState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let expected = format!("Bearer {GUEST_TOKEN}");
    if headers.get("authorization").and_then(|value| value.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": "unauthorized", "message": "bad token"}})))
            .into_response();
    }
    state.queries.lock().unwrap().push(query.clone());

    if query.get("follow").map(String::as_str) == Some("true") {
        let receiver = state.followers.subscribe();
        let events = tokio_stream_from(receiver).map(|line| {
            Ok::<_, Infallible>(Event::default().event("log").data(serde_json::to_string(&line).unwrap()))
        });
        return Sse::new(events).into_response();
    }

    let since = query.get("since").map(|text| OffsetDateTime::parse(text, &Rfc3339).unwrap());
    let lines = state.lines.lock().unwrap().clone();
    let mut lines: Vec<LogLine> = lines
        .into_iter()
        .filter(|line| since.is_none_or(|since| OffsetDateTime::parse(&line.ts, &Rfc3339).unwrap() > since))
        .collect();
    if let Some(tail) = query.get("tail").map(|tail| tail.parse::<usize>().unwrap()) {
        let skip = lines.len().saturating_sub(tail);
        lines.drain(..skip);
    }
    Json(lines).into_response()
}

/// Turns a broadcast receiver into a stream of the values it receives.
fn tokio_stream_from(receiver: broadcast::Receiver<LogLine>) -> impl futures::Stream<Item = LogLine> {
    futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(line) => return Some((line, receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// Reads server-sent events from a streamed response, one at a time.
pub struct SseReader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

/// One event as `(event name, data)`.
pub type SseItem = (String, String);

impl SseReader {
    pub fn new(response: reqwest::Response) -> SseReader {
        SseReader { stream: response.bytes_stream().boxed(), buffer: String::new() }
    }

    /// Returns the next event, skipping comments, or `None` at the end of the
    /// stream. Panics after `timeout` without one.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<SseItem> {
        tokio::time::timeout(timeout, self.read_event()).await.expect("no server-sent event arrived in time")
    }

    async fn read_event(&mut self) -> Option<SseItem> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = "message".to_string();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_string();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some((name, data.join("\n")));
            }
            let chunk = self.stream.next().await?.expect("stream read failed");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
