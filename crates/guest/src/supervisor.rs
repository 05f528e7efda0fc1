//! The runtime's lifecycle: spawn, capture output, restart with exponential
//! backoff after an exit, and stop it (SIGTERM to the group, SIGKILL after
//! the grace period) on request or at shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gopilot_guest_api::{
    ExitRecord, GuestConfig, LogStream, RestartPolicy, RuntimeSignal, RuntimeState, RuntimeStatus,
};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot, watch};

use crate::logs::{capture_lines, LogBook};
use crate::process::{group_alive, runtime_command, signal_group, signal_process};
use crate::reaper::{ProcessExit, Reaper};
use crate::timestamp::now_rfc3339;

/// How often a stopping runtime's process group is checked for survivors.
const GROUP_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Runtime status shared between the supervisor, the readiness check and the API.
pub type SharedStatus = Arc<watch::Sender<RuntimeStatus>>;

/// Failure of a runtime control request.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("the runtime is not running (state {state:?}); wait until it is starting or running")]
    NotRunning { state: RuntimeState },
    #[error("sending {signal} to runtime process {pid} failed: {source}")]
    SignalFailed {
        signal: &'static str,
        pid: u32,
        source: Errno,
    },
    #[error("the guest is shutting down and no longer controls the runtime")]
    ShuttingDown,
}

enum Request {
    Restart(oneshot::Sender<()>),
    Signal(RuntimeSignal, oneshot::Sender<Result<(), SupervisorError>>),
    Shutdown(oneshot::Sender<()>),
}

/// Cloneable access to the supervisor task for the API and the signal handler.
#[derive(Clone)]
pub struct SupervisorHandle {
    requests: mpsc::Sender<Request>,
    status: SharedStatus,
}

impl SupervisorHandle {
    pub fn status(&self) -> RuntimeStatus {
        self.status.borrow().clone()
    }

    pub fn shared_status(&self) -> SharedStatus {
        self.status.clone()
    }

    /// Stops the runtime (SIGTERM, then SIGKILL after the grace period) and
    /// starts it again at once. Returns after the new process was spawned.
    pub async fn restart(&self) -> Result<(), SupervisorError> {
        let (reply, done) = oneshot::channel();
        self.send(Request::Restart(reply)).await?;
        done.await.map_err(|_| SupervisorError::ShuttingDown)
    }

    /// Sends `signal` to the runtime process (not its whole group).
    pub async fn signal(&self, signal: RuntimeSignal) -> Result<(), SupervisorError> {
        let (reply, done) = oneshot::channel();
        self.send(Request::Signal(signal, reply)).await?;
        done.await.map_err(|_| SupervisorError::ShuttingDown)?
    }

    /// Stops the runtime for good and returns once it is gone.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.send(Request::Shutdown(reply)).await.is_ok() {
            let _ = done.await;
        }
    }

    async fn send(&self, request: Request) -> Result<(), SupervisorError> {
        self.requests
            .send(request)
            .await
            .map_err(|_| SupervisorError::ShuttingDown)
    }
}

/// End of one run of the runtime.
enum RunEnd {
    /// The process exited (or could not be spawned) after `uptime`.
    Exited { uptime: Duration },
    /// A restart request stopped it.
    Restarted(oneshot::Sender<()>),
    /// A shutdown request stopped it.
    Shutdown(Option<oneshot::Sender<()>>),
}

/// End of a backoff wait.
enum BackoffEnd {
    Elapsed,
    Restart(oneshot::Sender<()>),
    Shutdown(Option<oneshot::Sender<()>>),
}

struct Supervisor {
    config: Arc<GuestConfig>,
    reaper: Arc<Reaper>,
    logs: Arc<LogBook>,
    status: SharedStatus,
    requests: mpsc::Receiver<Request>,
    /// Reply to a restart request, sent once the next spawn was attempted.
    restart_reply: Option<oneshot::Sender<()>>,
}

/// Starts the supervisor task, which spawns the runtime right away.
pub fn start(
    config: Arc<GuestConfig>,
    reaper: Arc<Reaper>,
    logs: Arc<LogBook>,
) -> SupervisorHandle {
    let (requests_tx, requests) = mpsc::channel(16);
    let status: SharedStatus = Arc::new(watch::Sender::new(RuntimeStatus {
        state: RuntimeState::Starting,
        pid: None,
        started_at: None,
        restarts: 0,
        last_exit: None,
    }));

    let supervisor = Supervisor {
        config,
        reaper,
        logs,
        status: status.clone(),
        requests,
        restart_reply: None,
    };
    tokio::spawn(supervisor.run());

    SupervisorHandle {
        requests: requests_tx,
        status,
    }
}

