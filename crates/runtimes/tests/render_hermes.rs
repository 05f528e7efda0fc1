//! Hermes config rendering, loaded back by a real Hermes Agent 0.19.0.
//!
//! The tests use the virtual environment in `GOPILOT_HERMES_VENV` when set.
//! Otherwise they create one under the target directory and install
//! `hermes-agent==0.19.0` into it once (about a minute, then cached).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use gopilot_core::agent::{ExtraAgent, LlmKey};
use gopilot_core::channel::{DiscordChannel, EmailChannel, SlackChannel, TelegramChannel, WhatsappChannel};
use gopilot_core::validate::{AgentSpec, CreateAgent};
use gopilot_core::{AgentSecrets, Channels};
use gopilot_guest_api::GuestConfig;
use gopilot_runtimes::hermes::{self, HermesValidator};
use gopilot_runtimes::render::{write_config, RenderError, RenderInput, RenderedConfig};

const HERMES_PACKAGE: &str = "hermes-agent==0.19.0";

const ANTHROPIC_KEY: &str = "sk-ant-api03-PROVIDER-SECRET-aaaaaaaaaaaa";
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
        runtime_kind: Some("hermes".into()),
        llm_keys: vec![LlmKey { provider: "anthropic".into(), api_key: ANTHROPIC_KEY.into() }],
        ..CreateAgent::default()
    }
}

fn all_channels() -> Channels {
    Channels {
        slack: Some(SlackChannel { app_token: SLACK_APP.into(), bot_token: SLACK_BOT.into(), allow_from: vec![] }),
        discord: Some(DiscordChannel { bot_token: DISCORD_TOKEN.into(), allow_from: vec!["123456789012345678".into()] }),
        telegram: Some(TelegramChannel { bot_token: TELEGRAM_TOKEN.into(), allow_from: vec!["42".into(), "43".into()] }),
        whatsapp: Some(WhatsappChannel { allow_from: vec!["+15551234567".into()] }),
        email: Some(EmailChannel { provider: "gmail".into(), allow_from: vec![] }),
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
        agent_id: "h1",
        spec,
        secrets,
        gateway_base_url: "http://10.231.0.1:8181",
        bind_host: "10.231.0.3",
        control_origin: "https://gopilot.example.test",
    }
}

fn render(spec: &AgentSpec) -> Result<RenderedConfig, RenderError> {
    let secrets = secrets(spec);
    hermes::render_validated(&input(spec, &secrets), validator())
}

fn text(rendered: &RenderedConfig, path: &str) -> String {
    String::from_utf8(rendered.file(path).unwrap_or_else(|| panic!("{path} rendered")).contents.clone()).unwrap()
}

fn env_lines(rendered: &RenderedConfig) -> Vec<String> {
    text(rendered, ".env").lines().map(str::to_string).collect()
}

#[test]
fn anthropic_agent_loads_in_hermes() {
    let spec = request().validate().unwrap();
    let rendered = render(&spec).unwrap();
    let config: serde_yaml::Value = serde_yaml::from_str(&text(&rendered, "config.yaml")).unwrap();
    let env = env_lines(&rendered);

    assert_eq!(config["model"]["provider"], "anthropic");
    assert_eq!(config["model"]["default"], "claude-sonnet-4-6");
    assert_eq!(config["model"]["base_url"], "http://10.231.0.1:8181/anthropic");
    assert!(env.contains(&format!("ANTHROPIC_API_KEY={GATEWAY_TOKEN}")));
    assert!(env.contains(&"API_SERVER_ENABLED=true".to_string()));
    assert!(env.contains(&"API_SERVER_HOST=10.231.0.3".to_string()));
    assert!(env.contains(&"API_SERVER_PORT=8642".to_string()));
    assert!(env.contains(&format!("API_SERVER_KEY={RUNTIME_TOKEN}")));

    assert_eq!(rendered.volume_mount, "/workspace");
    assert_eq!(rendered.workspace_root, "/workspace");
    assert_eq!(rendered.command, vec!["/usr/local/bin/gopilot-guest", "--config", "/workspace/.gopilot/guest.json"]);
    assert_eq!(rendered.chat.base_url, "http://10.231.0.3:8642");
    assert_eq!(rendered.chat.bearer_token, RUNTIME_TOKEN);
    assert_eq!(rendered.chat.models[0].model, "claude-sonnet-4-6");
}

#[test]
fn openai_compatible_providers_use_custom() {
    for (model, provider, route) in [
        ("openai/gpt-5.4", "openai", "http://10.231.0.1:8181/openai/v1"),
        ("openrouter/meta-llama/llama-3-70b", "openrouter", "http://10.231.0.1:8181/openrouter/v1"),
        ("my-vllm/qwen3:8b", "my-vllm", "http://10.231.0.1:8181/compat/my-vllm/v1"),
    ] {
        let spec = CreateAgent {
            model: Some(model.into()),
            llm_keys: vec![LlmKey { provider: provider.into(), api_key: "sk-PROVIDER-SECRET-42".into() }],
            ..request()
        }
        .validate()
        .unwrap();
        let rendered = render(&spec).unwrap();
        let config: serde_yaml::Value = serde_yaml::from_str(&text(&rendered, "config.yaml")).unwrap();

        assert_eq!(config["model"]["provider"], "custom", "{model}");
        assert_eq!(config["model"]["base_url"], route, "{model}");
        assert_eq!(config["model"]["api_key"], GATEWAY_TOKEN, "{model}");
        assert!(!text(&rendered, ".env").contains("ANTHROPIC_API_KEY"), "{model}");
    }
}

