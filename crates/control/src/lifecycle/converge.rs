//! Convergence of one agent: compare the desired state with the sandbox's
//! observed state and act, recording each status transition.

use gopilot_core::{AgentStatus, DesiredState};
use gopilot_runtimes::render::write_config;
use gopilot_sandbox::{SandboxState, SandboxStatus, VolumeAction};
use gopilot_store::AgentRow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::provision::{render, sandbox_spec};
use super::Lifecycle;
use crate::agents::spec_of;

/// Consecutive failed readiness checks of a running agent before it is
/// marked `error`: about three reconciler intervals.
const UNREADY_CHECKS_BEFORE_ERROR: u32 = 3;

/// Log lines quoted in an `error` status reason.
const REASON_LOG_LINES: usize = 5;

/// The cause of a failed convergence step, which becomes the agent's
/// `status_reason`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConvergeError {
    #[error("store: {0}")]
    Store(#[from] gopilot_store::StoreError),
    #[error("sandbox: {0}")]
    Sandbox(#[from] gopilot_sandbox::SandboxError),
    #[error("image: {0}")]
    Image(#[from] gopilot_runtimes::image::ImageError),
    #[error("config: {0}")]
    Render(#[from] gopilot_runtimes::render::RenderError),
    #[error("config: {0}")]
    Write(#[from] gopilot_runtimes::render::WriteError),
    #[error("secrets: {0}")]
    Service(#[from] crate::ServiceError),
    #[error("{0}")]
    Runtime(String),
}

impl Lifecycle {
    pub(crate) fn spawn_converge(self: &Arc<Self>, id: String) {
        if !self.has_sandboxes() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move { this.converge(&id).await });
    }

    /// Moves one agent's sandbox toward its desired state. A failure becomes
    /// the agent's `error` status and schedules a retry with backoff.
    pub(crate) async fn converge(&self, id: &str) {
        if !self.has_sandboxes() {
            return;
        }
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        if let Err(err) = self.converge_locked(id).await {
            self.fail(id, &err).await;
        }
    }

    /// Stops the runtime and starts it again, keeping volume and upper layer.
    pub(crate) async fn restart(&self, id: &str) {
        if !self.has_sandboxes() {
            return;
        }
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        let result = async {
            self.stop_sandbox(id).await?;
            self.converge_locked(id).await
        }
        .await;
        if let Err(err) = result {
            self.fail(id, &err).await;
        }
    }

    /// Applies a changed configuration to a live agent. A new size recreates
    /// the sandbox with the new limits and keeps the volume. Other changes
    /// restart the sandbox with a newly rendered config.
    pub(crate) async fn apply_live_change(&self, id: &str, resized: bool) -> Result<(), crate::ServiceError> {
        if !self.has_sandboxes() {
            return Ok(());
        }
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        let result = async {
            let Some(row) = self.store.get_agent_any_account(id).await? else { return Ok(()) };
            let sandbox = self.backend.status(id).await?;

            if resized {
                if sandbox.state != SandboxState::Missing {
                    self.backend.destroy(id, VolumeAction::Keep).await?;
                }
                return self.converge_locked(id).await;
            }

            match sandbox.state {
                // The runtime is stopped before its config is rewritten: a
                // running OpenClaw watches its config file and treats a file
                // replaced under it as clobbered.
                SandboxState::Running | SandboxState::Paused => {
                    let was_paused = sandbox.state == SandboxState::Paused;
                    self.stop_sandbox(id).await?;
                    self.start_sandbox(&row).await?;
                    self.record(id, "reconfigured", "runtime restarted with the new config").await?;
                    if was_paused {
                        self.backend.pause(id).await?;
                        self.set_status(id, AgentStatus::Paused, None).await?;
                    }
                    Ok(())
                }
                // A stopped sandbox renders its config again when it starts.
                SandboxState::Created | SandboxState::Stopped | SandboxState::Missing => Ok(()),
            }
        }
        .await;
        result.map_err(|err: ConvergeError| crate::ServiceError::Sandbox(err.to_string()))
    }

    pub(crate) async fn converge_locked(&self, id: &str) -> Result<(), ConvergeError> {
        let Some(row) = self.store.get_agent_any_account(id).await? else { return Ok(()) };
        let sandbox = self.backend.status(id).await?;

        match row.agent.desired_state {
            DesiredState::Running => match sandbox.state {
                SandboxState::Missing => self.provision(&row).await,
                SandboxState::Created | SandboxState::Stopped => {
                    if sandbox.oom_killed {
                        self.record(id, "oom", &oom_message(&row)).await?;
                    }
                    self.start_sandbox(&row).await
                }
                SandboxState::Paused => {
                    self.backend.resume(id).await?;
                    self.set_status(id, AgentStatus::Running, None).await
                }
                SandboxState::Running => self.check_health(&row, &sandbox).await,
            },
            DesiredState::Paused => match sandbox.state {
                SandboxState::Running => {
                    self.backend.pause(id).await?;
                    self.set_status(id, AgentStatus::Paused, None).await
                }
                SandboxState::Paused => self.set_status(id, AgentStatus::Paused, None).await,
                SandboxState::Created | SandboxState::Stopped | SandboxState::Missing => {
                    self.set_status(id, AgentStatus::Stopped, None).await
                }
            },
            DesiredState::Stopped => {
                self.stop_sandbox(id).await?;
                self.set_status(id, AgentStatus::Stopped, None).await
            }
        }
    }

    /// Stops a running or paused sandbox; other states are left as they are.
    async fn stop_sandbox(&self, id: &str) -> Result<(), ConvergeError> {
        let state = self.backend.status(id).await?.state;
        if state == SandboxState::Paused {
            // A frozen process cannot handle SIGTERM; thaw it first.
            self.backend.resume(id).await?;
        }
        if matches!(state, SandboxState::Running | SandboxState::Paused) {
            self.backend.stop(id, self.settings.stop_grace).await?;
        }
        Ok(())
    }

    async fn provision(&self, row: &AgentRow) -> Result<(), ConvergeError> {
        let id = &row.agent.id;
        self.set_status(id, AgentStatus::Provisioning, Some("preparing the runtime image")).await?;

        let images = self.images.as_ref().ok_or_else(|| ConvergeError::Runtime("sandboxes are disabled".into()))?;
        let image = images.ensure(row.agent.runtime_kind).await?;
        let secrets = self.agents.open(row)?;
        let volume = self.volume_dir(id);
        std::fs::create_dir_all(&volume)
            .map_err(|err| ConvergeError::Runtime(format!("cannot create volume {}: {err}", volume.display())))?;

        let spec = sandbox_spec(id, &spec_of(&row.agent, &secrets), &image, &volume);
        self.backend.create(&spec).await?;
        tracing::info!(agent_id = %id, image = image.id(), "sandbox created");
        self.start_sandbox(row).await
    }

    /// Renders and writes the config for the sandbox's address; returns the
    /// guest's endpoint.
    async fn write_config(&self, row: &AgentRow) -> Result<crate::GuestEndpoint, ConvergeError> {
        let id = &row.agent.id;
        let secrets = self.agents.open(row)?;
        let ip = self.backend.endpoint(id).await?.ip.to_string();
        let validator = self.cached_validator(row.agent.runtime_kind);

        let rendered = render(
            id,
            &spec_of(&row.agent, &secrets),
            &secrets,
            &self.settings.gateway_url,
            &ip,
            &self.settings.control_origin,
            validator.as_deref(),
        )?;
        write_config(&self.volume_dir(id), &rendered)?;
        Ok(self.guest_endpoint(&ip, &secrets.guest_token))
    }

    async fn start_sandbox(&self, row: &AgentRow) -> Result<(), ConvergeError> {
        let id = &row.agent.id;
        self.set_status(id, AgentStatus::Provisioning, Some("starting the runtime")).await?;

        let guest = self.write_config(row).await?;
        self.backend.start(id).await?;
        self.wait_ready(id, &guest).await?;

        self.unready.lock().expect("readiness table poisoned").remove(id);
        self.retry.lock().expect("retry table poisoned").remove(id);
        self.set_status(id, AgentStatus::Running, None).await
    }

    /// Waits until the runtime reports ready through the guest.
    async fn wait_ready(&self, id: &str, guest: &crate::GuestEndpoint) -> Result<(), ConvergeError> {
        let started = Instant::now();
        loop {
            if let Ok(true) = self.guest.ready(guest).await {
                tracing::info!(agent_id = %id, elapsed_ms = started.elapsed().as_millis() as u64, "runtime ready");
                return Ok(());
            }

            let sandbox = self.backend.status(id).await?;
            if !matches!(sandbox.state, SandboxState::Running) {
                let cause = if sandbox.oom_killed { "it ran out of memory" } else { "its init process exited" };
                return Err(ConvergeError::Runtime(format!("sandbox stopped while starting: {cause}")));
            }
            if started.elapsed() > self.settings.ready_timeout {
                let logs = self.last_log_lines(guest).await;
                return Err(ConvergeError::Runtime(format!(
                    "runtime not ready after {} s{logs}",
                    self.settings.ready_timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Checks a running sandbox: a runtime that stops answering its
    /// readiness check for several rounds marks the agent `error`, and one
    /// that answers again marks it `running`.
    async fn check_health(&self, row: &AgentRow, sandbox: &SandboxStatus) -> Result<(), ConvergeError> {
        let id = &row.agent.id;
        let secrets = self.agents.open(row)?;
        let ip = self.backend.endpoint(id).await?.ip.to_string();
        let guest = self.guest_endpoint(&ip, &secrets.guest_token);

        if let Ok(true) = self.guest.ready(&guest).await {
            self.unready.lock().expect("readiness table poisoned").remove(id);
            return self.set_status(id, AgentStatus::Running, None).await;
        }

        if row.agent.status == AgentStatus::Provisioning {
            // A start that a crashed server left behind: give it the usual time.
            let waited = crate::clock::now() - row.agent.status_changed_at;
            if waited.whole_seconds() as u64 <= self.settings.ready_timeout.as_secs() {
                return Ok(());
            }
        }

        let failures = {
            let mut unready = self.unready.lock().expect("readiness table poisoned");
            let count = unready.entry(id.clone()).or_insert(0);
            *count += 1;
            *count
        };
        if failures >= UNREADY_CHECKS_BEFORE_ERROR && row.agent.status != AgentStatus::Error {
            let cause = if sandbox.oom_killed { oom_message(row) } else { "runtime stopped answering its readiness check".into() };
            let logs = self.last_log_lines(&guest).await;
            return self.set_status(id, AgentStatus::Error, Some(&format!("{cause}{logs}"))).await;
        }
        Ok(())
    }

    async fn last_log_lines(&self, guest: &crate::GuestEndpoint) -> String {
        match self.guest.tail(guest, REASON_LOG_LINES).await {
            Ok(lines) if !lines.is_empty() => {
                let text: Vec<String> = lines.iter().map(|l| l.line.clone()).collect();
                format!("; last log lines: {}", text.join(" | "))
            }
            _ => String::new(),
        }
    }

    /// Sets the observed status; a change is recorded as a `transition` event.
    pub(crate) async fn set_status(&self, id: &str, to: AgentStatus, reason: Option<&str>) -> Result<(), ConvergeError> {
        let Some(row) = self.store.get_agent_any_account(id).await? else { return Ok(()) };
        let from = row.agent.status;
        if from == to && row.agent.status_reason.as_deref() == reason {
            return Ok(());
        }

        let now = crate::clock::now();
        self.store.set_agent_status(id, to, reason, now).await?;
        if from != to {
            let message = match reason {
                Some(reason) => format!("{from} -> {to}: {reason}"),
                None => format!("{from} -> {to}"),
            };
            self.store.insert_event(id, "transition", Some(from), Some(to), &message, now).await?;
            tracing::info!(agent_id = %id, from = from.as_str(), to = to.as_str(), reason = reason.unwrap_or(""), "agent status changed");
        }
        Ok(())
    }

    async fn record(&self, id: &str, kind: &str, message: &str) -> Result<(), ConvergeError> {
        self.store.insert_event(id, kind, None, None, message, crate::clock::now()).await?;
        tracing::info!(agent_id = %id, kind, message, "agent event");
        Ok(())
    }

    /// Marks the agent `error` with the failure and schedules a retry.
    async fn fail(&self, id: &str, err: &ConvergeError) {
        let reason = err.to_string();
        tracing::warn!(agent_id = %id, error = %reason, "agent convergence failed");
        let delay = self.schedule_retry(id);
        let reason = format!("{reason} (next attempt in {} s)", delay.as_secs());
        if let Err(store_err) = self.set_status(id, AgentStatus::Error, Some(&reason)).await {
            tracing::error!(agent_id = %id, error = %store_err, "cannot record agent error");
        }
    }
}

fn oom_message(row: &AgentRow) -> String {
    let limit_gib = row.agent.size.resources().memory_bytes / (1024 * 1024 * 1024);
    format!(
        "out of memory: the runtime exceeded the {limit_gib} GB limit of size {}; choose a larger size",
        row.agent.size.as_str()
    )
}
