//! Test harness: runs the real `gopilot` binary on a temporary data
//! directory and a free loopback port.

#![allow(dead_code)]

pub mod runc;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gopilot");

/// A running `gopilot serve`, killed on drop.
pub struct Server {
    pub base_url: String,
    pub data_dir: PathBuf,
    /// The key printed at first start, when this start printed one.
    pub first_key: Option<String>,
    /// The first key printed on this data directory, kept across restarts.
    pub admin_key: Option<String>,
    child: Child,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    env: Vec<(String, String)>,
    /// Commands run after the server is killed at drop, to remove host
    /// state that the server keeps on purpose across its restarts.
    pub cleanup: Vec<Vec<String>>,
    generation: u32,
    _tmp: Option<tempfile::TempDir>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Starts a server on a new data directory.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server on a new data directory with extra `GOPILOT_*` settings.
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut server = Server::spawn(&data_dir, env, 0);
        server._tmp = Some(tmp);
        server
    }

    fn spawn(data_dir: &Path, env: Vec<(String, String)>, generation: u32) -> Server {
        fs::create_dir_all(data_dir).unwrap();
        let port = free_port();
        let stdout_path = data_dir.join(format!("../stdout-{generation}.txt"));
        let stderr_path = data_dir.join(format!("../stderr-{generation}.txt"));

        let mut command = Command::new(BIN);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env("GOPILOT_LOG", "debug,sqlx=warn,hyper=info,h2=info")
            // API tests keep agents as records; lifecycle tests set runc.
            .env("GOPILOT_SANDBOX__BACKEND", "none")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout_path).unwrap())
            .stderr(fs::File::create(&stderr_path).unwrap());
        let with_sandboxes = env.iter().any(|(key, value)| key == "GOPILOT_SANDBOX__BACKEND" && value == "runc");
        if !with_sandboxes {
            // Without sandboxes there is no bridge address for the LLM gateway.
            command.env("GOPILOT_GATEWAY__LISTEN", "127.0.0.1:0");
        }
        for (key, value) in &env {
            command.env(key, value);
        }
        let child = command.spawn().expect("gopilot binary starts");

        let mut server = Server {
            base_url: format!("http://127.0.0.1:{port}"),
            data_dir: data_dir.to_path_buf(),
            first_key: None,
            admin_key: None,
            child,
            stdout_path,
            stderr_path,
            env,
            cleanup: Vec::new(),
            generation,
            _tmp: None,
        };
        server.wait_ready();
        server.first_key = find_key(&server.stdout());
        server.admin_key = server.first_key.clone();
        server
    }

    /// Starts a server on a new data directory after `prepare` has set the
    /// directory up.
    pub fn start_prepared(prepare: impl FnOnce(&Path), env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        prepare(&data_dir);
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut server = Server::spawn(&data_dir, env, 0);
        server._tmp = Some(tmp);
        server
    }

    /// Kills the server with SIGKILL, leaving whatever it was doing
    /// unfinished, and starts another on the same data directory.
    pub fn kill_and_restart(mut self) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.respawn()
    }

    fn respawn(&mut self) -> Server {
        let mut next = Server::spawn(&self.data_dir, self.env.clone(), self.generation + 1);
        next.admin_key = self.admin_key.clone();
        next.cleanup = std::mem::take(&mut self.cleanup);
        next._tmp = self._tmp.take();
        next
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}/readyz", self.base_url);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("gopilot serve exited with {status}; stderr:\n{}", self.stderr());
            }
            if let Ok(response) = reqwest::blocking_get(&url) {
                if response == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("gopilot serve did not become ready in 30 s; stderr:\n{}", self.stderr());
    }

    /// Stops this server and starts another on the same data directory.
    pub fn restart(mut self) -> Server {
        self.stop();
        self.respawn()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(&mut self) {
        let pid = self.child.id() as i32;
        unsafe_kill(pid, 15);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Runs `gopilot ARGS` against this server's data directory.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let output = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .expect("gopilot binary runs");
        output
    }

    /// Creates a key with `scopes` (comma-separated) and returns it.
    pub fn create_key(&self, scopes: &str) -> String {
        self.create_key_for(None, scopes)
    }

    pub fn create_key_for(&self, account: Option<&str>, scopes: &str) -> String {
        let mut args = vec!["keys", "create", "--name", "test", "--scopes", scopes];
        if let Some(account) = account {
            args.extend(["--account", account]);
        }
        let output = self.cli(&args);
        assert!(output.status.success(), "keys create failed: {}", String::from_utf8_lossy(&output.stderr));
        find_key(&String::from_utf8_lossy(&output.stdout)).expect("keys create prints a key")
    }

    pub fn create_account(&self, name: &str) -> String {
        let output = self.cli(&["accounts", "create", "--name", name]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for command in &self.cleanup {
            let _ = Command::new(&command[0]).args(&command[1..]).stderr(Stdio::null()).status();
        }
    }
}

fn unsafe_kill(pid: i32, signal: i32) {
    // `kill` from util-linux keeps the test free of libc bindings.
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
}

/// Returns the first `gopt_live_...` key in `text`.
pub fn find_key(text: &str) -> Option<String> {
    let start = text.find("gopt_live_")?;
    let key: String = text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    Some(key)
}

/// Counts the `gopt_live_` keys printed in `text`.
pub fn count_keys(text: &str) -> usize {
    text.matches("gopt_live_").count()
}

mod reqwest {
    /// Minimal blocking GET over a raw TCP connection, for readiness polling
    /// without a second HTTP client runtime. Returns the status code.
    pub fn blocking_get(url: &str) -> std::io::Result<u16> {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").expect("http URL");
        let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
        let mut stream = std::net::TcpStream::connect(host)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok(status)
    }
}

/// The quickstart body from the public API reference.
pub fn quickstart_body() -> serde_json::Value {
    serde_json::json!({
        "name": "Support Bot",
        "model": "anthropic/claude-sonnet-4-6",
        "description": "Handles customer support",
        "llm_keys": [{ "provider": "anthropic", "api_key": "sk-ant-test-QUICKSTARTSECRET-9876" }]
    })
}
