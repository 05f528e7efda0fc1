//! Chat end to end: the official `openai` Python SDK talks to GoPilot, which
//! proxies to a real OpenClaw or Hermes runtime in a runc sandbox, which calls
//! the LLM gateway, which forwards to a fake provider on 127.0.0.1.
//!
//! Besides the completions, each test checks that the provider key is in no
//! sandbox file, process environment or log, and that usage equals what the
//! provider reported. It also checks that a chat resumes a paused agent, that
//! a stopped agent rejects chats, and that a log follow stream delivers new
//! runtime output.
//!
//! Needs root, `python3` with `venv`, a package index for `pip install
//! openai` (the venv is kept in the target directory), and the runtime images
//! in `GOPILOT_TEST_IMAGE_DIR`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::runc::{runtime_process, sandbox_pids, start_runc_server, tail, Api};
use common::Server;
use gopilot_fake_provider::{Echo, FakeProvider, FakeProviderConfig, FakeProviderHandle, RecordedRequest};
use gopilot_llm_gateway::PriceTable;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

/// The provider key given in `llm_keys`. The fake provider accepts no other,
/// so every completion proves that the gateway added it.
const PROVIDER_KEY: &str = "sk-chate2e-PROVIDERSECRET-5c1f9a7d";
/// Prompt tokens the fake provider reports as read from its cache, so that
/// the cost check covers the cached-input price.
const CACHED_TOKENS: u64 = 2;

/// Asks the agent once without and once with streaming, through the
/// official SDK, and prints one JSON line per answer.
const SDK_SCRIPT: &str = r#"
import json, os
import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["CHAT_BASE_URL"], api_key=os.environ["CHAT_API_KEY"], max_retries=0, timeout=120)
model = os.environ["CHAT_MODEL"]

plain = client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": os.environ["CHAT_PROMPT_PLAIN"]}]
)
print(json.dumps({"mode": "plain", "text": plain.choices[0].message.content, "model": plain.model}), flush=True)

pieces, chunks, error = [], 0, None
try:
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": os.environ["CHAT_PROMPT_STREAM"]}], stream=True
    )
    for chunk in stream:
        chunks += 1
        for choice in chunk.choices:
            if choice.delta is not None and choice.delta.content:
                pieces.append(choice.delta.content)
except openai.APIError as exc:
    # Reported as data, so that the test can run its other checks first.
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"mode": "stream", "text": "".join(pieces), "chunks": chunks, "error": error}), flush=True)
"#;

