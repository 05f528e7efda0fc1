//! Builds `openclaw.json`.

use std::collections::BTreeMap;

use gopilot_core::model::{parse_model, ModelRef};
use gopilot_core::validate::AgentSpec;
use gopilot_core::RuntimeKind;
use serde_json::{json, Map, Value};

use super::{channels, workspace_dir, GATEWAY_PORT, MAIN_AGENT};
use crate::render::{gateway_route, ProviderApi, RenderError, RenderInput};

/// The model of each agent in the sandbox, the primary agent first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentModels {
    /// `(agent id, model, true when the agent sets its own model)`.
    pub entries: Vec<(String, ModelRef, bool)>,
}

impl AgentModels {
    /// Resolves every agent's model and checks that `llm_keys` has a key for
    /// each model's provider.
    pub fn resolve(spec: &AgentSpec) -> Result<AgentModels, RenderError> {
        let mut entries = vec![(MAIN_AGENT.to_string(), spec.model.clone(), true)];
        require_key(spec, &spec.model, "model")?;

        for (index, agent) in spec.extra_agents.iter().enumerate() {
            let field = format!("agents[{index}].model");
            let (model, own) = match &agent.model {
                Some(text) => {
                    let model = parse_model(RuntimeKind::Openclaw, text, &spec.llm_keys)
                        .map_err(|error| RenderError::invalid_config(&field, error.message))?;
                    (model, true)
                }
                None => (spec.model.clone(), false),
            };
            require_key(spec, &model, &field)?;
            entries.push((agent.name.clone(), model, own));
        }
        Ok(AgentModels { entries })
    }

    pub fn agent_ids(&self) -> Vec<String> {
        self.entries.iter().map(|(id, _, _)| id.clone()).collect()
    }

    /// Returns the distinct model names used with `provider`, in first-use order.
    fn names_for(&self, provider: &str) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for (_, model, _) in &self.entries {
            if model.provider == provider && !names.contains(&model.name.as_str()) {
                names.push(&model.name);
            }
        }
        names
    }
}

fn require_key(spec: &AgentSpec, model: &ModelRef, field: &str) -> Result<(), RenderError> {
    if spec.llm_keys.iter().any(|key| key.provider == model.provider) {
        return Ok(());
    }
    Err(RenderError::invalid_config(
        "llm_keys",
        format!("has no key for provider {:?}, which {field} uses", model.provider),
    ))
}

fn qualified(model: &ModelRef) -> String {
    format!("{}/{}", model.provider, model.name)
}

/// Builds the whole config document.
pub(super) fn build(input: &RenderInput, models: &AgentModels) -> Result<Value, RenderError> {
    let mut config = Map::new();
    config.insert("gateway".into(), gateway_section(input));
    config.insert("models".into(), models_section(input, models)?);
    config.insert("agents".into(), agents_section(input.spec, models));
    let channels = channels::section(&input.spec.channels);
    if !channels.is_empty() {
        config.insert("channels".into(), Value::Object(channels));
    }
    let plugins = plugin_paths(&input.spec.channels);
    if !plugins.is_empty() {
        config.insert("plugins".into(), json!({ "load": { "paths": plugins } }));
    }
    Ok(Value::Object(config))
}

/// Paths of the channel plugins that the config's channels need. In
/// OpenClaw 2026.9.6 only Telegram ships in the core package; Slack, Discord
/// and WhatsApp are `@openclaw/<name>` packages that the image installs
/// under its prefix, and a config loads them by path.
fn plugin_paths(channels: &gopilot_core::Channels) -> Vec<String> {
    let mut names = Vec::new();
    if channels.slack.is_some() {
        names.push("slack");
    }
    if channels.discord.is_some() {
        names.push("discord");
    }
    if channels.whatsapp.is_some() {
        names.push("whatsapp");
    }
    names
        .into_iter()
        .map(|name| format!("{}/node_modules/@openclaw/{name}", crate::image::OPENCLAW_PREFIX))
        .collect()
}

