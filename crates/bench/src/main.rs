//! `gopilot-bench`: measures the latency that GoPilot adds on this machine.
//!
//! It starts a fake LLM provider on 127.0.0.1 and a real `gopilot serve`
//! with runc sandboxes on a private subnet, and creates one agent. Then it
//! sends sequential requests that alternate between two paths, so that drift
//! (a runtime's growing state, other load) affects both alike:
//!
//! - chat proxy: `POST /v1/agents/{id}/chat/completions` on GoPilot against
//!   `POST /v1/chat/completions` on the runtime in the sandbox, with the
//!   runtime token read from the rendered config in the agent's volume;
//! - LLM gateway: `POST /openai/v1/chat/completions` on the gateway, with the
//!   agent's gateway token read from the store, against the fake provider.
//!
//! Each latency runs from sending the request to reading the whole body. All
//! traffic stays on loopback and the sandbox bridge. Needs root and built
//! runtime images (`--image-dir`, a directory with `images/` in it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use base64::Engine;
use clap::Parser;
use gopilot_control::AgentService;
use gopilot_core::secret::SecretCipher;
use gopilot_fake_provider::{FakeProvider, FakeProviderConfig};
use gopilot_store::Store;
use reqwest::Client;
use serde_json::{json, Value};

/// Provider key given to the agent; the fake provider accepts no other.
const PROVIDER_KEY: &str = "sk-bench-provider-key-0b7e51";

#[derive(Debug, Parser)]
#[command(name = "gopilot-bench", version)]
struct Args {
    /// The `gopilot` binary to run; defaults to the one next to this binary.
    #[arg(long)]
    gopilot: Option<PathBuf>,
    /// Directory that contains the built runtime images under `images/`.
    #[arg(long, env = "GOPILOT_TEST_IMAGE_DIR")]
    image_dir: PathBuf,
    /// Runtime of the agent: `openclaw` or `hermes`.
    #[arg(long, default_value = "openclaw")]
    runtime: String,
    /// Model of the agent, `provider/name`; the provider gets a key.
    #[arg(long, default_value = "anthropic/claude-sonnet-4-6")]
    model: String,
    /// Requests per path in the chat proxy phase.
    #[arg(long, default_value_t = 200)]
    chat_requests: usize,
    /// Requests per path in the LLM gateway phase.
    #[arg(long, default_value_t = 200)]
    gateway_requests: usize,
    /// Time limit of each phase in seconds; a phase stops early at it.
    #[arg(long, default_value_t = 600)]
    phase_seconds: u64,
    /// Third octet of the sandbox subnet 10.231.N.0/24.
    #[arg(long, default_value_t = 220)]
    net: u8,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(nix::unistd::geteuid().is_root(), "gopilot-bench needs root to run runc sandboxes");
    let gopilot = match &args.gopilot {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("gopilot"),
    };
    ensure!(gopilot.is_file(), "no gopilot binary at {}; build it or pass --gopilot", gopilot.display());

    let provider = FakeProvider::start(FakeProviderConfig {
        expected_api_key: Some(PROVIDER_KEY.into()),
        ..FakeProviderConfig::default()
    })
    .await?;
    let server = ServerProcess::start(&gopilot, &args, &provider.base_url).await?;
    let result = run(&args, &server, &provider.base_url).await;
    server.stop();
    result
}

async fn run(args: &Args, server: &ServerProcess, provider_url: &str) -> anyhow::Result<()> {
    let client = Client::builder().no_proxy().timeout(Duration::from_secs(300)).build()?;
    let (provider_name, _) = args.model.split_once('/').context("--model must be provider/name")?;
    let mut llm_keys = vec![json!({"provider": provider_name, "api_key": PROVIDER_KEY})];
    if provider_name != "openai" {
        // The gateway phase uses the OpenAI route.
        llm_keys.push(json!({"provider": "openai", "api_key": PROVIDER_KEY}));
    }
    let body = json!({"name": "Bench", "model": args.model, "runtime_kind": args.runtime, "llm_keys": llm_keys});
    let started = Instant::now();
    let agent: Value = server.api(&client, reqwest::Method::POST, "/v1/agents", Some(body)).await?;
    let id = agent["id"].as_str().context("create returned no id")?.to_string();
    server.wait_running(&client, &id).await?;
    eprintln!("agent {id} ({}) running after {:.1} s", args.runtime, started.elapsed().as_secs_f64());

    let outcome = measure(args, server, &client, &id, provider_url).await;
    let delete = server.api(&client, reqwest::Method::DELETE, &format!("/v1/agents/{id}"), None).await;
    if let Err(error) = delete {
        eprintln!("deleting agent {id} failed: {error:#}");
    }
    outcome
}