/// Serializes the venv setup between the tests of this binary.
static VENV_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Returns the Python of a venv in the target directory that has the
/// `openai` package, creating the venv on first use.
async fn sdk_python() -> PathBuf {
    let _guard = VENV_LOCK.lock().await;
    // The test binary is target/<profile>/deps/chat_e2e-<hash>.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).expect("the test binary lies in target/<profile>/deps").to_path_buf();
    let venv = target.join("chat-e2e-venv");
    let python = venv.join("bin/python");

    let has_sdk = |python: &Path| {
        std::process::Command::new(python)
            .args(["-c", "import openai"])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if has_sdk(&python) {
        return python;
    }
    let output = std::process::Command::new("python3").arg("-m").arg("venv").arg(&venv).output().unwrap();
    assert!(output.status.success(), "python3 -m venv failed: {}", String::from_utf8_lossy(&output.stderr));
    let output = std::process::Command::new(venv.join("bin/pip")).args(["install", "--quiet", "openai"]).output().unwrap();
    assert!(output.status.success(), "pip install openai failed: {}", String::from_utf8_lossy(&output.stderr));
    assert!(has_sdk(&python), "the venv at {} still cannot import openai", venv.display());
    python
}

/// Starts a server with runc sandboxes on a network of its own whose gateway
/// forwards every provider to `provider`.
fn start_server(net: u8, provider: &FakeProviderHandle) -> Server {
    // Every built-in provider goes to the fake one, so that no request can
    // leave this machine whatever provider a runtime picks.
    let upstream = format!("{}/v1", provider.base_url);
    start_runc_server(
        "chat",
        net,
        &[
            ("GOPILOT_GATEWAY__UPSTREAMS__OPENAI", &upstream),
            ("GOPILOT_GATEWAY__UPSTREAMS__ANTHROPIC", &upstream),
            ("GOPILOT_GATEWAY__UPSTREAMS__OPENROUTER", &upstream),
        ],
    )
}

/// Returns the text of a non-streamed completion.
fn completion_text(completion: &Value) -> &str {
    completion["choices"][0]["message"]["content"].as_str().unwrap_or_else(|| panic!("no message content: {completion}"))
}

/// Asserts that `text` is the fake provider's answer and that `prompt`
/// reached the provider. The answer need not contain the prompt, because
/// runtimes may rewrite the user's message (OpenClaw adds a timestamp).
fn assert_fake_answer(text: &str, prompt: &str, provider: &FakeProviderHandle) {
    assert!(text.starts_with("fake answer:"), "not the fake provider's answer: {text:?}");
    let reached = provider.requests().iter().any(|request| String::from_utf8_lossy(&request.body).contains(prompt));
    assert!(reached, "no request to the provider contained the prompt {prompt:?}");
}

/// Runs [`SDK_SCRIPT`] against `base_url` and returns its two JSON lines,
/// or the script's output when it failed.
async fn run_sdk(python: &Path, base_url: &str, key: &str, model: &str, plain: &str, stream: &str) -> Result<(Value, Value), String> {
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), SDK_SCRIPT).unwrap();
    let output = tokio::process::Command::new(python)
        .arg(script.path())
        .env("CHAT_BASE_URL", base_url)
        .env("CHAT_API_KEY", key)
        .env("CHAT_MODEL", model)
        .env("CHAT_PROMPT_PLAIN", plain)
        .env("CHAT_PROMPT_STREAM", stream)
        // All traffic stays on loopback, never through a configured proxy.
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("the SDK script failed ({}):\nstdout:\n{stdout}\nstderr:\n{}", output.status, tail(&stderr)));
    }
    let lines: Vec<Value> = stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    Ok((lines[0].clone(), lines[1].clone()))
}

/// Tokens a provider reported for some responses.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Reported {
    requests: u64,
    input: u64,
    output: u64,
    cached: u64,
}

impl Reported {
    fn add(&mut self, other: Reported) {
        self.requests += other.requests;
        self.input += other.input;
        self.output += other.output;
        self.cached += other.cached;
    }

    /// Cost at the shipped price table, computed apart from the gateway's
    /// code; `None` for a model the table lacks.
    fn cost(self, provider: &str, model: &str) -> Option<f64> {
        let table = PriceTable::builtin();
        let price = table.lookup(provider, model)?;
        let cached_price = price.cached_input.unwrap_or(price.input);
        Some(
            ((self.input - self.cached) as f64 * price.input
                + self.cached as f64 * cached_price
                + self.output as f64 * price.output)
                / 1e6,
        )
    }
}

