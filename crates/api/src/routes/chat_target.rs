//! The agent a chat request addresses, read from its `model` field.
//!
//! On `POST /v1/chat/completions` the model is `<agent id>`, `agent:<agent
//! id>`, or either followed by `/<extra agent>`; these are also the ids that
//! `GET /v1/models` lists. On `POST /v1/agents/{id}/chat/completions` the
//! model may be left out (the primary agent), or be one of those forms for
//! the same agent, or the bare name of an extra agent.

use gopilot_core::id::is_valid_id;

use crate::error::ApiError;

/// Name of the primary agent of a sandbox, as runtimes call it.
pub const PRIMARY_AGENT: &str = "main";

/// Maximum length of an extra agent name, as agent validation allows.
const EXTRA_AGENT_NAME_MAX: usize = 32;

/// An agent, and optionally one of the extra agents in its sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTarget {
    pub agent_id: String,
    /// `None` for the primary agent.
    pub extra_agent: Option<String>,
}

/// Parses `[agent:]<id>[/<extra agent>]`, or returns `None`.
pub fn parse_model_ref(model: &str) -> Option<ChatTarget> {
    let reference = model.strip_prefix("agent:").unwrap_or(model);
    let (agent_id, extra_agent) = match reference.split_once('/') {
        Some((id, extra)) => (id, Some(extra)),
        None => (reference, None),
    };
    if !is_valid_id(agent_id) {
        return None;
    }
    if let Some(extra) = extra_agent {
        if !is_valid_extra_agent_name(extra) {
            return None;
        }
    }
    Some(ChatTarget {
        agent_id: agent_id.to_string(),
        extra_agent: extra_agent.filter(|name| *name != PRIMARY_AGENT).map(str::to_string),
    })
}

/// Reads the target of `POST /v1/chat/completions` from its `model` value.
pub fn target_from_model(model: Option<&str>) -> Result<ChatTarget, ApiError> {
    let Some(model) = model else {
        return Err(ApiError::InvalidRequest(
            "model is required: set it to an agent id, agent:<id>, or <id>/<extra agent> as GET /v1/models lists them"
                .into(),
            Some("model".into()),
        ));
    };
    parse_model_ref(model).ok_or_else(|| {
        ApiError::InvalidRequest(
            format!(
                "model {model:?} is not an agent reference: use an agent id, agent:<id>, or <id>/<extra agent> as GET /v1/models lists them"
            ),
            Some("model".into()),
        )
    })
}

/// Reads the target of `POST /v1/agents/{agent_id}/chat/completions`.
pub fn target_for_agent(agent_id: &str, model: Option<&str>) -> Result<ChatTarget, ApiError> {
    let primary = ChatTarget { agent_id: agent_id.to_string(), extra_agent: None };
    let Some(model) = model.filter(|model| !model.is_empty()) else {
        return Ok(primary);
    };
    if model == PRIMARY_AGENT {
        return Ok(primary);
    }

    if let Some(target) = parse_model_ref(model) {
        if target.agent_id == agent_id {
            return Ok(target);
        }
        // `agent:` or a slash means the caller named an agent, but another one.
        if model.starts_with("agent:") || model.contains('/') {
            return Err(ApiError::InvalidRequest(
                format!("model {model:?} names agent {:?}, but the path names agent {agent_id:?}", target.agent_id),
                Some("model".into()),
            ));
        }
    }

    if is_valid_extra_agent_name(model) {
        return Ok(ChatTarget { agent_id: agent_id.to_string(), extra_agent: Some(model.to_string()) });
    }
    Err(ApiError::InvalidRequest(
        format!("model {model:?} is not an agent reference: leave it out for the primary agent, or name an extra agent"),
        Some("model".into()),
    ))
}

/// Extra agent names: lowercase letters, digits and `-`, 1 to 32 characters.
fn is_valid_extra_agent_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= EXTRA_AGENT_NAME_MAX
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(agent_id: &str, extra_agent: Option<&str>) -> ChatTarget {
        ChatTarget { agent_id: agent_id.into(), extra_agent: extra_agent.map(Into::into) }
    }

    #[test]
    fn model_ref_forms() {
        let cases = [
            ("ag1abc", Some(target("ag1abc", None))),
            ("agent:ag1abc", Some(target("ag1abc", None))),
            ("ag1abc/research", Some(target("ag1abc", Some("research")))),
            ("agent:ag1abc/research-2", Some(target("ag1abc", Some("research-2")))),
            ("agent:ag1abc/main", Some(target("ag1abc", None))),
            // Well formed, so it is an agent reference; the lookup fails later.
            ("openai/gpt-4o", Some(target("openai", Some("gpt-4o")))),
            ("gpt-4o", None),
            ("openai/gpt.4o", None),
            ("agent:", None),
            ("ag1abc/", None),
            ("ag1abc/Research", None),
            ("AG1ABC", None),
            ("", None),
        ];
        for (model, expected) in cases {
            assert_eq!(parse_model_ref(model), expected, "model {model:?}");
        }
    }

    #[test]
    fn missing_model_names_field() {
        let err = target_from_model(None).unwrap_err();
        assert!(matches!(err, ApiError::InvalidRequest(_, Some(ref field)) if field == "model"), "{err:?}");
    }

    #[test]
    fn agent_route_defaults_to_primary() {
        assert_eq!(target_for_agent("ag1", None).unwrap(), target("ag1", None));
        assert_eq!(target_for_agent("ag1", Some("main")).unwrap(), target("ag1", None));
        assert_eq!(target_for_agent("ag1", Some("agent:ag1")).unwrap(), target("ag1", None));
    }

    #[test]
    fn agent_route_accepts_extra_agent_forms() {
        assert_eq!(target_for_agent("ag1", Some("research")).unwrap(), target("ag1", Some("research")));
        assert_eq!(target_for_agent("ag1", Some("ag1/research")).unwrap(), target("ag1", Some("research")));
    }

    #[test]
    fn agent_route_rejects_other_agent() {
        let err = target_for_agent("ag1", Some("agent:ag2")).unwrap_err();
        assert!(err.to_string().contains("ag2"), "{err}");
        assert!(target_for_agent("ag1", Some("ag2/research")).is_err());
        assert!(target_for_agent("ag1", Some("openai/gpt-4o")).is_err());
        assert!(target_for_agent("ag1", Some("gpt.4o")).is_err());
    }
}
