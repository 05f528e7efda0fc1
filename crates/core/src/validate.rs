//! Validation of agent create and update requests.
//!
//! Every rule lives here so the API, the CLI and tests reject the same input
//! with the same message. Each error names the field it is about.

use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use utoipa::ToSchema;

use crate::agent::{ExtraAgent, LlmKey, RuntimeKind};
use crate::channel::Channels;
use crate::model::{is_valid_provider, parse_model, ModelRef};
use crate::size::Size;

const NAME_MAX_CHARS: usize = 100;
const DESCRIPTION_MAX_CHARS: usize = 2000;
const LLM_KEYS_MAX: usize = 16;
const API_KEY_MAX_CHARS: usize = 1024;
const EXTRA_AGENTS_MAX: usize = 16;
const EXTRA_AGENT_NAME_MAX: usize = 32;

/// Invalid input, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// Dotted path of the field, such as `channels.slack.botToken`.
    pub field: String,
    /// What is wrong, phrased to follow the field name.
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ValidationError {
        ValidationError { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// Body of `POST /v1/agents`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// Display name, 1 to 100 characters.
    pub name: Option<String>,
    /// Model: `provider/model` for OpenClaw; Hermes also takes a bare name.
    pub model: Option<String>,
    pub description: Option<String>,
    /// Provider API keys; one is needed for the model's provider.
    #[serde(default)]
    pub llm_keys: Vec<LlmKey>,
    /// `openclaw` (default) or `hermes`.
    pub runtime_kind: Option<String>,
    /// `small`, `medium` (default), `large` or `xlarge`.
    pub size: Option<String>,
    #[serde(default)]
    pub channels: Option<Channels>,
    /// Extra OpenClaw agents sharing the sandbox, each with its own workspace.
    #[serde(default)]
    pub agents: Option<Vec<ExtraAgent>>,
    /// `false` answers at once with status 202 instead of waiting until the
    /// agent runs.
    #[serde(default)]
    pub wait: Option<bool>,
    /// Workspace files to write before the runtime first starts, by path
    /// under the workspace root, such as `{"SOUL.md": "..."}`.
    #[serde(default)]
    pub files: Option<std::collections::BTreeMap<String, String>>,
}

const INITIAL_FILES_MAX: usize = 64;

/// Checks the paths of workspace files given at create time: relative,
/// without `..`, `.` or hidden components, and never a file the runtime
/// reserves for its own configuration.
pub fn validate_initial_files(
    runtime: RuntimeKind,
    files: &std::collections::BTreeMap<String, String>,
) -> Result<(), ValidationError> {
    if files.len() > INITIAL_FILES_MAX {
        return Err(ValidationError::new("files", format!("must have at most {INITIAL_FILES_MAX} entries")));
    }
    for name in files.keys() {
        let field = format!("files.{name}");
        let components: Vec<&str> = name.split('/').collect();
        let well_formed = !name.is_empty()
            && name.len() <= 255
            && !name.starts_with('/')
            && !name.contains('\0')
            && components.iter().all(|c| !c.is_empty() && !c.starts_with('.'));
        if !well_formed {
            return Err(ValidationError::new(
                field,
                "must be a relative path without empty, '.', '..' or hidden components",
            ));
        }
        if runtime == RuntimeKind::Hermes && name == "config.yaml" {
            return Err(ValidationError::new(field, "is reserved for the runtime's configuration"));
        }
    }
    Ok(())
}

/// Body of `PATCH /v1/agents/{id}`. Absent fields keep their value; a list
/// or object given replaces the stored one whole.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    pub name: Option<String>,
    pub model: Option<String>,
    /// An empty string clears the description.
    pub description: Option<String>,
    pub llm_keys: Option<Vec<LlmKey>>,
    /// Present only to reject a change with a clear message.
    pub runtime_kind: Option<String>,
    pub size: Option<String>,
    pub channels: Option<Channels>,
    pub agents: Option<Vec<ExtraAgent>>,
}

/// A validated agent configuration, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSpec {
    pub name: String,
    pub description: Option<String>,
    pub model: ModelRef,
    pub runtime_kind: RuntimeKind,
    pub size: Size,
    pub llm_keys: Vec<LlmKey>,
    pub channels: Channels,
    pub extra_agents: Vec<ExtraAgent>,
}

