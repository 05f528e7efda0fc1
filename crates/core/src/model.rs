//! Model names and their provider.
//!
//! OpenClaw addresses models as `provider/model`; Hermes stores the bare model
//! name and its provider apart. Both are held here as a [`ModelRef`].

use serde::{Deserialize, Serialize};

use crate::agent::{LlmKey, RuntimeKind};
use crate::validate::ValidationError;

/// A model and the provider that serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    pub provider: String,
    pub name: String,
}

impl ModelRef {
    /// Returns the model as the public API shows it for `runtime`:
    /// `provider/model` for OpenClaw, the bare name for Hermes.
    pub fn display(&self, runtime: RuntimeKind) -> String {
        match runtime {
            RuntimeKind::Openclaw => format!("{}/{}", self.provider, self.name),
            RuntimeKind::Hermes => self.name.clone(),
        }
    }
}

/// Returns true for a provider id such as `anthropic` or `my-vllm`.
pub fn is_valid_provider(provider: &str) -> bool {
    !provider.is_empty()
        && provider.len() <= 40
        && provider.as_bytes()[0].is_ascii_lowercase()
        && provider
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_valid_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'/' | b'@'))
        && !name.starts_with('/')
        && !name.ends_with('/')
}

/// Parses the `model` field for `runtime`.
///
/// OpenClaw requires `provider/model`. Hermes accepts `provider/model` and
/// splits it, or a bare name whose provider is the only one in `llm_keys`.
/// Model names may themselves contain `/` (OpenRouter's `vendor/model`), so
/// only the first `/` separates the provider.
pub fn parse_model(
    runtime: RuntimeKind,
    model: &str,
    llm_keys: &[LlmKey],
) -> Result<ModelRef, ValidationError> {
    let model = model.trim();
    if model.is_empty() {
        return Err(ValidationError::new("model", "is required"));
    }

    if let Some((provider, name)) = model.split_once('/') {
        if !is_valid_provider(provider) {
            return Err(ValidationError::new(
                "model",
                format!("provider {provider:?} in {model:?} must be lowercase letters, digits, '-' or '_'"),
            ));
        }
        if !is_valid_model_name(name) {
            return Err(ValidationError::new(
                "model",
                format!("{model:?} has an empty model name or one with characters other than letters, digits and . - _ : / @"),
            ));
        }
        return Ok(ModelRef { provider: provider.to_string(), name: name.to_string() });
    }

    match runtime {
        RuntimeKind::Openclaw => Err(ValidationError::new(
            "model",
            format!("must name its provider for openclaw agents, such as \"anthropic/{model}\", got {model:?}"),
        )),
        RuntimeKind::Hermes => {
            if !is_valid_model_name(model) {
                return Err(ValidationError::new(
                    "model",
                    format!("{model:?} has characters other than letters, digits and . - _ : @"),
                ));
            }
            match llm_keys {
                [only] => Ok(ModelRef { provider: only.provider.clone(), name: model.to_string() }),
                _ => Err(ValidationError::new(
                    "model",
                    format!("bare model {model:?} needs exactly one llm_keys entry to infer its provider; write it as \"provider/{model}\""),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(provider: &str) -> LlmKey {
        LlmKey { provider: provider.into(), api_key: "sk-test-0123456789".into() }
    }

    #[test]
    fn openclaw_needs_prefix() {
        let err = parse_model(RuntimeKind::Openclaw, "claude-sonnet-4-6", &[key("anthropic")]).unwrap_err();
        assert_eq!(err.field, "model");
        assert!(err.message.contains("anthropic/claude-sonnet-4-6"));
    }

    #[test]
    fn openclaw_prefixed_model_parses() {
        let model = parse_model(RuntimeKind::Openclaw, "anthropic/claude-sonnet-4-6", &[]).unwrap();
        assert_eq!(model, ModelRef { provider: "anthropic".into(), name: "claude-sonnet-4-6".into() });
        assert_eq!(model.display(RuntimeKind::Openclaw), "anthropic/claude-sonnet-4-6");
    }

    #[test]
    fn hermes_splits_prefix_and_shows_bare_name() {
        let model = parse_model(RuntimeKind::Hermes, "anthropic/claude-sonnet-4-6", &[]).unwrap();
        assert_eq!(model.provider, "anthropic");
        assert_eq!(model.display(RuntimeKind::Hermes), "claude-sonnet-4-6");
    }

    #[test]
    fn hermes_bare_model_takes_single_key_provider() {
        let model = parse_model(RuntimeKind::Hermes, "gpt-4o", &[key("openai")]).unwrap();
        assert_eq!(model.provider, "openai");
        let err = parse_model(RuntimeKind::Hermes, "gpt-4o", &[key("openai"), key("anthropic")]).unwrap_err();
        assert!(err.message.contains("exactly one"));
    }

    #[test]
    fn openrouter_model_keeps_inner_slash() {
        let model = parse_model(RuntimeKind::Openclaw, "openrouter/meta-llama/llama-3-70b", &[]).unwrap();
        assert_eq!(model.provider, "openrouter");
        assert_eq!(model.name, "meta-llama/llama-3-70b");
    }

    #[test]
    fn bad_shapes_rejected() {
        for bad in ["/claude", "Anthropic/claude", "anthropic/", "anthropic/has space", "a/b/"] {
            assert!(parse_model(RuntimeKind::Openclaw, bad, &[]).is_err(), "{bad}");
        }
    }
}
