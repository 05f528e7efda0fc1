//! Hermes Agent 0.19.0: renders `config.yaml`, `.env` and the guest
//! supervisor's config into `HERMES_HOME=/workspace`.
//!
//! Names come from the `hermes-agent` 0.19.0 wheel: `gateway/config.py`
//! reads the API server and channel variables, `gateway/authz_mixin.py` the
//! allow-lists, and `hermes_cli/runtime_provider.py` the model settings.
//! For `provider: custom` Hermes takes the key from `model.api_key`; for
//! `provider: anthropic` it ignores that field and reads `ANTHROPIC_API_KEY`,
//! so the gateway token goes into `.env` there. Hermes' own `openrouter`
//! provider ignores `model.base_url`, so OpenRouter and every other
//! OpenAI-compatible provider is rendered as `custom`.

mod env;
mod validator;

use std::collections::BTreeMap;

use gopilot_core::RuntimeKind;
use gopilot_guest_api::{ReadinessConfig, ReadinessExpect};
use serde::Serialize;

use crate::image::HERMES_VENV;
use crate::render::{
    check_runtime_token, gateway_route, ChatEndpoint, ChatModel, GuestSettings, ProviderApi, RenderError,
    RenderInput, RenderedConfig, RenderedFile, CHAT_COMPLETIONS_PATH, GUEST_CONFIG_PATH,
};

pub use validator::HermesValidator;

/// Mount point of the agent's volume, which is also `HERMES_HOME`.
pub const VOLUME_MOUNT: &str = "/workspace";
/// Port of Hermes' OpenAI-compatible API server.
pub const API_SERVER_PORT: u16 = 8642;
pub const CONFIG_PATH: &str = "config.yaml";
pub const ENV_PATH: &str = ".env";

/// `config.yaml` as rendered: only the `model` section.
#[derive(Debug, Serialize)]
struct HermesConfig {
    model: ModelSection,
}

#[derive(Debug, Serialize)]
struct ModelSection {
    /// `anthropic` or `custom`.
    provider: &'static str,
    /// Bare model name.
    default: String,
    base_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
}

/// Renders the files for a Hermes agent. Does no I/O; [`render_validated`]
/// also loads the result with Hermes' own code.
pub fn render(input: &RenderInput) -> Result<RenderedConfig, RenderError> {
    if input.spec.runtime_kind != RuntimeKind::Hermes {
        return Err(RenderError::invalid_config(
            "runtime_kind",
            format!("is {:?} but the hermes renderer was called", input.spec.runtime_kind.as_str()),
        ));
    }
    if !input.spec.extra_agents.is_empty() {
        return Err(RenderError::invalid_config(
            "agents",
            "is not supported by the hermes runtime, which runs a single agent per sandbox; use runtime_kind \"openclaw\" for several agents",
        ));
    }
    input.spec.channels.validate()?;
    check_runtime_token("runtime_token", &input.secrets.runtime_token)?;
    check_runtime_token("gateway_token", &input.secrets.gateway_token)?;
    check_bind_host(input.bind_host)?;
    let model = &input.spec.model;
    if !input.spec.llm_keys.iter().any(|key| key.provider == model.provider) {
        return Err(RenderError::invalid_config(
            "llm_keys",
            format!("has no key for provider {:?}, which model uses", model.provider),
        ));
    }

    let anthropic = ProviderApi::of(&model.provider) == ProviderApi::AnthropicMessages;
    let config = HermesConfig {
        model: ModelSection {
            provider: if anthropic { "anthropic" } else { "custom" },
            default: model.name.clone(),
            base_url: gateway_route(input.gateway_base_url, &model.provider)?,
            api_key: (!anthropic).then(|| input.secrets.gateway_token.clone()),
        },
    };
    let yaml = serde_yaml::to_string(&config).expect("the Hermes config always serializes");
    let env_file = env::render(input, anthropic)?;

    let (guest_file, command) = guest_settings(input).render(&input.secrets.guest_token)?;
    Ok(RenderedConfig {
        volume_mount: VOLUME_MOUNT,
        files: vec![
            RenderedFile { path: CONFIG_PATH.to_string(), contents: yaml.into_bytes(), mode: 0o600 },
            RenderedFile { path: ENV_PATH.to_string(), contents: env_file.into_bytes(), mode: 0o600 },
            guest_file,
        ],
        directories: Vec::new(),
        guest_config_path: GUEST_CONFIG_PATH.to_string(),
        command,
        runtime_port: API_SERVER_PORT,
        workspace_root: VOLUME_MOUNT.to_string(),
        chat: ChatEndpoint {
            base_url: format!("http://{}:{API_SERVER_PORT}", input.bind_host),
            path: CHAT_COMPLETIONS_PATH,
            bearer_token: input.secrets.runtime_token.clone(),
            models: vec![ChatModel { agent: "main".to_string(), model: model.name.clone() }],
        },
    })
}

/// Renders the files and loads them with Hermes' own config code.
pub fn render_validated(input: &RenderInput, validator: &HermesValidator) -> Result<RenderedConfig, RenderError> {
    let rendered = render(input)?;
    validator.validate(input, &rendered)?;
    Ok(rendered)
}

fn guest_settings(input: &RenderInput) -> GuestSettings {
    let env = BTreeMap::from([
        ("HERMES_HOME".to_string(), VOLUME_MOUNT.to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ]);
    GuestSettings {
        volume_mount: VOLUME_MOUNT,
        command: vec![format!("{HERMES_VENV}/bin/hermes"), "gateway".to_string(), "run".to_string()],
        env,
        workdir: VOLUME_MOUNT.to_string(),
        readiness: ReadinessConfig {
            url: format!("http://{}:{API_SERVER_PORT}/health", input.bind_host),
            expect: ReadinessExpect::Status2xx,
            timeout_ms: 2000,
        },
        workspace_root: VOLUME_MOUNT.to_string(),
        hidden_files: vec![ENV_PATH.to_string(), CONFIG_PATH.to_string(), ".gopilot".to_string()],
    }
}

fn check_bind_host(bind_host: &str) -> Result<(), RenderError> {
    if bind_host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    Err(RenderError::InvalidSetting {
        name: "bind_host",
        value: bind_host.to_string(),
        reason: "must be the sandbox's IP address, such as 10.231.0.2".to_string(),
    })
}