/// Sends a recorded LLM request to the fake provider again, without
/// streaming, and returns the provider and model it named and the usage the
/// provider reports for it. The fake provider's counts depend only on the
/// request body, so the replay reports what the original response did.
/// Returns `None` for requests that use no tokens, such as model lists.
async fn replay_usage(client: &Client, provider: &FakeProviderHandle, request: &RecordedRequest) -> Option<(String, String, Reported)> {
    let mut body = request.body_json();
    let url = format!("{}{}", provider.base_url, request.path);
    if request.path.ends_with("/chat/completions") {
        body["stream"] = json!(false);
        body.as_object_mut().unwrap().remove("stream_options");
        let response: Value = client.post(&url).bearer_auth(PROVIDER_KEY).json(&body).send().await.unwrap().json().await.unwrap();
        let usage = &response["usage"];
        let reported = Reported {
            requests: 1,
            input: usage["prompt_tokens"].as_u64().unwrap(),
            output: usage["completion_tokens"].as_u64().unwrap(),
            cached: usage["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap(),
        };
        return Some(("openai".into(), body["model"].as_str().unwrap().to_string(), reported));
    }
    if request.path.ends_with("/messages") {
        body["stream"] = json!(false);
        let response: Value = client
            .post(&url)
            .header("x-api-key", PROVIDER_KEY)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let usage = &response["usage"];
        // Anthropic reports uncached input apart from cache reads.
        let cached = usage["cache_read_input_tokens"].as_u64().unwrap();
        let reported = Reported {
            requests: 1,
            input: usage["input_tokens"].as_u64().unwrap() + cached,
            output: usage["output_tokens"].as_u64().unwrap(),
            cached,
        };
        return Some(("anthropic".into(), body["model"].as_str().unwrap().to_string(), reported));
    }
    assert!(!request.path.ends_with("/responses"), "a runtime used the Responses API, which this test does not meter");
    None
}

/// Sums the provider's reports per `provider/model` over every metered
/// request it has received.
async fn provider_usage(client: &Client, provider: &FakeProviderHandle) -> BTreeMap<String, Reported> {
    let recorded = provider.requests();
    let mut usage: BTreeMap<String, Reported> = BTreeMap::new();
    for request in &recorded {
        if let Some((provider_name, model, reported)) = replay_usage(client, provider, request).await {
            usage.entry(format!("{provider_name}/{model}")).or_default().add(reported);
        }
    }
    usage
}

/// Returns the runtime lines a log follow stream delivers, as parsed `log`
/// events, through a channel fed by a background task.
async fn follow_logs(api: &Api<'_>, id: &str) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
    let client = Client::new();
    let response = client
        .get(api.server.url(&format!("/v1/agents/{id}/logs")))
        .query(&[("follow", "true"), ("tail", "0")])
        .header("X-API-Key", &api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");

    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut response = response;
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let kind = event.lines().find_map(|line| line.strip_prefix("event:")).map(str::trim);
                let data: String = event.lines().filter_map(|line| line.strip_prefix("data:")).map(str::trim_start).collect();
                if kind == Some("log") {
                    if sender.send(serde_json::from_str(&data).unwrap()).is_err() {
                        return;
                    }
                } else if kind.is_some() {
                    eprintln!("log stream event {kind:?}: {data}");
                }
            }
        }
    });
    receiver
}

/// Lists the files under `dirs` that contain `needle`, with `grep`, which
/// does not follow symbolic links inside the directories.
async fn files_containing(dirs: &[PathBuf], needle: &str) -> Vec<String> {
    let output = tokio::process::Command::new("grep")
        .args(["-r", "-l", "-F", "-a", "--devices=skip", "-e", needle, "--"])
        .args(dirs)
        .output()
        .await
        .unwrap();
    // 0: matches, 1: none; 2 can also mean an unreadable file, such as a
    // socket, so the list of matches decides.
    let code = output.status.code();
    assert!(matches!(code, Some(0..=2)), "grep failed: {}", String::from_utf8_lossy(&output.stderr));
    if code == Some(2) {
        eprintln!("grep reported errors: {}", tail(&String::from_utf8_lossy(&output.stderr)));
    }
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect()
}

