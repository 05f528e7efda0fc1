//! The lifecycle service: drives each agent's sandbox toward its desired
//! state and records every status transition.
//!
//! Invariant: every change to a sandbox happens inside [`Lifecycle::converge`]
//! (or delete) under the agent's lock, so API actions and the reconciler
//! loop never act on one sandbox at the same time.

mod converge;
mod guest_client;
pub mod provision;
mod no_sandbox;
mod reconciler;

use gopilot_core::lifecycle::{plan, Plan};
use gopilot_core::validate::{CreateAgent, UpdateAgent};
use gopilot_core::{Action, AgentStatus, DesiredState, LifecycleError};
use gopilot_runtimes::render::RenderedConfig;
use gopilot_sandbox::{Backend, ResourceUsage, SandboxState};
use gopilot_store::{AgentRow, Store};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::agents::{spec_of, AgentService, AgentView};
use crate::endpoint::{ChatModel, GuestEndpoint, RuntimeEndpoint, RuntimeLocator};
use crate::error::ServiceError;
pub use guest_client::{GuestClient, GuestError};
pub use provision::Images;
pub use reconciler::AdoptReport;

/// Port of the guest supervisor's API inside every sandbox.
pub const GUEST_PORT: u16 = 7077;

/// Settings of the lifecycle service.
#[derive(Debug, Clone)]
pub struct LifecycleSettings {
    /// Agents' volumes live in `<data_dir>/volumes/<agent id>`.
    pub data_dir: PathBuf,
    /// The LLM gateway's base URL as sandboxes reach it.
    pub gateway_url: String,
    /// Browser origin allowed to open a runtime's own UI.
    pub control_origin: String,
    /// How long a start may take until the runtime reports ready.
    pub ready_timeout: Duration,
    /// How long a stopping runtime gets between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// Pause agents without channels after this long without API use.
    pub idle_pause_after: Option<Duration>,
    /// How often the reconciler checks every agent.
    pub reconcile_interval: Duration,
    /// Providers the LLM gateway can forward to; keys for others are rejected.
    pub known_providers: Vec<String>,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        LifecycleSettings {
            data_dir: PathBuf::from("./data"),
            gateway_url: "http://10.231.0.1:8181".into(),
            control_origin: "http://127.0.0.1:8080".into(),
            ready_timeout: Duration::from_secs(120),
            stop_grace: Duration::from_secs(10),
            idle_pause_after: Some(Duration::from_secs(15 * 60)),
            reconcile_interval: Duration::from_secs(2),
            known_providers: gopilot_llm_gateway::BUILTIN_PROVIDERS.map(String::from).to_vec(),
        }
    }
}

/// The lifecycle service.
pub struct Lifecycle {
    agents: AgentService,
    store: Store,
    backend: Arc<dyn Backend>,
    /// `None` in records-only mode, where agents get no sandbox.
    images: Option<Images>,
    guest: GuestClient,
    settings: LifecycleSettings,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    activity: Mutex<HashMap<String, Instant>>,
    retry: Mutex<HashMap<String, reconciler::Backoff>>,
    unready: Mutex<HashMap<String, u32>>,
    wake: tokio::sync::Notify,
}