/// `gateway`: local mode on the sandbox's address, token auth with the
/// runtime token, and the OpenAI-compatible chat endpoint turned on.
/// A non-loopback bind needs `controlUi.allowedOrigins`, else the gateway
/// refuses to start.
fn gateway_section(input: &RenderInput) -> Value {
    json!({
        "mode": "local",
        "port": GATEWAY_PORT,
        "bind": "custom",
        "customBindHost": input.bind_host,
        "controlUi": { "allowedOrigins": [input.control_origin] },
        "auth": { "mode": "token", "token": input.secrets.runtime_token },
        "http": { "endpoints": { "chatCompletions": { "enabled": true } } },
    })
}

/// `models`: one provider per LLM key, each pointed at its LLM gateway
/// route with the gateway token as its API key. `mode: "replace"` drops
/// OpenClaw's built-in providers, so no request can bypass the gateway.
fn models_section(input: &RenderInput, models: &AgentModels) -> Result<Value, RenderError> {
    let mut providers = Map::new();
    for key in &input.spec.llm_keys {
        let api = match ProviderApi::of(&key.provider) {
            ProviderApi::AnthropicMessages => "anthropic-messages",
            ProviderApi::OpenaiCompletions => "openai-completions",
        };
        let model_list: Vec<Value> = models
            .names_for(&key.provider)
            .into_iter()
            .map(|name| json!({ "id": name, "name": name }))
            .collect();
        providers.insert(
            key.provider.clone(),
            json!({
                "baseUrl": gateway_route(input.gateway_base_url, &key.provider)?,
                "apiKey": input.secrets.gateway_token,
                "api": api,
                "models": model_list,
            }),
        );
    }
    Ok(json!({ "mode": "replace", "providers": providers }))
}

/// `agents`: the primary agent `main`, marked `default: true` so that
/// `openclaw/default` and channels without a binding reach it, plus one
/// entry per extra agent, each with its own workspace directory.
fn agents_section(spec: &AgentSpec, models: &AgentModels) -> Value {
    let mut entries = BTreeMap::new();
    for (agent_id, model, own_model) in &models.entries {
        let mut entry = Map::new();
        entry.insert("workspace".into(), workspace_dir(agent_id).into());
        if agent_id == MAIN_AGENT {
            entry.insert("default".into(), true.into());
            entry.insert("name".into(), spec.name.clone().into());
            if let Some(description) = &spec.description {
                entry.insert("description".into(), description.clone().into());
            }
        } else {
            entry.insert("name".into(), agent_id.clone().into());
        }
        if *own_model {
            entry.insert("model".into(), json!({ "primary": qualified(model) }));
        }
        entries.insert(agent_id.clone(), Value::Object(entry));
    }

    json!({
        "defaults": {
            "model": { "primary": qualified(&spec.model) },
            "workspace": workspace_dir(MAIN_AGENT),
        },
        "entries": entries,
    })
}

#[cfg(test)]
mod plugin_tests {
    use super::*;
    use gopilot_core::channel::{SlackChannel, TelegramChannel, WhatsappChannel};

    #[test]
    fn plugin_paths_follow_channels() {
        let mut channels = gopilot_core::Channels {
            telegram: Some(TelegramChannel { bot_token: "1:x".into(), allow_from: vec![] }),
            ..Default::default()
        };
        assert!(plugin_paths(&channels).is_empty(), "telegram ships in the core package");

        channels.slack = Some(SlackChannel { app_token: "xapp-1".into(), bot_token: "xoxb-1".into(), allow_from: vec![] });
        channels.whatsapp = Some(WhatsappChannel::default());
        assert_eq!(
            plugin_paths(&channels),
            ["/opt/openclaw/node_modules/@openclaw/slack", "/opt/openclaw/node_modules/@openclaw/whatsapp"]
        );
    }
}