/// Checks that the provider key is in no file of the sandbox, no process
/// environment or command line in it, the server's log or the logs API.
async fn assert_key_not_leaked(api: &Api<'_>, id: &str) {
    let data_dir = &api.server.data_dir;
    let sandbox_dir = data_dir.join("sandboxes").join("sandboxes").join(id);
    let volume = data_dir.join("volumes").join(id);
    let merged = sandbox_dir.join("merged");
    assert!(merged.join("usr").is_dir(), "the sandbox's merged root file system is not at {}", merged.display());
    assert!(volume.is_dir(), "no volume at {}", volume.display());

    // The merged root shows the image and the sandbox's writes; the sandbox
    // directory also holds the OCI bundle, whose config.json names the
    // process environment, and the console logs.
    let found = files_containing(&[sandbox_dir.clone(), volume.clone()], PROVIDER_KEY).await;
    assert!(found.is_empty(), "the provider key is in sandbox files: {found:?}");
    // The check above must be able to find a secret that is there: the
    // gateway token, which the runtime needs, is in its config.
    let gateway_token = gateway_token_in_volume(&volume);
    let with_token = files_containing(&[volume.clone()], &gateway_token).await;
    assert!(!with_token.is_empty(), "the file search did not find the gateway token in the volume");

    // The store encrypts provider keys at rest.
    let store_files: Vec<PathBuf> = std::fs::read_dir(data_dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.file_name().unwrap().to_string_lossy().starts_with("gopilot.db"))
        .collect();
    assert!(!store_files.is_empty(), "no gopilot.db in {}", data_dir.display());
    let found = files_containing(&store_files, PROVIDER_KEY).await;
    assert!(found.is_empty(), "the provider key is stored in plain text: {found:?}");

    let pids = sandbox_pids(id);
    assert!(!pids.is_empty(), "no processes in the sandbox's pids cgroup");
    let mut environments_read = 0;
    for pid in &pids {
        for file in ["environ", "cmdline"] {
            let Ok(bytes) = std::fs::read(format!("/proc/{pid}/{file}")) else { continue };
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(PROVIDER_KEY), "the provider key is in /proc/{pid}/{file}");
            if file == "environ" && text.contains("HOME=") {
                environments_read += 1;
            }
        }
    }
    assert!(environments_read > 0, "no environment of the sandbox's processes {pids:?} could be read");

    let server_log = api.server.stderr();
    assert!(!server_log.is_empty());
    assert!(!server_log.contains(PROVIDER_KEY), "the provider key is in the server log");

    let response = api
        .client
        .get(api.server.url(&format!("/v1/agents/{id}/logs")))
        .query(&[("tail", "10000")])
        .header("X-API-Key", &api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let logs = response.text().await.unwrap();
    let entries: Value = serde_json::from_str(&logs).unwrap();
    assert!(!entries["data"].as_array().unwrap().is_empty(), "the logs API returned no entries: {logs}");
    assert!(!logs.contains(PROVIDER_KEY), "the provider key is in the logs API output");
    eprintln!("{id}: provider key absent from {} processes, sandbox files, server log and logs API", pids.len());
}

/// Reads the gateway token that the rendered config gives the runtime.
fn gateway_token_in_volume(volume: &Path) -> String {
    if let Ok(text) = std::fs::read_to_string(volume.join("openclaw.json")) {
        let config: Value = serde_json::from_str(&text).unwrap();
        let providers = config["models"]["providers"].as_object().unwrap();
        let first = providers.values().next().unwrap();
        return first["apiKey"].as_str().unwrap().to_string();
    }
    let config = std::fs::read_to_string(volume.join("config.yaml")).unwrap();
    let env = std::fs::read_to_string(volume.join(".env")).unwrap();
    let from_config = config.lines().find_map(|line| line.trim().strip_prefix("api_key:")).map(|v| v.trim().to_string());
    let from_env = env.lines().find_map(|line| line.strip_prefix("ANTHROPIC_API_KEY=")).map(str::to_string);
    from_config.or(from_env).expect("the Hermes config names a gateway token")
}