async fn measure(args: &Args, server: &ServerProcess, client: &Client, id: &str, provider_url: &str) -> anyhow::Result<()> {
    let runtime = RuntimeEndpoint::read(&server.data_dir.join("volumes").join(id), &args.runtime)?;
    let gateway_token = gateway_token(&server.data_dir, id).await?;
    let gateway_url = format!("http://10.231.{}.1:8181/openai/v1/chat/completions", args.net);
    let provider_chat_url = format!("{provider_url}/v1/chat/completions");
    let proxy_url = format!("{}/v1/agents/{id}/chat/completions", server.base_url);

    let chat_body = |n: usize| json!({"messages": [{"role": "user", "content": format!("latency probe {n}")}]});
    let proxied = |n: usize| client.post(&proxy_url).header("X-API-Key", &server.key).json(&chat_body(n));
    let direct = |n: usize| {
        let mut body = chat_body(n);
        body["model"] = json!(runtime.model);
        client.post(&runtime.url).bearer_auth(&runtime.token).json(&body)
    };
    let (proxy_ms, direct_ms) = alternate(args.chat_requests, args.phase_seconds, proxied, direct).await?;
    report("chat proxy", "GoPilot /v1/agents/{id}/chat/completions", "runtime /v1/chat/completions", &proxy_ms, &direct_ms);

    let llm_body = |n: usize| json!({"model": "gpt-4o", "messages": [{"role": "user", "content": format!("gateway probe {n}")}]});
    let through_gateway = |n: usize| client.post(&gateway_url).bearer_auth(&gateway_token).json(&llm_body(n));
    let to_provider = |n: usize| client.post(&provider_chat_url).bearer_auth(PROVIDER_KEY).json(&llm_body(n));
    let (gateway_ms, provider_ms) =
        alternate(args.gateway_requests, args.phase_seconds, through_gateway, to_provider).await?;
    report("LLM gateway", "gateway /openai/v1/chat/completions", "fake provider /v1/chat/completions", &gateway_ms, &provider_ms);
    Ok(())
}

/// Sends `count` requests on each path, alternating, after two warm-up
/// requests per path, and returns the latencies in milliseconds. Stops
/// early after `seconds`.
async fn alternate(
    count: usize,
    seconds: u64,
    first: impl Fn(usize) -> reqwest::RequestBuilder,
    second: impl Fn(usize) -> reqwest::RequestBuilder,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    for n in 0..2 {
        timed(first(n)).await?;
        timed(second(n)).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut first_ms, mut second_ms) = (Vec::new(), Vec::new());
    for n in 0..count {
        if Instant::now() > deadline {
            eprintln!("time limit of {seconds} s reached after {n} requests per path");
            break;
        }
        first_ms.push(timed(first(n)).await?);
        second_ms.push(timed(second(n)).await?);
    }
    Ok((first_ms, second_ms))
}

/// Sends a request, reads the whole body and returns the milliseconds taken.
async fn timed(request: reqwest::RequestBuilder) -> anyhow::Result<f64> {
    let started = Instant::now();
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!("request failed with {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(elapsed)
}

/// Returns the nearest-rank percentile `p` (0 to 100) of `values`.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(phase: &str, via: &str, direct: &str, via_ms: &[f64], direct_ms: &[f64]) {
    let (via50, via99) = (percentile(via_ms, 50.0), percentile(via_ms, 99.0));
    let (direct50, direct99) = (percentile(direct_ms, 50.0), percentile(direct_ms, 99.0));
    println!("\n{phase}: {} requests per path, milliseconds", via_ms.len());
    println!("| Path | p50 | p99 |");
    println!("|---|---|---|");
    println!("| {via} | {via50:.2} | {via99:.2} |");
    println!("| {direct} | {direct50:.2} | {direct99:.2} |");
    println!("| added by the {phase} (difference) | {:.2} | {:.2} |", via50 - direct50, via99 - direct99);
}

/// The runtime's own chat endpoint, read from the rendered config.
struct RuntimeEndpoint {
    url: String,
    token: String,
    model: String,
}

impl RuntimeEndpoint {
    fn read(volume: &Path, runtime: &str) -> anyhow::Result<RuntimeEndpoint> {
        match runtime {
            "openclaw" => {
                let path = volume.join("openclaw.json");
                let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                let config: Value = serde_json::from_str(&text)?;
                let gateway = &config["gateway"];
                let host = gateway["customBindHost"].as_str().context("openclaw.json has no gateway.customBindHost")?;
                let port = gateway["port"].as_u64().context("openclaw.json has no gateway.port")?;
                let token = gateway["auth"]["token"].as_str().context("openclaw.json has no gateway.auth.token")?;
                Ok(RuntimeEndpoint {
                    url: format!("http://{host}:{port}/v1/chat/completions"),
                    token: token.to_string(),
                    model: "openclaw/default".into(),
                })
            }
            "hermes" => {
                let path = volume.join(".env");
                let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                let value = |name: &str| {
                    text.lines()
                        .find_map(|line| line.strip_prefix(&format!("{name}=")))
                        .map(str::to_string)
                        .with_context(|| format!("{} has no {name}", path.display()))
                };
                Ok(RuntimeEndpoint {
                    url: format!("http://{}:{}/v1/chat/completions", value("API_SERVER_HOST")?, value("API_SERVER_PORT")?),
                    token: value("API_SERVER_KEY")?,
                    model: value("API_SERVER_MODEL_NAME")?,
                })
            }
            other => bail!("unknown runtime {other:?}; use openclaw or hermes"),
        }
    }
}

