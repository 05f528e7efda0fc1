//! A runtime process started inside an image for a test, killed with its
//! whole process group when dropped.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use gopilot_runtimes::image::ChrootCommand;

pub struct RuntimeProcess {
    child: Child,
    log: PathBuf,
    pub started: Instant,
}

impl RuntimeProcess {
    /// Spawns `command` in its own process group with stdout and stderr
    /// going to `log`.
    pub fn spawn(command: ChrootCommand, log: &Path) -> RuntimeProcess {
        let file = File::create(log).expect("create runtime log");
        let mut command = command.into_command();
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0);
        let started = Instant::now();
        let child = command.spawn().expect("spawn runtime");
        RuntimeProcess {
            child,
            log: log.to_path_buf(),
            started,
        }
    }

    /// Polls `url` until `is_ready` accepts the status and body, and returns
    /// the time since spawn. Panics with the runtime's log on timeout or exit.
    pub fn wait_ready(
        &mut self,
        url: &str,
        timeout: Duration,
        is_ready: impl Fn(u16, &str) -> bool,
    ) -> Duration {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = self.started + timeout;
        loop {
            if let Ok(response) = client.get(url).send() {
                let status = response.status().as_u16();
                let body = response.text().unwrap_or_default();
                if is_ready(status, &body) {
                    return self.started.elapsed();
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "runtime exited with {status} before {url} was ready; log:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{url} not ready after {timeout:?}; log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for RuntimeProcess {
    fn drop(&mut self) {
        // The group contains unshare and every process in the image. Also,
        // unshare's --kill-child takes the PID namespace down with it.
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Returns a free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