impl CreateAgent {
    pub fn validate(self) -> Result<AgentSpec, ValidationError> {
        let name = validate_name(self.name.as_deref())?;
        let description = validate_description(self.description)?;
        let runtime_kind = parse_runtime_kind(self.runtime_kind.as_deref())?;
        let size = parse_size(self.size.as_deref())?;
        let llm_keys = validate_llm_keys(self.llm_keys)?;
        let model = parse_model(runtime_kind, self.model.as_deref().unwrap_or(""), &llm_keys)?;
        let channels = self.channels.unwrap_or_default();
        let extra_agents = self.agents.unwrap_or_default();
        if let Some(files) = &self.files {
            validate_initial_files(runtime_kind, files)?;
        }

        let spec = AgentSpec { name, description, model, runtime_kind, size, llm_keys, channels, extra_agents };
        check_spec(&spec)?;
        Ok(spec)
    }
}

impl UpdateAgent {
    /// Returns `current` with this update applied, validated as a whole.
    pub fn apply(self, current: &AgentSpec) -> Result<AgentSpec, ValidationError> {
        if let Some(kind) = self.runtime_kind.as_deref() {
            if parse_runtime_kind(Some(kind))? != current.runtime_kind {
                return Err(ValidationError::new(
                    "runtime_kind",
                    "cannot be changed on an existing agent; create a new agent instead",
                ));
            }
        }

        let mut next = current.clone();
        if let Some(name) = self.name {
            next.name = validate_name(Some(&name))?;
        }
        if let Some(description) = self.description {
            next.description = validate_description(Some(description))?;
        }
        if let Some(size) = self.size {
            next.size = parse_size(Some(&size))?;
        }
        if let Some(keys) = self.llm_keys {
            next.llm_keys = validate_llm_keys(keys)?;
        }
        if let Some(model) = self.model {
            next.model = parse_model(next.runtime_kind, &model, &next.llm_keys)?;
        }
        if let Some(channels) = self.channels {
            next.channels = channels;
        }
        if let Some(agents) = self.agents {
            next.extra_agents = agents;
        }

        check_spec(&next)?;
        Ok(next)
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.model.is_none()
            && self.description.is_none()
            && self.llm_keys.is_none()
            && self.runtime_kind.is_none()
            && self.size.is_none()
            && self.channels.is_none()
            && self.agents.is_none()
    }
}

/// Checks the rules that join several fields.
fn check_spec(spec: &AgentSpec) -> Result<(), ValidationError> {
    require_key_for("llm_keys", &spec.model, &spec.llm_keys, "model")?;
    spec.channels.validate()?;
    validate_extra_agents(spec)?;
    Ok(())
}

fn validate_name(name: Option<&str>) -> Result<String, ValidationError> {
    let name = name.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(ValidationError::new("name", "is required"));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(ValidationError::new("name", format!("must be at most {NAME_MAX_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new("name", "must not contain control characters"));
    }
    Ok(name.to_string())
}

fn validate_description(description: Option<String>) -> Result<Option<String>, ValidationError> {
    let Some(description) = description else { return Ok(None) };
    let description = description.trim().to_string();
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(ValidationError::new(
            "description",
            format!("must be at most {DESCRIPTION_MAX_CHARS} characters"),
        ));
    }
    if description.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ValidationError::new("description", "must not contain control characters"));
    }
    Ok((!description.is_empty()).then_some(description))
}

fn parse_runtime_kind(value: Option<&str>) -> Result<RuntimeKind, ValidationError> {
    match value {
        None => Ok(RuntimeKind::default()),
        Some(value) => RuntimeKind::parse(value).ok_or_else(|| {
            ValidationError::new(
                "runtime_kind",
                format!("must be \"openclaw\" or \"hermes\", got {value:?}"),
            )
        }),
    }
}

fn parse_size(value: Option<&str>) -> Result<Size, ValidationError> {
    match value {
        None => Ok(Size::default()),
        Some(value) => Size::parse(value).ok_or_else(|| {
            ValidationError::new(
                "size",
                format!("must be one of \"small\", \"medium\", \"large\", \"xlarge\", got {value:?}"),
            )
        }),
    }
}

