//! The reconciler loop, retry backoff, the idle policy and adoption of
//! sandboxes after a restart of the server.

use gopilot_core::{AgentStatus, DesiredState};
use gopilot_sandbox::VolumeAction;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::provision::AGENT_LABEL;
use super::Lifecycle;
use crate::error::ServiceError;

const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(300);

/// Retry state of an agent whose convergence failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    attempts: u32,
    next_try: Instant,
}

/// What adoption found at start.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AdoptReport {
    pub adopted: Vec<String>,
    pub removed: Vec<String>,
}

impl Lifecycle {
    /// Records a failure and returns the delay before the next attempt:
    /// 5 s, doubling up to 5 minutes.
    pub(crate) fn schedule_retry(&self, id: &str) -> Duration {
        let mut retry = self.retry.lock().expect("retry table poisoned");
        let attempts = retry.get(id).map(|b| b.attempts + 1).unwrap_or(1);
        let delay = FIRST_RETRY.saturating_mul(1 << (attempts - 1).min(10)).min(MAX_RETRY);
        retry.insert(id.to_string(), Backoff { attempts, next_try: Instant::now() + delay });
        delay
    }

    fn retry_due(&self, id: &str) -> bool {
        let retry = self.retry.lock().expect("retry table poisoned");
        retry.get(id).is_none_or(|backoff| Instant::now() >= backoff.next_try)
    }

    /// Matches the sandboxes on this host with the stored agents: sandboxes
    /// of agents that exist are adopted as they are, the others are
    /// destroyed with their volumes. Agents whose sandbox is gone are
    /// recreated by the reconciler.
    pub async fn adopt(&self) -> Result<AdoptReport, ServiceError> {
        let agents: HashSet<String> =
            self.store.list_all_agents().await?.into_iter().map(|row| row.agent.id).collect();
        let sandboxes = self.backend.list().await.map_err(|err| ServiceError::Sandbox(err.to_string()))?;

        let mut report = AdoptReport::default();
        for sandbox in sandboxes {
            let owner = sandbox.labels.get(AGENT_LABEL).cloned().unwrap_or_else(|| sandbox.id.clone());
            if agents.contains(&owner) {
                tracing::info!(agent_id = %owner, state = ?sandbox.state, "adopted sandbox");
                report.adopted.push(owner);
                continue;
            }
            self.backend
                .destroy(&sandbox.id, VolumeAction::Remove)
                .await
                .map_err(|err| ServiceError::Sandbox(err.to_string()))?;
            tracing::info!(sandbox_id = %sandbox.id, "removed sandbox of no agent");
            report.removed.push(sandbox.id);
        }

        self.remove_orphan_volumes(&agents);
        for id in &agents {
            self.note_activity(id);
        }
        Ok(report)
    }

    fn remove_orphan_volumes(&self, agents: &HashSet<String>) {
        let root = self.settings.data_dir.join("volumes");
        let Ok(entries) = std::fs::read_dir(&root) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if agents.contains(&name) {
                continue;
            }
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => tracing::info!(volume = %name, "removed volume of no agent"),
                Err(err) => tracing::warn!(volume = %name, error = %err, "cannot remove volume of no agent"),
            }
        }
    }

    /// Runs the reconciler until the process exits: every interval, or at
    /// once when woken, each agent that is not busy is converged.
    pub fn spawn_reconciler(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(err) = this.tick().await {
                    tracing::warn!(error = %err, "reconciler round failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(this.settings.reconcile_interval) => {}
                    _ = this.wake.notified() => {}
                }
            }
        })
    }

    async fn tick(self: &Arc<Self>) -> Result<(), ServiceError> {
        for row in self.store.list_all_agents().await? {
            let id = row.agent.id.clone();
            let busy = self.lock_for(&id).try_lock().is_err();
            if busy || !self.retry_due(&id) {
                continue;
            }
            if self.idle_for_too_long(&row) {
                self.store.set_desired_state(&id, DesiredState::Paused, crate::clock::now()).await?;
                self.store
                    .insert_event(&id, "idle", Some(row.agent.status), None, "paused after idle time without API use", crate::clock::now())
                    .await?;
                tracing::info!(agent_id = %id, "pausing idle agent");
            }
            self.spawn_converge(id);
        }
        Ok(())
    }

    /// Returns true for a running agent without channels whose API has been
    /// unused for the idle time. Channel traffic does not pass the API, so
    /// agents with channels are never paused by policy.
    fn idle_for_too_long(&self, row: &gopilot_store::AgentRow) -> bool {
        let Some(limit) = self.settings.idle_pause_after else { return false };
        if row.agent.status != AgentStatus::Running
            || row.agent.desired_state != DesiredState::Running
            || !row.agent.channels.is_empty()
        {
            return false;
        }
        let activity = self.activity.lock().expect("activity table poisoned");
        match activity.get(&row.agent.id) {
            Some(last) => last.elapsed() >= limit,
            None => false,
        }
    }
}