/// Polls the agent's usage by model until it has recorded `requests`, since
/// the gateway records a streamed response after its last chunk.
async fn wait_usage(api: &Api<'_>, id: &str, requests: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, usage) = api.call(Method::GET, &format!("/v1/agents/{id}/usage?group_by=model"), None).await;
        assert_eq!(status, StatusCode::OK, "{usage}");
        if usage["totals"]["requests"] == requests || Instant::now() > deadline {
            assert_eq!(usage["totals"]["requests"], requests, "recorded requests: {usage}");
            return usage;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks that the agent's usage by model equals the fake provider's reports.
async fn assert_usage_matches(api: &Api<'_>, id: &str, provider: &FakeProviderHandle) {
    let expected = provider_usage(&api.client, provider).await;
    let requests: u64 = expected.values().map(|reported| reported.requests).sum();
    assert!(requests > 0, "the fake provider received no chat requests");
    let usage = wait_usage(api, id, requests).await;

    let buckets = usage["data"].as_array().unwrap();
    let keys: Vec<&str> = buckets.iter().map(|bucket| bucket["key"].as_str().unwrap()).collect();
    let expected_keys: Vec<&str> = expected.keys().map(String::as_str).collect();
    assert_eq!(keys, expected_keys, "{usage}");

    let mut total_cost = 0.0;
    for bucket in buckets {
        let key = bucket["key"].as_str().unwrap();
        let reported = expected[key];
        assert_eq!(bucket["requests"], reported.requests, "{key}: {bucket}");
        assert_eq!(bucket["input_tokens"], reported.input, "{key}: {bucket}");
        assert_eq!(bucket["output_tokens"], reported.output, "{key}: {bucket}");
        assert_eq!(bucket["cached_tokens"], reported.cached, "{key}: {bucket}");
        let (provider_name, model) = key.split_once('/').unwrap();
        let Some(cost) = reported.cost(provider_name, model) else {
            // Runtimes may call helper models of their own choosing (OpenClaw
            // does); a model missing from the table records tokens only.
            assert!(bucket["cost_usd"].is_null(), "{key} is not in the price table: {bucket}");
            assert_eq!(bucket["cost_complete"], false, "{bucket}");
            eprintln!("{id}: {key}: {reported:?}, no price");
            continue;
        };
        let actual = bucket["cost_usd"].as_f64().unwrap_or_else(|| panic!("cost_usd is not a number: {bucket}"));
        assert!((actual - cost).abs() < 1e-12, "{key}: cost {actual} != price table's {cost}");
        assert_eq!(bucket["cost_complete"], true, "{bucket}");
        total_cost += cost;
        eprintln!("{id}: {key}: {reported:?}, cost {cost} USD");
    }
    let totals = &usage["totals"];
    assert!((totals["cost_usd"].as_f64().unwrap() - total_cost).abs() < 1e-12, "{totals}");
}

/// Everything the fake provider received carried the real provider key.
fn assert_provider_saw_key(provider: &FakeProviderHandle) {
    for request in provider.requests() {
        let bearer = request.header("authorization").map(|value| value.trim_start_matches("Bearer ").to_string());
        let key = request.header("x-api-key").map(str::to_string).or(bearer);
        assert_eq!(key.as_deref(), Some(PROVIDER_KEY), "{} {} reached the provider without the key", request.method, request.path);
    }
}

/// Deletes the agent when a check fails, so that a failed test does not leave
/// its sandbox running after the server is killed.
struct DeleteOnPanic {
    url: String,
    key: String,
}

impl Drop for DeleteOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let (url, key) = (self.url.clone(), self.key.clone());
        // Drop runs inside the test's runtime, so the request gets a runtime
        // of its own on another thread.
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let client = Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
                client.delete(&url).header("X-API-Key", &key).send().await.map(|response| response.status())
            })
        })
        .join();
        eprintln!("deleted the agent after a failed check: {deleted:?}");
    }
}