fn validate_llm_keys(keys: Vec<LlmKey>) -> Result<Vec<LlmKey>, ValidationError> {
    if keys.len() > LLM_KEYS_MAX {
        return Err(ValidationError::new("llm_keys", format!("must have at most {LLM_KEYS_MAX} entries")));
    }

    let mut seen = BTreeSet::new();
    for (index, key) in keys.iter().enumerate() {
        if !is_valid_provider(&key.provider) {
            return Err(ValidationError::new(
                format!("llm_keys[{index}].provider"),
                format!("{:?} is not a provider id: use lowercase letters, digits, '-' or '_'", key.provider),
            ));
        }
        if !seen.insert(key.provider.as_str()) {
            return Err(ValidationError::new(
                format!("llm_keys[{index}].provider"),
                format!("{:?} appears more than once", key.provider),
            ));
        }
        if key.api_key.is_empty() {
            return Err(ValidationError::new(format!("llm_keys[{index}].api_key"), "is required"));
        }
        if key.api_key.chars().count() > API_KEY_MAX_CHARS {
            return Err(ValidationError::new(
                format!("llm_keys[{index}].api_key"),
                format!("must be at most {API_KEY_MAX_CHARS} characters"),
            ));
        }
        if key.api_key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ValidationError::new(
                format!("llm_keys[{index}].api_key"),
                "must not contain whitespace",
            ));
        }
    }
    Ok(keys)
}

fn require_key_for(
    field: &str,
    model: &ModelRef,
    keys: &[LlmKey],
    model_field: &str,
) -> Result<(), ValidationError> {
    if keys.iter().any(|key| key.provider == model.provider) {
        return Ok(());
    }
    Err(ValidationError::new(
        field,
        format!(
            "has no key for provider {:?}, which {model_field} {:?} uses; add {{\"provider\": {:?}, \"api_key\": \"...\"}}",
            model.provider,
            format!("{}/{}", model.provider, model.name),
            model.provider
        ),
    ))
}