impl Lifecycle {
    pub fn new(
        agents: AgentService,
        backend: Arc<dyn Backend>,
        images: Images,
        settings: LifecycleSettings,
    ) -> Lifecycle {
        Lifecycle {
            store: agents.store().clone(),
            agents,
            backend,
            images: Some(images),
            guest: GuestClient::new(),
            settings,
            locks: Mutex::new(HashMap::new()),
            activity: Mutex::new(HashMap::new()),
            retry: Mutex::new(HashMap::new()),
            unready: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// A lifecycle that keeps agents as records only, without sandboxes:
    /// for API development and the API's own tests. Agents stay in
    /// `provisioning` and actions only change the desired state.
    pub fn records_only(agents: AgentService, settings: LifecycleSettings) -> Lifecycle {
        Lifecycle {
            store: agents.store().clone(),
            agents,
            backend: Arc::new(no_sandbox::NoSandboxes),
            images: None,
            guest: GuestClient::new(),
            settings,
            locks: Mutex::new(HashMap::new()),
            activity: Mutex::new(HashMap::new()),
            retry: Mutex::new(HashMap::new()),
            unready: Mutex::new(HashMap::new()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Returns false in records-only mode.
    pub fn has_sandboxes(&self) -> bool {
        self.images.is_some()
    }

    pub fn agents(&self) -> &AgentService {
        &self.agents
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().expect("agent lock table poisoned");
        locks.entry(id.to_string()).or_default().clone()
    }

    fn volume_dir(&self, id: &str) -> PathBuf {
        self.settings.data_dir.join("volumes").join(id)
    }

    /// Creates an agent and waits up to `wait` for it to run. Returns the
    /// agent as it is when the wait ends. A repeated `idempotency_key`
    /// returns the agent that the first request with it created.
    pub async fn create(
        self: &Arc<Self>,
        account_id: &str,
        request: CreateAgent,
        wait: Duration,
        idempotency_key: Option<&str>,
    ) -> Result<AgentView, ServiceError> {
        if let Some(key) = idempotency_key {
            if let Some(existing) = self.store.find_idempotency_key(account_id, key).await? {
                return self.wait_until_settled(account_id, &existing, wait).await;
            }
        }

        let spec = request.clone().validate()?;
        self.check_renders(&spec).await?;
        let files = request.files.clone().unwrap_or_default();

        let agent = self.agents.create(account_id, request).await?;
        if let Some(key) = idempotency_key {
            if !self.store.insert_idempotency_key(account_id, key, &agent.id, crate::clock::now()).await? {
                // A request with the same key won the race; keep its agent.
                self.agents.delete(account_id, &agent.id).await?;
                let existing = self.store.find_idempotency_key(account_id, key).await?.unwrap_or_default();
                return self.wait_until_settled(account_id, &existing, wait).await;
            }
        }
        if !files.is_empty() {
            self.write_initial_files(&agent, &files)?;
        }

        self.note_activity(&agent.id);
        self.spawn_converge(agent.id.clone());
        self.wait_until_settled(account_id, &agent.id, wait).await
    }

    async fn wait_until_settled(&self, account_id: &str, id: &str, wait: Duration) -> Result<AgentView, ServiceError> {
        self.wait_for(account_id, id, wait, |status| matches!(status, AgentStatus::Running | AgentStatus::Error))
            .await
    }

    /// Writes workspace files given at create time into the new agent's
    /// volume. The volume is new and no runtime has run in it yet, so no
    /// path in it can be a link planted by an agent.
    fn write_initial_files(
        &self,
        agent: &AgentView,
        files: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        let workspace = self.volume_dir(&agent.id).join(provision::workspace_subdir(agent.runtime_kind));
        for (name, contents) in files {
            let path = workspace.join(name);
            let io = |err: std::io::Error| ServiceError::Sandbox(format!("cannot write workspace file {name}: {err}"));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::write(&path, contents).map_err(io)?;
        }
        tracing::info!(agent_id = %agent.id, files = files.len(), "wrote initial workspace files");
        Ok(())
    }

    /// Applies an update to the record and then to the live sandbox.
    pub async fn update(
        self: &Arc<Self>,
        account_id: &str,
        id: &str,
        update: UpdateAgent,
    ) -> Result<AgentView, ServiceError> {
        let (row, secrets) = self.agents.get_with_secrets(account_id, id).await?;
        let next = update.clone().apply(&spec_of(&row.agent, &secrets))?;
        self.check_renders(&next).await?;

        let before = row.agent.clone();
        let after = self.agents.update(account_id, id, update).await?;
        let resized = before.size != after.size;
        let reconfigured = before.model != after.model
            || before.llm_keys != after.llm_keys
            || before.channels != after.channels
            || before.extra_agents != after.extra_agents;
        if resized || reconfigured {
            self.apply_live_change(id, resized).await?;
        }
        self.agents.get(account_id, id).await
    }

    /// Applies a lifecycle action and waits for its effect.
    pub async fn act(self: &Arc<Self>, account_id: &str, id: &str, action: Action) -> Result<AgentView, ServiceError> {
        let agent = self.agents.get(account_id, id).await?;
        self.note_activity(id);

        match plan(agent.status, action)? {
            Plan::NoOp => return Ok(agent),
            Plan::Transition { desired, restart } => {
                self.store.set_desired_state(id, desired, crate::clock::now()).await?;
                self.store
                    .insert_event(id, "action", Some(agent.status), None, &format!("{} requested", action.as_str()), crate::clock::now())
                    .await?;
                tracing::info!(agent_id = %id, action = action.as_str(), desired = desired.as_str(), "lifecycle action");
                self.retry.lock().expect("retry table poisoned").remove(id);
                if restart {
                    self.restart(id).await;
                } else {
                    self.converge(id).await;
                }
            }
        }
        self.agents.get(account_id, id).await
    }

    /// Deletes an agent with its sandbox, volume and secrets.
    pub async fn delete(&self, account_id: &str, id: &str) -> Result<(), ServiceError> {
        self.agents.get(account_id, id).await?;
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;

        self.backend
            .destroy(id, gopilot_sandbox::VolumeAction::Remove)
            .await
            .map_err(|err| ServiceError::Sandbox(err.to_string()))?;
        let volume = self.volume_dir(id);
        if volume.exists() {
            std::fs::remove_dir_all(&volume).map_err(|err| ServiceError::Sandbox(format!("cannot remove {}: {err}", volume.display())))?;
        }
        self.agents.delete(account_id, id).await?;
        self.forget(id);
        Ok(())
    }

    /// Records API use of an agent, for the idle policy.
    pub fn note_activity(&self, id: &str) {
        self.activity.lock().expect("activity table poisoned").insert(id.to_string(), Instant::now());
    }

    fn forget(&self, id: &str) {
        self.activity.lock().expect("activity table poisoned").remove(id);
        self.retry.lock().expect("retry table poisoned").remove(id);
        self.unready.lock().expect("readiness table poisoned").remove(id);
        self.locks.lock().expect("agent lock table poisoned").remove(id);
    }

    /// Returns the sandbox's current CPU and memory readings, when it runs.
    pub async fn resource_usage(&self, id: &str) -> Option<ResourceUsage> {
        self.backend.usage(id).await.ok()
    }

    /// Polls the stored status until `done` holds or `wait` passes.
    async fn wait_for(
        &self,
        account_id: &str,
        id: &str,
        wait: Duration,
        done: impl Fn(AgentStatus) -> bool,
    ) -> Result<AgentView, ServiceError> {
        let deadline = Instant::now() + wait;
        loop {
            let agent = self.agents.get(account_id, id).await?;
            if done(agent.status) || Instant::now() >= deadline {
                return Ok(agent);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Renders the config of `spec` as a dry run, so a config that the
    /// runtime would reject is a 400 before anything is stored.
    async fn check_renders(&self, spec: &gopilot_core::validate::AgentSpec) -> Result<(), ServiceError> {
        self.check_providers(spec)?;
        let probe = gopilot_core::AgentSecrets {
            llm_keys: spec.llm_keys.clone(),
            channels: spec.channels.clone(),
            gateway_token: "x".repeat(48),
            guest_token: "x".repeat(48),
            runtime_token: "x".repeat(48),
        };
        let validator = self.cached_validator(spec.runtime_kind);
        provision::render(
            "probe",
            spec,
            &probe,
            &self.settings.gateway_url,
            "10.0.0.2",
            &self.settings.control_origin,
            validator.as_deref(),
        )
        .map(|_| ())
        .map_err(render_to_service_error)
    }

    /// Rejects keys for providers the gateway cannot reach, because the
    /// runtime's every call to them would fail.
    fn check_providers(&self, spec: &gopilot_core::validate::AgentSpec) -> Result<(), ServiceError> {
        let known = &self.settings.known_providers;
        for (index, key) in spec.llm_keys.iter().enumerate() {
            if !known.contains(&key.provider) {
                return Err(gopilot_core::ValidationError::new(
                    format!("llm_keys[{index}].provider"),
                    format!(
                        "{:?} is not a provider this server can reach; use one of {} or configure gateway.upstreams.{}",
                        key.provider,
                        known.join(", "),
                        key.provider
                    ),
                )
                .into());
            }
        }
        Ok(())
    }

    /// Returns the OpenClaw validator when its image is already built.
    fn cached_validator(&self, kind: gopilot_core::RuntimeKind) -> Option<Arc<gopilot_runtimes::openclaw::OpenclawValidator>> {
        if kind != gopilot_core::RuntimeKind::Openclaw {
            return None;
        }
        let images = self.images.as_ref()?;
        let image = images.built(kind)?;
        images.openclaw_validator(&image).ok()
    }

    async fn endpoint_of(&self, row: &AgentRow) -> Result<(RenderedConfig, String), ServiceError> {
        let secrets = self.agents.open(row)?;
        let ip = self
            .backend
            .endpoint(&row.agent.id)
            .await
            .map_err(|err| ServiceError::Sandbox(err.to_string()))?
            .ip
            .to_string();
        let spec = spec_of(&row.agent, &secrets);
        let rendered = provision::render(
            &row.agent.id,
            &spec,
            &secrets,
            &self.settings.gateway_url,
            &ip,
            &self.settings.control_origin,
            None,
        )
        .map_err(render_to_service_error)?;
        Ok((rendered, ip))
    }

    fn guest_endpoint(&self, ip: &str, secrets_token: &str) -> GuestEndpoint {
        GuestEndpoint { base_url: format!("http://{ip}:{GUEST_PORT}"), token: secrets_token.to_string() }
    }
}

pub(crate) fn render_to_service_error(err: gopilot_runtimes::render::RenderError) -> ServiceError {
    match err.field() {
        Some(field) => ServiceError::Validation(gopilot_core::ValidationError::new(field, err.to_string().trim_start_matches(field).trim().to_string())),
        None => ServiceError::Render(err.to_string()),
    }
}

#[async_trait::async_trait]
impl RuntimeLocator for Arc<Lifecycle> {
    async fn ensure_running(&self, account_id: &str, agent_id: &str) -> Result<RuntimeEndpoint, ServiceError> {
        self.touch(agent_id);
        let mut agent = self.agents.get(account_id, agent_id).await?;

        if agent.status == AgentStatus::Paused || agent.desired_state == DesiredState::Paused {
            agent = self.act(account_id, agent_id, Action::Resume).await?;
        }
        if agent.status == AgentStatus::Provisioning && self.has_sandboxes() {
            agent = self
                .wait_for(account_id, agent_id, self.settings.ready_timeout, |s| s != AgentStatus::Provisioning)
                .await?;
        }
        match agent.status {
            AgentStatus::Running => {}
            AgentStatus::Stopped => return Err(LifecycleError::NotRunning.into()),
            status => {
                return Err(LifecycleError::Conflict {
                    action: "chat with",
                    status,
                    hint: "check its logs, or restart it with POST /v1/agents/{id}/restart",
                }
                .into())
            }
        }

        let row = self
            .store
            .get_agent(account_id, agent_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound { kind: "agent", id: agent_id.to_string() })?;
        let (rendered, _ip) = self.endpoint_of(&row).await?;
        Ok(RuntimeEndpoint {
            agent_id: agent_id.to_string(),
            base_url: rendered.chat.base_url.clone(),
            chat_path: rendered.chat.path.to_string(),
            bearer_token: rendered.chat.bearer_token.clone(),
            models: rendered
                .chat
                .models
                .iter()
                .map(|m| ChatModel { agent: m.agent.clone(), model: m.model.clone() })
                .collect(),
        })
    }

    async fn guest(&self, account_id: &str, agent_id: &str) -> Result<Option<GuestEndpoint>, ServiceError> {
        let (row, secrets) = self.agents.get_with_secrets(account_id, agent_id).await?;
        let state = self
            .backend
            .status(&row.agent.id)
            .await
            .map(|s| s.state)
            .unwrap_or(SandboxState::Missing);
        if !matches!(state, SandboxState::Running | SandboxState::Paused) {
            return Ok(None);
        }
        let ip = match self.backend.endpoint(agent_id).await {
            Ok(endpoint) => endpoint.ip.to_string(),
            Err(_) => return Ok(None),
        };
        Ok(Some(self.guest_endpoint(&ip, &secrets.guest_token)))
    }

    fn touch(&self, agent_id: &str) {
        self.note_activity(agent_id);
    }
}
