//! Checks `openclaw.json` against the JSON Schema that the installed
//! OpenClaw prints with `openclaw config schema`. The image build saves that
//! schema as `openclaw.schema.json` beside the image's root filesystem.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::render::RenderError;

/// Failure to load OpenClaw's schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("failed to read OpenClaw schema {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("OpenClaw schema {path} is not JSON: {source}; rebuild the image to dump it again")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("OpenClaw schema is not a valid JSON Schema: {reason}")]
    Compile { reason: String },
}

/// A compiled OpenClaw config schema.
pub struct OpenclawValidator {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for OpenclawValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenclawValidator").finish_non_exhaustive()
    }
}

impl OpenclawValidator {
    /// Loads and compiles the schema at `path`, such as an image's
    /// `openclaw.schema.json`.
    pub fn from_schema_file(path: &Path) -> Result<OpenclawValidator, SchemaError> {
        let text = std::fs::read(path).map_err(|source| SchemaError::Read { path: path.to_path_buf(), source })?;
        let schema: Value =
            serde_json::from_slice(&text).map_err(|source| SchemaError::Parse { path: path.to_path_buf(), source })?;
        OpenclawValidator::from_schema(&schema)
    }

    pub fn from_schema(schema: &Value) -> Result<OpenclawValidator, SchemaError> {
        let mut schema = schema.clone();
        rewrite_nul_escapes(&mut schema);
        anchor_embedded_defs(&mut schema, "", None);
        let validator =
            jsonschema::validator_for(&schema).map_err(|error| SchemaError::Compile { reason: error.to_string() })?;
        Ok(OpenclawValidator { validator })
    }

    /// Checks a whole `openclaw.json` document. An error in a part that
    /// comes from the agent request becomes [`RenderError::InvalidConfig`]
    /// naming the request field; any other error is [`RenderError::Rejected`].
    /// Messages never contain the rejected value, which may be a token.
    pub fn validate(&self, config: &Value) -> Result<(), RenderError> {
        let mut first_rejected = None;
        for error in self.validator.iter_errors(config) {
            let path = error.instance_path().as_str().to_string();
            let message = error.masked().to_string();
            if let Some(field) = request_field(&path) {
                return Err(RenderError::invalid_config(
                    field,
                    format!("is rejected by OpenClaw's config schema at {path}: {message}"),
                ));
            }
            first_rejected.get_or_insert(RenderError::Rejected { runtime: "openclaw", path, message });
        }
        match first_rejected {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// Rewrites the ECMAScript escape `\0` (NUL) as `\x00` in every `pattern`.
/// OpenClaw's schema uses `[^\0]`, which JavaScript accepts but the
/// `jsonschema` crate's pattern check rejects; both mean the same character.
fn rewrite_nul_escapes(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(pattern) if key == "pattern" => *pattern = rewrite_pattern(pattern),
                    _ => rewrite_nul_escapes(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_nul_escapes),
        _ => {}
    }
}

fn rewrite_pattern(pattern: &str) -> String {
    let mut rewritten = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            rewritten.push(c);
            continue;
        }
        match chars.next() {
            Some('0') if !chars.peek().is_some_and(char::is_ascii_digit) => rewritten.push_str("\\x00"),
            Some(escaped) => {
                rewritten.push('\\');
                rewritten.push(escaped);
            }
            None => rewritten.push('\\'),
        }
    }
    rewritten
}

/// Rewrites `#/$defs/...` references inside an embedded schema that has its
/// own `$defs` to absolute pointers. OpenClaw embeds plugin config schemas
/// (such as `plugins.entries.imap.config`) whose references are relative to
/// the plugin schema, without an `$id` that would make them resolvable.
fn anchor_embedded_defs(schema: &mut Value, pointer: &str, base: Option<&str>) {
    match schema {
        Value::Object(map) => {
            let own_base = (!pointer.is_empty() && map.contains_key("$defs")).then(|| pointer.to_string());
            let base = own_base.as_deref().or(base);
            for (key, value) in map.iter_mut() {
                if let (Some(base), "$ref", Value::String(reference)) = (base, key.as_str(), &*value) {
                    if let Some(rest) = reference.strip_prefix("#/$defs/") {
                        *value = Value::String(format!("#{base}/$defs/{rest}"));
                        continue;
                    }
                }
                let child = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                anchor_embedded_defs(value, &child, base);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                anchor_embedded_defs(item, &format!("{pointer}/{index}"), base);
            }
        }
        _ => {}
    }
}

/// Maps a JSON pointer into `openclaw.json` to the agent request field that
/// produced it, or `None` for parts that the platform sets.
fn request_field(pointer: &str) -> Option<String> {
    let segments: Vec<String> =
        pointer.split('/').skip(1).map(|segment| segment.replace("~1", "/").replace("~0", "~")).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();

    let field = match segments.as_slice() {
        ["channels", "discord", "token", ..] => "channels.discord.botToken".to_string(),
        ["channels", kind, key @ ("botToken" | "appToken" | "allowFrom"), ..] => format!("channels.{kind}.{key}"),
        ["channels", kind, ..] => format!("channels.{kind}"),
        ["agents", "defaults", "model", ..] | ["agents", "entries", "main", "model", ..] => "model".to_string(),
        ["agents", "entries", "main", key @ ("name" | "description"), ..] => key.to_string(),
        ["agents", "entries", ..] => "agents".to_string(),
        ["models", "providers", _, "models", ..] => "model".to_string(),
        ["models", "providers", ..] => "llm_keys".to_string(),
        _ => return None,
    };
    Some(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escape_rewritten() {
        assert_eq!(rewrite_pattern(r"^\/(?!\/)[^\0]*[^/\0]$"), r"^\/(?!\/)[^\x00]*[^/\x00]$");
        assert_eq!(rewrite_pattern(r"\\0 \01"), r"\\0 \01");
    }

    #[test]
    fn embedded_defs_anchored() {
        let mut schema = serde_json::json!({
            "properties": {"plugin": {
                "$defs": {"account": {"type": "string"}},
                "properties": {"accounts": {"$ref": "#/$defs/account"}},
            }},
        });
        anchor_embedded_defs(&mut schema, "", None);
        assert_eq!(schema["properties"]["plugin"]["properties"]["accounts"]["$ref"], "#/properties/plugin/$defs/account");
        let validator = OpenclawValidator::from_schema(&schema).unwrap();
        assert!(validator.validate(&serde_json::json!({"plugin": {"accounts": 1}})).is_err());
    }

    #[test]
    fn pointers_map_to_request_fields() {
        assert_eq!(request_field("/channels/telegram/botToken").as_deref(), Some("channels.telegram.botToken"));
        assert_eq!(request_field("/channels/discord/token").as_deref(), Some("channels.discord.botToken"));
        assert_eq!(request_field("/channels/slack/allowFrom/0").as_deref(), Some("channels.slack.allowFrom"));
        assert_eq!(request_field("/agents/entries/main/model").as_deref(), Some("model"));
        assert_eq!(request_field("/agents/entries/helper/model").as_deref(), Some("agents"));
        assert_eq!(request_field("/gateway/customBindHost"), None);
    }
}