impl Supervisor {
    async fn run(mut self) {
        let policy = self.config.restart.clone();
        let mut next_backoff = Duration::from_millis(policy.initial_backoff_ms);

        loop {
            let uptime = match self.run_once().await {
                RunEnd::Exited { uptime } => uptime,
                RunEnd::Restarted(reply) => {
                    self.count_restart();
                    self.restart_reply = Some(reply);
                    continue;
                }
                RunEnd::Shutdown(reply) => return self.finish(reply),
            };

            let backoff = next_backoff_after(&policy, uptime, &mut next_backoff);
            self.status
                .send_modify(|status| status.state = RuntimeState::Backoff);
            let restart_number = self.status.borrow().restarts + 1;
            tracing::info!(
                restart = restart_number,
                backoff_ms = backoff.as_millis() as u64,
                "restarting runtime after backoff"
            );
            self.logs.guest_event(format!(
                "restart #{restart_number} in {} ms",
                backoff.as_millis()
            ));

            match self.wait_backoff(backoff).await {
                BackoffEnd::Elapsed => self.count_restart(),
                BackoffEnd::Restart(reply) => {
                    self.count_restart();
                    self.restart_reply = Some(reply);
                }
                BackoffEnd::Shutdown(reply) => return self.finish(reply),
            }
        }
    }

    /// Spawns the runtime once and waits until it exits or a request stops it.
    async fn run_once(&mut self) -> RunEnd {
        let started = Instant::now();
        let spawned = self.spawn();
        if let Some(reply) = self.restart_reply.take() {
            let _ = reply.send(());
        }

        let pid = match spawned {
            Ok(pid) => pid,
            Err(error) => {
                tracing::error!(program = %self.config.command[0], %error, "failed to spawn runtime");
                self.logs.guest_event(format!(
                    "failed to spawn runtime {}: {error}",
                    self.config.command[0]
                ));
                return RunEnd::Exited {
                    uptime: Duration::ZERO,
                };
            }
        };

        loop {
            tokio::select! {
                exit = self.reaper.wait(pid) => {
                    self.record_exit(pid, exit);
                    return RunEnd::Exited { uptime: started.elapsed() };
                }
                request = self.requests.recv() => match request {
                    Some(Request::Restart(reply)) => {
                        tracing::info!(pid, "runtime restart requested");
                        self.stop(pid).await;
                        return RunEnd::Restarted(reply);
                    }
                    Some(Request::Signal(signal, reply)) => {
                        let _ = reply.send(self.forward_signal(pid, signal));
                    }
                    Some(Request::Shutdown(reply)) => {
                        self.stop(pid).await;
                        return RunEnd::Shutdown(Some(reply));
                    }
                    None => {
                        self.stop(pid).await;
                        return RunEnd::Shutdown(None);
                    }
                },
            }
        }
    }

    fn spawn(&self) -> std::io::Result<u32> {
        let mut command = runtime_command(&self.config);
        let mut child = self.reaper.spawn(&mut command)?;
        let pid = child.id();

        // The reaper collects the exit, so the `Child` handle is only used for its pipes.
        if let Some(stdout) = child.stdout.take() {
            self.start_capture(std::os::fd::OwnedFd::from(stdout), LogStream::Stdout);
        }
        if let Some(stderr) = child.stderr.take() {
            self.start_capture(std::os::fd::OwnedFd::from(stderr), LogStream::Stderr);
        }

        // Without a readiness check a live process counts as running.
        let state = if self.config.readiness.is_some() {
            RuntimeState::Starting
        } else {
            RuntimeState::Running
        };
        self.status.send_modify(|status| {
            status.state = state;
            status.pid = Some(pid);
            status.started_at = Some(now_rfc3339());
        });
        tracing::info!(pid, command = ?self.config.command, "runtime started");
        self.logs
            .guest_event(format!("runtime started with pid {pid}"));
        Ok(pid)
    }

    fn start_capture(&self, fd: std::os::fd::OwnedFd, stream: LogStream) {
        let receiver = match pipe::Receiver::from_owned_fd(fd) {
            Ok(receiver) => receiver,
            Err(error) => {
                tracing::error!(stream = stream.as_str(), %error, "cannot read runtime output pipe; its lines are lost");
                return;
            }
        };
        let logs = self.logs.clone();
        tokio::spawn(async move { capture_lines(receiver, stream, &logs).await });
    }

    fn forward_signal(&self, pid: u32, signal: RuntimeSignal) -> Result<(), SupervisorError> {
        let signal = match signal {
            RuntimeSignal::Sighup => Signal::SIGHUP,
            RuntimeSignal::Sigusr1 => Signal::SIGUSR1,
        };
        tracing::info!(pid, signal = signal.as_str(), "sending signal to runtime");
        signal_process(pid, signal).map_err(|source| SupervisorError::SignalFailed {
            signal: signal.as_str(),
            pid,
            source,
        })
    }