#[test]
fn every_channel_kind_enabled_in_hermes() {
    let spec = CreateAgent { channels: Some(all_channels()), ..request() }.validate().unwrap();
    let env = env_lines(&render(&spec).unwrap());

    for expected in [
        format!("SLACK_BOT_TOKEN={SLACK_BOT}"),
        format!("SLACK_APP_TOKEN={SLACK_APP}"),
        "SLACK_ALLOW_ALL_USERS=true".to_string(),
        format!("DISCORD_BOT_TOKEN={DISCORD_TOKEN}"),
        "DISCORD_ALLOWED_USERS=123456789012345678".to_string(),
        format!("TELEGRAM_BOT_TOKEN={TELEGRAM_TOKEN}"),
        "TELEGRAM_ALLOWED_USERS=42,43".to_string(),
        "WHATSAPP_ENABLED=true".to_string(),
        "WHATSAPP_ALLOWED_USERS=15551234567".to_string(),
    ] {
        assert!(env.contains(&expected), "missing {expected}");
    }
    assert!(!env.iter().any(|line| line.starts_with("EMAIL_")), "email is not rendered for Hermes");
}

#[test]
fn guest_config_runs_gateway() {
    let spec = request().validate().unwrap();
    let rendered = render(&spec).unwrap();
    let guest: GuestConfig = serde_json::from_str(&text(&rendered, ".gopilot/guest.json")).unwrap();

    assert_eq!(guest.validate(), Ok(()));
    assert_eq!(guest.command, vec!["/opt/hermes/venv/bin/hermes", "gateway", "run"]);
    assert_eq!(guest.env.get("HERMES_HOME").map(String::as_str), Some("/workspace"));
    assert_eq!(guest.readiness.unwrap().url, "http://10.231.0.3:8642/health");
    for hidden in [".env", "config.yaml", ".gopilot"] {
        assert!(guest.hidden_files.iter().any(|name| name == hidden), "{hidden} not hidden");
    }
    assert_eq!(guest.api_token, GUEST_TOKEN);
}

#[test]
fn provider_key_in_no_file() {
    let spec = CreateAgent { channels: Some(all_channels()), ..request() }.validate().unwrap();
    let rendered = render(&spec).unwrap();
    let volume = tempfile::tempdir().unwrap();
    write_config(volume.path(), &rendered).unwrap();

    let files = walk(volume.path());
    assert_eq!(files.len(), 3);
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        assert!(!contains(&bytes, ANTHROPIC_KEY.as_bytes()), "provider key found in {}", path.display());
    }
    let env = std::fs::read(volume.path().join(".env")).unwrap();
    assert!(contains(&env, GATEWAY_TOKEN.as_bytes()));
}

#[test]
fn extra_agents_rejected() {
    let mut spec = request().validate().unwrap();
    spec.extra_agents = vec![ExtraAgent { name: "research".into(), model: None }];
    let secrets = secrets(&spec);

    let error = hermes::render(&input(&spec, &secrets)).unwrap_err();

    assert!(error.is_client_error());
    assert_eq!(error.field(), Some("agents"));
}

#[test]
fn invalid_channel_token_names_field() {
    let mut spec = request().validate().unwrap();
    spec.channels.discord = Some(DiscordChannel { bot_token: "no-dots".into(), allow_from: vec![] });
    let secrets = secrets(&spec);

    let error = hermes::render(&input(&spec, &secrets)).unwrap_err();

    assert_eq!(error.field(), Some("channels.discord.botToken"));
}

#[test]
fn short_api_server_key_rejected() {
    let spec = request().validate().unwrap();
    let mut secrets = secrets(&spec);
    secrets.runtime_token = "0123456789abcdef0123".into();

    let error = hermes::render(&input(&spec, &secrets)).unwrap_err();

    assert!(!error.is_client_error());
    assert!(error.to_string().contains("at least 32"), "{error}");
}

#[test]
fn hermes_flags_model_off_gateway() {
    // A provider Hermes resolves natively ignores `model.base_url`; the
    // validator must notice that requests would bypass the gateway.
    let spec = request().validate().unwrap();
    let secrets = secrets(&spec);
    let input = input(&spec, &secrets);
    let mut rendered = hermes::render(&input).unwrap();
    let config = text(&rendered, "config.yaml").replace("provider: anthropic", "provider: openrouter");
    rendered.files.iter_mut().find(|file| file.path == "config.yaml").unwrap().contents = config.into_bytes();

    let error = validator().validate(&input, &rendered).unwrap_err();

    assert_eq!(error.field(), Some("model"), "{error}");
}

#[test]
fn hermes_rejects_unknown_provider() {
    let spec = request().validate().unwrap();
    let secrets = secrets(&spec);
    let input = input(&spec, &secrets);
    let mut rendered = hermes::render(&input).unwrap();
    let config = text(&rendered, "config.yaml").replace("provider: anthropic", "provider: no-such-provider");
    rendered.files.iter_mut().find(|file| file.path == "config.yaml").unwrap().contents = config.into_bytes();

    let error = validator().validate(&input, &rendered).unwrap_err();

    assert_eq!(error.field(), Some("model"), "{error}");
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

fn validator() -> &'static HermesValidator {
    static VALIDATOR: OnceLock<HermesValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let venv = match std::env::var_os("GOPILOT_HERMES_VENV") {
            Some(path) => PathBuf::from(path),
            None => cached_venv(),
        };
        HermesValidator::from_venv(&venv)
    })
}

fn cached_venv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hermes-0.19.0-venv");
    let marker = venv.join(".gopilot-installed");
    if marker.exists() {
        return venv;
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", HERMES_PACKAGE]));
    std::fs::write(&marker, HERMES_PACKAGE).unwrap();
    venv
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