/// Opens the agent's sealed gateway token with the server's master key.
async fn gateway_token(data_dir: &Path, id: &str) -> anyhow::Result<String> {
    let store = Store::connect(&Store::sqlite_url_for(data_dir)).await?;
    let master_key = std::fs::read_to_string(data_dir.join("master.key"))?;
    let master_key = base64::engine::general_purpose::STANDARD.decode(master_key.trim())?;
    let agents = AgentService::new(store.clone(), SecretCipher::new(&master_key)?);
    let row = store.get_agent_any_account(id).await?.with_context(|| format!("agent {id} is not in the store"))?;
    let token = agents.open(&row)?.gateway_token;
    store.close().await;
    Ok(token)
}

/// A `gopilot serve` child process on a temporary data directory.
struct ServerProcess {
    child: Child,
    base_url: String,
    data_dir: PathBuf,
    key: String,
    stderr_path: PathBuf,
    _tmp: tempfile::TempDir,
}

impl ServerProcess {
    async fn start(binary: &Path, args: &Args, provider_url: &str) -> anyhow::Result<ServerProcess> {
        let tmp = tempfile::tempdir()?;
        let data_dir = tmp.path().join("data");
        std::fs::create_dir_all(&data_dir)?;
        std::os::unix::fs::symlink(args.image_dir.join("images"), data_dir.join("images"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let stdout_path = tmp.path().join("stdout.txt");
        let stderr_path = tmp.path().join("stderr.txt");
        let upstream = format!("{provider_url}/v1");
        let net = args.net;

        let child = Command::new(binary)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&data_dir)
            .env("GOPILOT_LOG", "info")
            .env("GOPILOT_SANDBOX__BACKEND", "runc")
            .env("GOPILOT_SANDBOX__SUBNET", format!("10.231.{net}.0/24"))
            .env("GOPILOT_SANDBOX__BRIDGE", format!("gpbench{net}"))
            .env("GOPILOT_SANDBOX__NFT_TABLE", format!("gopilot_bench{net}"))
            .env("GOPILOT_GATEWAY__LISTEN", format!("10.231.{net}.1:8181"))
            .env("GOPILOT_GATEWAY__UPSTREAMS__OPENAI", &upstream)
            .env("GOPILOT_GATEWAY__UPSTREAMS__ANTHROPIC", &upstream)
            .env("GOPILOT_GATEWAY__UPSTREAMS__OPENROUTER", &upstream)
            .env("GOPILOT_LIFECYCLE__CREATE_WAIT_SECS", "120")
            // The benchmark must not be paused for idleness mid-run.
            .env("GOPILOT_LIFECYCLE__IDLE_PAUSE_SECS", "0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path)?)
            .stderr(std::fs::File::create(&stderr_path)?)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = ServerProcess {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            data_dir,
            key: String::new(),
            stderr_path,
            _tmp: tmp,
        };

        let client = Client::builder().no_proxy().build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("gopilot serve exited with {status}:\n{}", server.log_tail());
            }
            let ready = client.get(format!("{}/readyz", server.base_url)).send().await;
            if ready.is_ok_and(|response| response.status().is_success()) {
                break;
            }
            ensure!(Instant::now() < deadline, "gopilot serve was not ready in 60 s:\n{}", server.log_tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stdout = std::fs::read_to_string(&stdout_path)?;
        let start = stdout.find("gopt_live_").context("gopilot serve printed no API key")?;
        server.key = stdout[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        Ok(server)
    }

    async fn api(&self, client: &Client, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut request = client.request(method, format!("{}{path}", self.base_url)).header("X-API-Key", &self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "{path} returned {status}: {text}\n{}", self.log_tail());
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn wait_running(&self, client: &Client, id: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let agent = self.api(client, reqwest::Method::GET, &format!("/v1/agents/{id}"), None).await?;
            match agent["status"].as_str() {
                Some("running") => return Ok(()),
                Some("error") => bail!("agent {id} failed: {agent}\n{}", self.log_tail()),
                _ => {}
            }
            ensure!(Instant::now() < deadline, "agent {id} was not running in 300 s: {agent}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Sends SIGTERM and waits up to 30 s before killing the process.
    fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
