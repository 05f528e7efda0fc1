//! Loads a rendered Hermes config with Hermes' own Python code and checks
//! that Hermes reads back what was meant: the model, the gateway route and
//! token, the API server's address and key, and one platform per channel.
//!
//! Hermes' loaders accept almost anything (an unknown provider only fails
//! when the model is resolved), so the check compares what they resolved
//! instead of relying on an exception.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::{CONFIG_PATH, ENV_PATH};
use crate::render::{gateway_route, RenderError, RenderInput, RenderedConfig};

const CHECK_SCRIPT: &str = include_str!("check_config.py");
const RESULT_PREFIX: &str = "GOPILOT_RESULT ";

/// Runs Hermes' config code with a given Python interpreter.
#[derive(Debug, Clone)]
pub struct HermesValidator {
    python: PathBuf,
}

#[derive(Debug, Deserialize)]
struct CheckResult {
    error: Option<CheckError>,
    runtime: Option<ResolvedRuntime>,
    #[serde(default)]
    platforms: Vec<String>,
    api_server: Option<ApiServer>,
}

#[derive(Debug, Deserialize)]
struct CheckError {
    stage: String,
    message: String,
}

#[derive(Debug, Deserialize)]
struct ResolvedRuntime {
    provider: Option<String>,
    base_url: Option<String>,
    key_matches: bool,
}

#[derive(Debug, Deserialize)]
struct ApiServer {
    host: Option<String>,
    port: Option<u16>,
    key_matches: bool,
}

impl HermesValidator {
    /// Uses the Python of a virtual environment with `hermes-agent` 0.19.0
    /// installed, such as `/opt/hermes/venv` inside an image's root
    /// filesystem or one made for tests.
    // TODO: run inside the image's root filesystem with chroot, so the
    // control plane needs no Hermes of its own.
    pub fn from_venv(venv: &Path) -> HermesValidator {
        HermesValidator { python: venv.join("bin/python") }
    }

    /// Checks `rendered` (made from `input`) in a temporary `HERMES_HOME`.
    pub fn validate(&self, input: &RenderInput, rendered: &RenderedConfig) -> Result<(), RenderError> {
        let home = tempfile::tempdir().map_err(|error| self.failed(format!("cannot create a temporary HERMES_HOME: {error}")))?;
        for path in [CONFIG_PATH, ENV_PATH] {
            let file = rendered.file(path).ok_or_else(|| self.failed(format!("{path} was not rendered")))?;
            std::fs::write(home.path().join(path), &file.contents)
                .map_err(|error| self.failed(format!("cannot write {path} to the temporary HERMES_HOME: {error}")))?;
        }

        let output = Command::new(&self.python)
            .arg("-c")
            .arg(CHECK_SCRIPT)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", home.path())
            .env("HERMES_HOME", home.path())
            .env("GOPILOT_EXPECTED_MODEL_KEY", &input.secrets.gateway_token)
            .env("GOPILOT_EXPECTED_SERVER_KEY", &input.secrets.runtime_token)
            .output()
            .map_err(|error| self.failed(format!("cannot run {}: {error}", self.python.display())))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Some(line) = stdout.lines().rev().find_map(|line| line.strip_prefix(RESULT_PREFIX)) else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
            return Err(self.failed(format!("the check printed no result ({}); stderr ends with: {tail}", output.status)));
        };
        let result: CheckResult =
            serde_json::from_str(line).map_err(|error| self.failed(format!("the check printed invalid JSON: {error}")))?;

        compare(input, &result)
    }

    fn failed(&self, reason: String) -> RenderError {
        RenderError::Validator { runtime: "hermes", reason }
    }
}

fn rejected(path: &str, message: String) -> RenderError {
    RenderError::Rejected { runtime: "hermes", path: path.to_string(), message }
}

/// Compares what Hermes resolved with what the renderer meant.
fn compare(input: &RenderInput, result: &CheckResult) -> Result<(), RenderError> {
    if let Some(error) = &result.error {
        return Err(match error.stage.as_str() {
            "model" => RenderError::invalid_config("model", format!("is rejected by Hermes: {}", error.message)),
            stage => rejected(stage, error.message.clone()),
        });
    }

    let runtime = result.runtime.as_ref().ok_or_else(|| rejected("model", "no model was resolved".into()))?;
    let route = gateway_route(input.gateway_base_url, &input.spec.model.provider)?;
    if runtime.base_url.as_deref().map(|url| url.trim_end_matches('/')) != Some(route.as_str()) {
        return Err(RenderError::invalid_config(
            "model",
            format!(
                "is sent by Hermes to {:?} (provider {:?}) instead of the LLM gateway route {route:?}",
                runtime.base_url, runtime.provider
            ),
        ));
    }
    if !runtime.key_matches {
        return Err(rejected("model", "Hermes does not use the gateway token as the model's API key".into()));
    }

    let api = result.api_server.as_ref().ok_or_else(|| rejected("API_SERVER_ENABLED", "the API server is not enabled".into()))?;
    if api.host.as_deref() != Some(input.bind_host) || api.port != Some(super::API_SERVER_PORT) {
        return Err(rejected(
            "API_SERVER_HOST",
            format!("the API server would listen on {:?}:{:?}", api.host, api.port),
        ));
    }
    if !api.key_matches {
        return Err(rejected("API_SERVER_KEY", "Hermes does not use the runtime token as the API server key".into()));
    }

    for kind in input.spec.channels.kinds() {
        let name = kind.as_str();
        if name != "email" && !result.platforms.iter().any(|platform| platform == name) {
            return Err(RenderError::invalid_config(
                format!("channels.{name}"),
                "is not enabled by Hermes with the rendered settings",
            ));
        }
    }
    Ok(())
}