fn validate_extra_agents(spec: &AgentSpec) -> Result<(), ValidationError> {
    if spec.extra_agents.is_empty() {
        return Ok(());
    }
    if !spec.runtime_kind.supports_extra_agents() {
        return Err(ValidationError::new(
            "agents",
            "is not supported by the hermes runtime, which runs a single primary agent per sandbox; use runtime_kind \"openclaw\" for several agents",
        ));
    }
    if spec.extra_agents.len() > EXTRA_AGENTS_MAX {
        return Err(ValidationError::new("agents", format!("must have at most {EXTRA_AGENTS_MAX} entries")));
    }

    let mut seen = BTreeSet::new();
    for (index, agent) in spec.extra_agents.iter().enumerate() {
        let field = format!("agents[{index}].name");
        let name = agent.name.as_str();
        let well_formed = !name.is_empty()
            && name.len() <= EXTRA_AGENT_NAME_MAX
            && name.as_bytes()[0].is_ascii_lowercase()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !well_formed {
            return Err(ValidationError::new(
                field,
                format!("{name:?} must be 1 to {EXTRA_AGENT_NAME_MAX} lowercase letters, digits or '-', starting with a letter"),
            ));
        }
        if name == "main" || name == "default" {
            return Err(ValidationError::new(field, format!("{name:?} is reserved for the primary agent")));
        }
        if !seen.insert(name) {
            return Err(ValidationError::new(field, format!("{name:?} appears more than once")));
        }
        if let Some(model) = &agent.model {
            let model_field = format!("agents[{index}].model");
            let parsed = parse_model(RuntimeKind::Openclaw, model, &spec.llm_keys)
                .map_err(|err| ValidationError::new(model_field.clone(), err.message))?;
            require_key_for("llm_keys", &parsed, &spec.llm_keys, &model_field)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::TelegramChannel;

    fn quickstart() -> CreateAgent {
        CreateAgent {
            name: Some("Support Bot".into()),
            model: Some("anthropic/claude-sonnet-4-6".into()),
            description: Some("Handles customer support".into()),
            llm_keys: vec![LlmKey { provider: "anthropic".into(), api_key: "sk-ant-api03-abcdef".into() }],
            ..CreateAgent::default()
        }
    }

    fn field_of(result: Result<AgentSpec, ValidationError>) -> String {
        result.unwrap_err().field
    }

    #[test]
    fn quickstart_body_is_valid_with_defaults() {
        let spec = quickstart().validate().unwrap();
        assert_eq!(spec.runtime_kind, RuntimeKind::Openclaw);
        assert_eq!(spec.size, Size::Medium);
        assert_eq!(spec.model.provider, "anthropic");
    }

    #[test]
    fn missing_name_is_named() {
        let err = CreateAgent { name: None, ..quickstart() }.validate().unwrap_err();
        assert_eq!(err.to_string(), "name is required");
    }

    #[test]
    fn each_field_error_is_named() {
        assert_eq!(field_of(CreateAgent { name: Some("x".repeat(101)), ..quickstart() }.validate()), "name");
        assert_eq!(field_of(CreateAgent { model: None, ..quickstart() }.validate()), "model");
        assert_eq!(field_of(CreateAgent { size: Some("huge".into()), ..quickstart() }.validate()), "size");
        assert_eq!(
            field_of(CreateAgent { runtime_kind: Some("docker".into()), ..quickstart() }.validate()),
            "runtime_kind"
        );
        assert_eq!(
            field_of(CreateAgent { description: Some("d".repeat(2001)), ..quickstart() }.validate()),
            "description"
        );
        assert_eq!(field_of(CreateAgent { llm_keys: vec![], ..quickstart() }.validate()), "llm_keys");
    }

    #[test]
    fn duplicate_provider_rejected() {
        let mut request = quickstart();
        request.llm_keys.push(request.llm_keys[0].clone());
        assert_eq!(field_of(request.validate()), "llm_keys[1].provider");
    }

    #[test]
    fn hermes_rejects_extra_agents() {
        let request = CreateAgent {
            runtime_kind: Some("hermes".into()),
            agents: Some(vec![ExtraAgent { name: "research".into(), model: None }]),
            ..quickstart()
        };
        let err = request.validate().unwrap_err();
        assert_eq!(err.field, "agents");
        assert!(err.message.contains("hermes"));
    }

    #[test]
    fn extra_agent_names_checked() {
        let request = CreateAgent {
            agents: Some(vec![
                ExtraAgent { name: "research".into(), model: None },
                ExtraAgent { name: "main".into(), model: None },
            ]),
            ..quickstart()
        };
        assert_eq!(field_of(request.validate()), "agents[1].name");
    }

    #[test]
    fn initial_file_paths_checked() {
        for bad in ["", "/etc/passwd", "../x", "a/../b", ".env", "notes/.hidden", "a//b"] {
            let files = std::collections::BTreeMap::from([(bad.to_string(), "x".to_string())]);
            let err = CreateAgent { files: Some(files), ..quickstart() }.validate().unwrap_err();
            assert_eq!(err.field, format!("files.{bad}"), "{bad:?}");
        }
        let files = std::collections::BTreeMap::from([
            ("SOUL.md".to_string(), "be kind".to_string()),
            ("notes/todo.md".to_string(), "- ship".to_string()),
        ]);
        assert!(CreateAgent { files: Some(files), ..quickstart() }.validate().is_ok());

        let reserved = std::collections::BTreeMap::from([("config.yaml".to_string(), "x".to_string())]);
        let hermes = CreateAgent { runtime_kind: Some("hermes".into()), files: Some(reserved), ..quickstart() };
        assert_eq!(hermes.validate().unwrap_err().field, "files.config.yaml");
    }

    #[test]
    fn update_keeps_untouched_fields() {
        let current = quickstart().validate().unwrap();
        let update = UpdateAgent { size: Some("large".into()), ..UpdateAgent::default() };
        let next = update.apply(&current).unwrap();
        assert_eq!(next.size, Size::Large);
        assert_eq!(next.name, current.name);
    }

    #[test]
    fn update_rejects_runtime_change() {
        let current = quickstart().validate().unwrap();
        let update = UpdateAgent { runtime_kind: Some("hermes".into()), ..UpdateAgent::default() };
        assert_eq!(update.apply(&current).unwrap_err().field, "runtime_kind");
    }

    #[test]
    fn update_model_needs_matching_key() {
        let current = quickstart().validate().unwrap();
        let update = UpdateAgent { model: Some("openai/gpt-4o".into()), ..UpdateAgent::default() };
        assert_eq!(update.apply(&current).unwrap_err().field, "llm_keys");
    }

    #[test]
    fn channel_errors_surface_through_create() {
        let request = CreateAgent {
            channels: Some(Channels {
                telegram: Some(TelegramChannel { bot_token: "nope".into(), allow_from: vec![] }),
                ..Channels::default()
            }),
            ..quickstart()
        };
        assert_eq!(field_of(request.validate()), "channels.telegram.botToken");
    }
}