    /// Sends SIGTERM to the runtime's process group, waits `stop_grace_ms` for
    /// the whole group to exit, then sends SIGKILL to what is left.
    async fn stop(&mut self, pid: u32) {
        let grace = Duration::from_millis(self.config.stop_grace_ms);
        self.status
            .send_modify(|status| status.state = RuntimeState::Stopping);
        tracing::info!(
            pid,
            grace_ms = grace.as_millis() as u64,
            "stop requested; sending SIGTERM to runtime process group"
        );
        self.logs
            .guest_event(format!("stopping runtime pid {pid} with SIGTERM"));

        if let Err(error) = signal_group(pid, Signal::SIGTERM) {
            tracing::warn!(pid, %error, "sending SIGTERM to runtime process group failed");
        }

        let deadline = tokio::time::Instant::now() + grace;
        let exit = tokio::time::timeout_at(deadline, self.reaper.wait(pid))
            .await
            .ok();
        let group_gone = tokio::time::timeout_at(deadline, wait_group_gone(pid))
            .await
            .is_ok();

        if !group_gone {
            tracing::warn!(
                pid,
                grace_ms = grace.as_millis() as u64,
                "runtime process group still alive after grace period; killing it"
            );
            self.logs.guest_event(format!(
                "runtime pid {pid} did not stop within {} ms; sending SIGKILL",
                grace.as_millis()
            ));
            if let Err(error) = signal_group(pid, Signal::SIGKILL) {
                tracing::error!(pid, %error, "sending SIGKILL to runtime process group failed");
            }
        }

        let exit = match exit {
            Some(exit) => exit,
            None => self.reaper.wait(pid).await,
        };
        self.record_exit(pid, exit);
    }

    fn record_exit(&self, pid: u32, exit: ProcessExit) {
        let record = ExitRecord {
            code: match exit {
                ProcessExit::Code(code) => Some(code),
                ProcessExit::Signal(_) => None,
            },
            signal: match exit {
                ProcessExit::Code(_) => None,
                ProcessExit::Signal(signal) => Some(signal.as_str().to_owned()),
            },
            at: now_rfc3339(),
        };
        self.status.send_modify(|status| {
            status.pid = None;
            status.last_exit = Some(record);
        });

        match exit {
            ProcessExit::Code(code) => tracing::info!(pid, code, "runtime exited with code"),
            ProcessExit::Signal(signal) => {
                tracing::info!(pid, signal = signal.as_str(), "runtime killed by signal")
            }
        }
        self.logs
            .guest_event(format!("runtime pid {pid} exited with {exit}"));
    }

    async fn wait_backoff(&mut self, backoff: Duration) -> BackoffEnd {
        let deadline = tokio::time::Instant::now() + backoff;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return BackoffEnd::Elapsed,
                request = self.requests.recv() => match request {
                    Some(Request::Restart(reply)) => return BackoffEnd::Restart(reply),
                    Some(Request::Signal(_, reply)) => {
                        let state = self.status.borrow().state;
                        let _ = reply.send(Err(SupervisorError::NotRunning { state }));
                    }
                    Some(Request::Shutdown(reply)) => return BackoffEnd::Shutdown(Some(reply)),
                    None => return BackoffEnd::Shutdown(None),
                },
            }
        }
    }

    fn count_restart(&self) {
        self.status.send_modify(|status| status.restarts += 1);
    }

    fn finish(mut self, reply: Option<oneshot::Sender<()>>) {
        self.status.send_modify(|status| {
            status.state = RuntimeState::Exited;
            status.pid = None;
        });
        tracing::info!("runtime stopped for shutdown");
        self.logs.guest_event("runtime stopped for shutdown");

        if let Some(reply) = reply {
            let _ = reply.send(());
        }

        // Requests that arrive after shutdown get a closed channel, so callers see `ShuttingDown`.
        self.requests.close();
    }
}

/// Picks the wait before the next restart: `next` after a quick exit, the
/// initial backoff after one that stayed up `reset_after_ms`. Doubles `next`
/// up to `max_backoff_ms`.
fn next_backoff_after(policy: &RestartPolicy, uptime: Duration, next: &mut Duration) -> Duration {
    let initial = Duration::from_millis(policy.initial_backoff_ms);
    let max = Duration::from_millis(policy.max_backoff_ms);

    if uptime >= Duration::from_millis(policy.reset_after_ms) {
        *next = initial;
    }
    let backoff = *next;
    *next = (backoff * 2).min(max);
    backoff
}

async fn wait_group_gone(pid: u32) {
    while group_alive(pid) {
        tokio::time::sleep(GROUP_POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_resets() {
        let policy = RestartPolicy {
            initial_backoff_ms: 100,
            max_backoff_ms: 350,
            reset_after_ms: 1000,
        };
        let quick = Duration::from_millis(10);
        let long = Duration::from_millis(1000);
        let mut next = Duration::from_millis(100);

        let waits: Vec<u128> = [quick, quick, quick, quick, long, quick]
            .into_iter()
            .map(|uptime| next_backoff_after(&policy, uptime, &mut next).as_millis())
            .collect();

        assert_eq!(waits, [100, 200, 350, 350, 100, 200]);
    }
}
