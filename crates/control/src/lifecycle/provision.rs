//! From an agent record to a sandbox: images, rendered config and the
//! sandbox spec.

use gopilot_core::validate::AgentSpec;
use gopilot_core::{AgentSecrets, RuntimeKind};
use gopilot_runtimes::image::{BuildOptions, Image, ImageError, ImageStore, Progress, Step, GUEST_PATH_IN_IMAGE};
use gopilot_runtimes::openclaw::OpenclawValidator;
use gopilot_runtimes::render::{RenderError, RenderInput, RenderedConfig, GUEST_CONFIG_PATH};
use gopilot_sandbox::{Limits, SandboxSpec};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Label that marks a sandbox as an agent's, with the agent id as value.
pub const AGENT_LABEL: &str = "gopilot.agent";

fn image_kind(kind: RuntimeKind) -> gopilot_runtimes::image::RuntimeKind {
    match kind {
        RuntimeKind::Openclaw => gopilot_runtimes::image::RuntimeKind::Openclaw,
        RuntimeKind::Hermes => gopilot_runtimes::image::RuntimeKind::Hermes,
    }
}

/// Where a runtime keeps its state inside the sandbox; the agent's volume is
/// mounted there.
pub fn volume_mount(kind: RuntimeKind) -> &'static str {
    match kind {
        RuntimeKind::Openclaw => "/root/.openclaw",
        RuntimeKind::Hermes => "/workspace",
    }
}

/// Returns the workspace directory relative to the volume.
pub fn workspace_subdir(kind: RuntimeKind) -> &'static str {
    match kind {
        RuntimeKind::Openclaw => "workspace-main",
        RuntimeKind::Hermes => "",
    }
}

/// Returns the sandbox's init command: the supervisor reading its config
/// from the volume. It depends only on the runtime kind, so it is known
/// before the sandbox has an address to render the config with.
pub fn init_command(kind: RuntimeKind) -> Vec<String> {
    vec![
        GUEST_PATH_IN_IMAGE.to_string(),
        "--config".to_string(),
        format!("{}/{GUEST_CONFIG_PATH}", volume_mount(kind)),
    ]
}

/// The runtime images, built on first use and then cached.
pub struct Images {
    store: ImageStore,
    options: BuildOptions,
    /// Serializes builds: two agents created at once share one build.
    build_lock: tokio::sync::Mutex<()>,
    validators: Mutex<HashMap<String, Arc<OpenclawValidator>>>,
}

/// Logs each build step, for builds started by the server.
struct LogProgress;

impl Progress for LogProgress {
    fn step_started(&self, image: &str, step: Step) {
        tracing::info!(image, step = step.as_str(), "image build step started");
    }

    fn step_finished(&self, image: &str, step: Step, elapsed: Duration, succeeded: bool) {
        tracing::info!(image, step = step.as_str(), elapsed_s = elapsed.as_secs_f64(), succeeded, "image build step finished");
    }

    fn note(&self, image: &str, message: &str) {
        tracing::info!(image, message, "image build");
    }
}

impl Images {
    pub fn open(data_dir: &Path, guest_binary: Option<PathBuf>) -> Result<Images, ImageError> {
        Ok(Images {
            store: ImageStore::open(data_dir)?,
            options: BuildOptions { guest_binary },
            build_lock: tokio::sync::Mutex::new(()),
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Returns the image for `kind`, building it when missing (minutes).
    pub async fn ensure(&self, kind: RuntimeKind) -> Result<Image, ImageError> {
        let _guard = self.build_lock.lock().await;
        let store = self.store.clone();
        let options = self.options.clone();
        tokio::task::spawn_blocking(move || store.build(image_kind(kind), &options, &LogProgress))
            .await
            .expect("image build task does not panic")
    }

    /// Returns the image for `kind` when it is already built.
    pub fn built(&self, kind: RuntimeKind) -> Option<Image> {
        self.store.find(image_kind(kind), &self.options).ok().flatten()
    }

    /// Returns the schema validator of an OpenClaw image, loaded once.
    pub fn openclaw_validator(&self, image: &Image) -> Result<Arc<OpenclawValidator>, RenderError> {
        let mut validators = self.validators.lock().expect("validator cache lock poisoned");
        if let Some(validator) = validators.get(image.id()) {
            return Ok(validator.clone());
        }
        let path = image.dir.join("openclaw.schema.json");
        let validator = OpenclawValidator::from_schema_file(&path)
            .map_err(|err| RenderError::Validator {
                runtime: "openclaw",
                reason: format!("cannot load {}: {err}", path.display()),
            })?;
        let validator = Arc::new(validator);
        validators.insert(image.id().to_string(), validator.clone());
        Ok(validator)
    }
}

/// Renders an agent's runtime config for a sandbox at `bind_host`,
/// validated against the runtime's schema where one is available.
pub fn render(
    agent_id: &str,
    spec: &AgentSpec,
    secrets: &AgentSecrets,
    gateway_url: &str,
    bind_host: &str,
    control_origin: &str,
    validator: Option<&OpenclawValidator>,
) -> Result<RenderedConfig, RenderError> {
    let input = RenderInput { agent_id, spec, secrets, gateway_base_url: gateway_url, bind_host, control_origin };
    match (spec.runtime_kind, validator) {
        (RuntimeKind::Openclaw, Some(validator)) => gopilot_runtimes::openclaw::render_validated(&input, validator),
        (RuntimeKind::Openclaw, None) => gopilot_runtimes::openclaw::render(&input),
        // TODO: validate Hermes configs with Hermes' own loader from the image's venv.
        (RuntimeKind::Hermes, _) => gopilot_runtimes::hermes::render(&input),
    }
}

/// Builds the sandbox spec of an agent.
pub fn sandbox_spec(agent_id: &str, spec: &AgentSpec, image: &Image, volume_dir: &Path) -> SandboxSpec {
    let resources = spec.size.resources();
    SandboxSpec {
        id: agent_id.to_string(),
        image_rootfs: image.rootfs(),
        volume_dir: volume_dir.to_path_buf(),
        volume_mount: volume_mount(spec.runtime_kind).to_string(),
        limits: Limits { cpus: f64::from(resources.vcpus), memory_bytes: resources.memory_bytes, pids: resources.pids },
        command: init_command(spec.runtime_kind),
        env: vec![("PATH".into(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())],
        labels: BTreeMap::from([
            (AGENT_LABEL.to_string(), agent_id.to_string()),
            ("gopilot.runtime".to_string(), spec.runtime_kind.as_str().to_string()),
            ("gopilot.size".to_string(), spec.size.as_str().to_string()),
        ]),
    }
}
