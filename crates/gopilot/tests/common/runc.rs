//! Servers with runc sandboxes and what tests read of their sandboxes
//! (cgroups, processes). Needs root and the runtime images that
//! `scripts/test` builds into `GOPILOT_TEST_IMAGE_DIR`.

use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Server;

/// Starts a server with runc sandboxes on the network `10.231.<net>.0/24`,
/// with its own bridge and nftables table named after `name` and `net`, and
/// the run's image cache. `extra_env` adds or overrides settings.
pub fn start_runc_server(name: &str, net: u8, extra_env: &[(&str, &str)]) -> Server {
    let images = std::env::var("GOPILOT_TEST_IMAGE_DIR")
        .expect("GOPILOT_TEST_IMAGE_DIR is not set; run the suite with scripts/test, which builds the images");
    let subnet = format!("10.231.{net}.0/24");
    let bridge = format!("gp{name}{net}");
    let table = format!("gopilot_{name}{net}");
    let mut env: Vec<(&str, &str)> = vec![
        ("GOPILOT_SANDBOX__BACKEND", "runc"),
        ("GOPILOT_SANDBOX__SUBNET", &subnet),
        ("GOPILOT_SANDBOX__BRIDGE", &bridge),
        ("GOPILOT_SANDBOX__NFT_TABLE", &table),
        ("GOPILOT_LIFECYCLE__CREATE_WAIT_SECS", "120"),
        ("GOPILOT_LIFECYCLE__STOP_GRACE_SECS", "5"),
        ("GOPILOT_LIFECYCLE__RECONCILE_INTERVAL_MS", "1000"),
    ];
    env.extend_from_slice(extra_env);

    let mut server = Server::start_prepared(
        |data_dir| {
            std::fs::create_dir_all(data_dir).unwrap();
            std::os::unix::fs::symlink(Path::new(&images).join("images"), data_dir.join("images")).unwrap();
        },
        &env,
    );

    // The bridge and the nftables tables outlive a server by design, so
    // that a restart keeps its agents' network; a test removes them.
    let command = |args: &[&str]| args.iter().map(|arg| arg.to_string()).collect::<Vec<String>>();
    server.cleanup = vec![
        command(&["ip", "link", "del", &bridge]),
        command(&["nft", "delete", "table", "inet", &table]),
        command(&["nft", "delete", "table", "bridge", &table]),
    ];
    server
}

/// An API client with the server's first key.
pub struct Api<'a> {
    pub server: &'a Server,
    pub client: Client,
    pub key: String,
}

impl<'a> Api<'a> {
    pub fn new(server: &'a Server) -> Api<'a> {
        let key = server.admin_key.clone().unwrap();
        let client = Client::builder().timeout(Duration::from_secs(300)).build().unwrap();
        Api { server, client, key }
    }

    /// Sends a request; the body comes back as JSON, or as a JSON string
    /// when it is not JSON. A 5xx prints the server log's tail.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.server.url(path)).header("X-API-Key", &self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        if status.is_server_error() {
            eprintln!("{path} returned {status}; server log:\n{}", tail(&self.server.stderr()));
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Returns the agent's status, or an empty string when it is gone.
    pub async fn status_of(&self, id: &str) -> String {
        let (_, agent) = self.call(Method::GET, &format!("/v1/agents/{id}"), None).await;
        agent["status"].as_str().unwrap_or("").to_string()
    }

    pub async fn wait_status(&self, id: &str, expected: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let (_, agent) = self.call(Method::GET, &format!("/v1/agents/{id}"), None).await;
            if agent["status"] == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "agent {id} did not reach {expected}: {agent}\nserver log:\n{}",
                tail(&self.server.stderr())
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub async fn action(&self, id: &str, action: &str) -> (StatusCode, Value) {
        self.call(Method::POST, &format!("/v1/agents/{id}/{action}"), None).await
    }

    /// Sends one non-streamed chat to the agent's chat route.
    pub async fn chat(&self, id: &str, prompt: &str) -> (StatusCode, Value) {
        let body = json!({"messages": [{"role": "user", "content": prompt}]});
        self.call(Method::POST, &format!("/v1/agents/{id}/chat/completions"), Some(body)).await
    }
}

/// Returns the last 60 lines of a log.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// The sandbox backend's per-sandbox state directory.
pub fn sandbox_dir(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("sandboxes").join("sandboxes").join(id)
}

/// Finds the sandbox's cgroup directory in one controller hierarchy.
pub fn cgroup_dir(controller: &str, id: &str) -> Option<PathBuf> {
    let name = format!("gopilot-{id}");
    find_dir(&Path::new("/sys/fs/cgroup").join(controller), &name, 4)
}

fn find_dir(dir: &Path, name: &str, depth: u32) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            continue;
        }
        if entry.file_name() == name {
            return Some(path);
        }
        if depth > 0 {
            if let Some(found) = find_dir(&path, name, depth - 1) {
                return Some(found);
            }
        }
    }
    None
}

/// Returns the pids in the sandbox's cgroup, sorted.
pub fn sandbox_pids(id: &str) -> Vec<u32> {
    let Some(dir) = cgroup_dir("pids", id) else { return Vec::new() };
    let text = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    let mut pids: Vec<u32> = text.lines().filter_map(|line| line.trim().parse().ok()).collect();
    pids.sort();
    pids
}

/// Returns the pid of the runtime: the sandbox's process whose parent is
/// the guest supervisor.
pub fn runtime_process(id: &str) -> Option<u32> {
    let pids = sandbox_pids(id);
    let comm = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string();
    let parent = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("PPid:").and_then(|v| v.trim().parse::<u32>().ok()))
    };
    let guest = pids.iter().copied().find(|pid| comm(*pid) == "gopilot-guest")?;
    pids.into_iter().find(|pid| parent(*pid) == Some(guest))
}
