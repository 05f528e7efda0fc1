//! OpenClaw 2026.9.6: renders `openclaw.json` and the guest supervisor's
//! config, and validates the result against the JSON Schema that the
//! installed OpenClaw prints (`openclaw config schema`).
//!
//! Config keys come from that schema and the package's own `docs/` folder.
//! The runtime reads provider credentials from `models.providers.<id>.apiKey`,
//! which contains the agent's LLM gateway token, never a provider key.
//!
//! No `auth-profiles.json` is written: in 2026.9.6 that file is a legacy
//! import source that the runtime does not read, and while the agent's SQLite
//! credential store is empty its presence blocks every provider it names
//! until `openclaw doctor --fix` runs (package `docs/concepts/oauth.md`).

mod channels;
mod config;
mod validator;

use std::collections::BTreeMap;

use gopilot_core::RuntimeKind;
use gopilot_guest_api::{ReadinessConfig, ReadinessExpect};

use crate::image::OPENCLAW_PREFIX;
use crate::render::{
    check_runtime_token, ChatEndpoint, ChatModel, GuestSettings, RenderError, RenderInput, RenderedConfig,
    RenderedFile, CHAT_COMPLETIONS_PATH, GUEST_CONFIG_PATH,
};

pub use config::AgentModels;
pub use validator::{OpenclawValidator, SchemaError};

/// Mount point of the agent's volume: OpenClaw's state directory.
pub const VOLUME_MOUNT: &str = "/root/.openclaw";
/// Port of OpenClaw's gateway (HTTP API, Control UI and channels).
pub const GATEWAY_PORT: u16 = 18789;
/// Path of the config file, relative to the volume.
pub const CONFIG_PATH: &str = "openclaw.json";
/// Id of the primary agent in `agents.entries`.
pub const MAIN_AGENT: &str = "main";
/// Node.js binary inside an OpenClaw image.
pub const NODE_PATH: &str = "/usr/local/bin/node";

/// Returns the absolute workspace directory of the agent `agent_id`.
pub fn workspace_dir(agent_id: &str) -> String {
    format!("{VOLUME_MOUNT}/workspace-{agent_id}")
}

/// Renders the files for an OpenClaw agent. Does no I/O and does not check
/// the result against OpenClaw's schema; [`render_validated`] does both.
pub fn render(input: &RenderInput) -> Result<RenderedConfig, RenderError> {
    render_with_config(input).map(|(rendered, _)| rendered)
}

/// Renders the files for an OpenClaw agent and checks `openclaw.json`
/// against the schema of the installed OpenClaw.
pub fn render_validated(input: &RenderInput, validator: &OpenclawValidator) -> Result<RenderedConfig, RenderError> {
    let (rendered, config) = render_with_config(input)?;
    validator.validate(&config)?;
    Ok(rendered)
}

fn render_with_config(input: &RenderInput) -> Result<(RenderedConfig, serde_json::Value), RenderError> {
    if input.spec.runtime_kind != RuntimeKind::Openclaw {
        return Err(RenderError::invalid_config(
            "runtime_kind",
            format!("is {:?} but the openclaw renderer was called", input.spec.runtime_kind.as_str()),
        ));
    }
    input.spec.channels.validate()?;
    check_runtime_token("runtime_token", &input.secrets.runtime_token)?;
    check_runtime_token("gateway_token", &input.secrets.gateway_token)?;
    check_bind_host(input.bind_host)?;

    let models = AgentModels::resolve(input.spec)?;
    let config = config::build(input, &models)?;
    let mut contents = serde_json::to_vec_pretty(&config).expect("a JSON value always serializes");
    contents.push(b'\n');
    let config_file = RenderedFile { path: CONFIG_PATH.to_string(), contents, mode: 0o600 };

    let agent_ids = models.agent_ids();
    let (guest_file, command) = guest_settings(input).render(&input.secrets.guest_token)?;
    let directories = agent_ids.iter().map(|id| format!("workspace-{id}")).collect();
    let chat_models = agent_ids
        .iter()
        .map(|id| ChatModel {
            agent: id.clone(),
            model: if id == MAIN_AGENT { "openclaw/default".to_string() } else { format!("openclaw/{id}") },
        })
        .collect();

    let rendered = RenderedConfig {
        volume_mount: VOLUME_MOUNT,
        files: vec![config_file, guest_file],
        directories,
        guest_config_path: GUEST_CONFIG_PATH.to_string(),
        command,
        runtime_port: GATEWAY_PORT,
        workspace_root: workspace_dir(MAIN_AGENT),
        chat: ChatEndpoint {
            base_url: format!("http://{}:{GATEWAY_PORT}", input.bind_host),
            path: CHAT_COMPLETIONS_PATH,
            bearer_token: input.secrets.runtime_token.clone(),
            models: chat_models,
        },
    };
    Ok((rendered, config))
}

fn guest_settings(input: &RenderInput) -> GuestSettings {
    let heap_mib = input.spec.size.node_heap_mib();
    let env = BTreeMap::from([
        ("HOME".to_string(), "/root".to_string()),
        ("OPENCLAW_STATE_DIR".to_string(), VOLUME_MOUNT.to_string()),
        ("NODE_OPTIONS".to_string(), format!("--max-old-space-size={heap_mib}")),
    ]);
    // Node runs openclaw.mjs directly, without the image's shell wrapper, so
    // the guest's signals reach the runtime itself.
    let command = vec![
        NODE_PATH.to_string(),
        format!("{OPENCLAW_PREFIX}/node_modules/openclaw/openclaw.mjs"),
        "gateway".to_string(),
        "--port".to_string(),
        GATEWAY_PORT.to_string(),
    ];

    GuestSettings {
        volume_mount: VOLUME_MOUNT,
        command,
        env,
        workdir: "/root".to_string(),
        readiness: ReadinessConfig {
            url: format!("http://{}:{GATEWAY_PORT}/readyz", input.bind_host),
            expect: ReadinessExpect::JsonField { pointer: "/ready".to_string(), equals: true.into() },
            timeout_ms: 2000,
        },
        workspace_root: workspace_dir(MAIN_AGENT),
        hidden_files: vec![".gopilot".to_string()],
    }
}

/// Checks that `bind_host` is an IPv4 address, the only form that
/// `gateway.customBindHost` takes.
fn check_bind_host(bind_host: &str) -> Result<(), RenderError> {
    if bind_host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    Err(RenderError::InvalidSetting {
        name: "bind_host",
        value: bind_host.to_string(),
        reason: "must be the sandbox's IPv4 address, such as 10.231.0.2".to_string(),
    })
}
