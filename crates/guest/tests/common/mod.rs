//! Runs the real `gopilot-guest` binary as a child process for the tests.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token-0123456789abcdef0123456789";

pub fn guest_binary() -> &'static str {
    env!("CARGO_BIN_EXE_gopilot-guest")
}

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Builds a config for a shell-script runtime, with short backoffs, in `dir`.
pub fn base_config(dir: &Path, script: &str) -> Value {
    json!({
        "command": ["/bin/sh", "-c", script],
        "env": {"TEST_DIR": dir.display().to_string()},
        "workdir": dir.display().to_string(),
        "api_listen": format!("127.0.0.1:{}", free_port()),
        "api_token": TOKEN,
        "workspace_root": dir.join("workspace").display().to_string(),
        "hidden_files": [".env", ".gopilot"],
        "log_path": dir.join("logs/runtime.log").display().to_string(),
        "restart": {"initial_backoff_ms": 200, "max_backoff_ms": 1600, "reset_after_ms": 10000},
        "stop_grace_ms": 5000,
    })
}

/// Writes `config` to `dir/guest.json` and returns its path.
pub fn write_config(dir: &Path, config: &Value) -> PathBuf {
    let path = dir.join("guest.json");
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    path
}

/// A running guest; dropping it stops the guest with SIGTERM (then SIGKILL).
pub struct Guest {
    pub child: Child,
    pub base_url: String,
    pub client: reqwest::Client,
}

impl Guest {
    /// Starts the guest with `config` and waits until its API responds.
    pub async fn start(dir: &Path, config: &Value) -> Guest {
        let path = write_config(dir, config);
        let mut command = Command::new(guest_binary());
        command.arg("--config").arg(&path);
        Guest::start_command(command, config).await
    }

    /// Starts `command` (the guest, possibly behind a wrapper such as `unshare`).
    pub async fn start_command(mut command: Command, config: &Value) -> Guest {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn gopilot-guest");
        let guest = Guest {
            child,
            base_url: format!("http://{}", config["api_listen"].as_str().unwrap()),
            client: reqwest::Client::new(),
        };

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if guest
                .client
                .get(guest.url("/v1/status"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .is_ok()
            {
                return guest;
            }
            assert!(
                Instant::now() < deadline,
                "gopilot-guest API did not come up within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path} returned {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn status(&self) -> Value {
        self.get_json("/v1/status").await
    }

    pub async fn logs(&self) -> Vec<Value> {
        self.get_json("/v1/logs").await.as_array().unwrap().clone()
    }

    /// Polls the logs until a line with `text` on `stream` appears.
    pub async fn wait_for_line(&self, stream: &str, text: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.logs().await.into_iter().find(|line| {
                line["stream"] == stream && line["line"].as_str().unwrap().contains(text)
            }) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no {stream} line containing {text:?} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls the status until `check` accepts it.
    pub async fn wait_for_status(
        &self,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status().await;
            if check(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "status did not reach the expected value within {timeout:?}: {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Waits for the guest process to exit and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "gopilot-guest did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses an RFC 3339 timestamp from a log line.
pub fn parse_ts(value: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        value.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

/// Returns true while `/proc/<pid>` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => process_state(&stat) != Some('Z'),
        Err(_) => false,
    }
}

/// Returns the state letter of a `/proc/<pid>/stat` line (the field after the command name).
pub fn process_state(stat: &str) -> Option<char> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.trim_start().chars().next()
}

/// Returns the parent PID of a `/proc/<pid>/stat` line.
pub fn parent_pid(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}