/// Chats through the SDK, then checks logs, pause, usage, secrets and stop.
async fn drive_chat(runtime: &str, net: u8, model: &str, llm_provider: &str) {
    let python = sdk_python().await;
    let provider = FakeProvider::start(FakeProviderConfig {
        expected_api_key: Some(PROVIDER_KEY.into()),
        cached_tokens: CACHED_TOKENS,
        // OpenClaw appends its own context as the last user message and
        // strips it from the answer, which breaks an echo of that message.
        echo: Echo::FirstUserMessage,
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let server = start_server(net, &provider);
    let api = Api::new(&server);

    let body = json!({
        "name": format!("Chat {runtime}"),
        "model": model,
        "runtime_kind": runtime,
        "llm_keys": [{ "provider": llm_provider, "api_key": PROVIDER_KEY }]
    });
    let (status, agent) = api.call(Method::POST, "/v1/agents", Some(body)).await;
    assert!(status == StatusCode::CREATED || status == StatusCode::ACCEPTED, "{status}: {agent}");
    let id = agent["id"].as_str().unwrap().to_string();
    let _cleanup = DeleteOnPanic { url: server.url(&format!("/v1/agents/{id}")), key: api.key.clone() };
    api.wait_status(&id, "running", Duration::from_secs(240)).await;

    // The official SDK, with GoPilot as its base URL and the agent as model.
    let plain_prompt = format!("plain question for {runtime} alpha");
    let stream_prompt = format!("streamed question for {runtime} bravo");
    let started = Instant::now();
    let sdk = run_sdk(&python, &server.url("/v1"), &api.key, &id, &plain_prompt, &stream_prompt).await;
    let (plain, streamed) = sdk.unwrap_or_else(|error| {
        let requests: Vec<String> = provider.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
        panic!("{error}\nprovider requests: {requests:?}\nserver log:\n{}", tail(&server.stderr()))
    });
    eprintln!("{runtime}: SDK chats took {:.1} s: {plain} {streamed}", started.elapsed().as_secs_f64());
    assert_fake_answer(plain["text"].as_str().unwrap(), &plain_prompt, &provider);

    // Invalid requests get the documented errors.
    let (status, error) = api.call(Method::POST, &format!("/v1/agents/{id}/chat/completions"), Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    let missing = json!({"model": "agnosuchagent0000", "messages": [{"role": "user", "content": "hi"}]});
    let (status, error) = api.call(Method::POST, "/v1/chat/completions", Some(missing)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(error["error"]["type"], "not_found_error");

    // A follow stream delivers a line the runtime writes after it opened.
    // Runtimes do not reliably print on a chat (Hermes logs to files), so
    // the test writes a marker into the runtime process's own stdout pipe,
    // the path every runtime line takes to the guest.
    let mut logs = follow_logs(&api, &id).await;
    let log_prompt = format!("question while following logs {runtime} charlie");
    let (status, answer) = api.chat(&id, &log_prompt).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_fake_answer(completion_text(&answer), &log_prompt, &provider);

    let marker = format!("follow-marker-{runtime}-{}", std::process::id());
    let runtime_pid = runtime_process(&id).expect("the sandbox runs a runtime process under the guest");
    {
        use std::io::Write;
        let mut stdout = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/proc/{runtime_pid}/fd/1"))
            .expect("the runtime's stdout is a pipe the test can write to");
        writeln!(stdout, "{marker}").unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let line = loop {
        let entry = tokio::time::timeout_at(deadline, logs.recv())
            .await
            .unwrap_or_else(|_| panic!("the runtime's line {marker:?} did not arrive on the follow stream within 30 s"))
            .expect("the follow stream ended");
        eprintln!("{runtime}: followed {entry}");
        if entry["source"] == "runtime" && entry["stream"] == "stdout" && entry["line"].as_str().unwrap_or("").contains(&marker) {
            break entry;
        }
    };
    assert!(line["ts"].is_string(), "{line}");
    drop(logs);

    // A chat to a paused agent resumes it and answers.
    let (status, paused) = api.call(Method::POST, &format!("/v1/agents/{id}/pause"), None).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(api.status_of(&id).await, "paused");
    let paused_prompt = format!("question to a paused {runtime} delta");
    let (status, answer) = api.chat(&id, &paused_prompt).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_fake_answer(completion_text(&answer), &paused_prompt, &provider);
    assert_eq!(api.status_of(&id).await, "running");

    assert_provider_saw_key(&provider);
    assert_usage_matches(&api, &id, &provider).await;
    assert_key_not_leaked(&api, &id).await;

    // A stopped agent rejects chats on both routes.
    let (status, stopped) = api.call(Method::POST, &format!("/v1/agents/{id}/stop"), None).await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    let (status, error) = api.chat(&id, "are you there").await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["error"]["code"], "agent_not_running");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    let by_model = json!({"model": id, "messages": [{"role": "user", "content": "are you there"}]});
    let (status, error) = api.call(Method::POST, "/v1/chat/completions", Some(by_model)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(error["error"]["code"], "agent_not_running");
    assert_eq!(api.status_of(&id).await, "stopped", "a refused chat must not start the agent");

    let (status, _) = api.call(Method::DELETE, &format!("/v1/agents/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);

    // Checked last so that a failed stream does not hide the checks above.
    assert!(streamed["error"].is_null(), "the streamed SDK chat failed: {streamed}");
    assert_fake_answer(streamed["text"].as_str().unwrap(), &stream_prompt, &provider);
    assert!(streamed["chunks"].as_u64().unwrap() > 1, "the stream came in one chunk: {streamed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openclaw_chat_through_sdk() {
    drive_chat("openclaw", 210, "openai/gpt-4o", "openai").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hermes_chat_through_sdk() {
    drive_chat("hermes", 211, "openai/gpt-4o", "openai").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openclaw_anthropic_chat_through_sdk() {
    drive_chat("openclaw", 212, "anthropic/claude-sonnet-4-6", "anthropic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hermes_anthropic_chat_through_sdk() {
    drive_chat("hermes", 213, "anthropic/claude-sonnet-4-6", "anthropic").await;
}
