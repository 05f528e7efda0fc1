//! `GuestConfig`, the JSON file that `gopilot-guest --config PATH` reads at start.
//!
//! The control plane writes this file onto the agent's volume before it starts
//! the sandbox. It can call [`GuestConfig::validate`] first, so a bad value is
//! reported to the caller instead of crash-looping the sandbox.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Config path used when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/gopilot/guest.json";

/// Address the guest API listens on when `api_listen` is not set.
pub const DEFAULT_API_LISTEN: &str = "0.0.0.0:7077";

/// Minimum length of `api_token`, in characters.
pub const MIN_API_TOKEN_LEN: usize = 32;

/// Everything the guest needs to supervise one runtime and serve its API.
///
/// Unknown fields are rejected, so a misspelt key fails at start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestConfig {
    /// Program and arguments of the runtime, e.g. `["hermes", "gateway", "run"]`.
    /// A program without `/` is looked up in `PATH`.
    pub command: Vec<String>,
    /// Environment of the runtime, on top of a clean base of `PATH`, `HOME`
    /// and `LANG`. The guest's own environment is not passed on.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory of the runtime; absolute.
    #[serde(default = "default_workdir")]
    pub workdir: PathBuf,
    /// `IP:PORT` the guest API listens on.
    #[serde(default = "default_api_listen")]
    pub api_listen: String,
    /// Bearer token that every guest API request must carry; at least
    /// [`MIN_API_TOKEN_LEN`] visible ASCII characters.
    pub api_token: String,
    /// How to tell that the runtime serves requests. Without it the runtime
    /// counts as ready while its process is alive.
    #[serde(default)]
    pub readiness: Option<ReadinessConfig>,
    /// Directory that the file API exposes; absolute. Created at start when missing.
    pub workspace_root: PathBuf,
    /// File or directory names that the file API never lists, reads, writes or
    /// deletes, at any depth, e.g. `.env`, `config.yaml`, `.gopilot`.
    #[serde(default)]
    pub hidden_files: Vec<String>,
    /// Maximum body size of a file upload, in bytes.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// File that runtime output lines are appended to; absolute.
    #[serde(default = "default_log_path")]
    pub log_path: PathBuf,
    /// Size in bytes at which the log file is rotated to `<log_path>.1`, which
    /// replaces the previous rotation, so the logs take at most twice this much.
    #[serde(default = "default_log_max_bytes")]
    pub log_max_bytes: u64,
    /// Number of recent lines kept in memory for `GET /v1/logs`.
    #[serde(default = "default_log_buffer_lines")]
    pub log_buffer_lines: usize,
    #[serde(default)]
    pub restart: RestartPolicy,
    /// Time between SIGTERM and SIGKILL when the runtime is stopped, in milliseconds.
    #[serde(default = "default_stop_grace_ms")]
    pub stop_grace_ms: u64,
}

/// HTTP readiness check of the runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessConfig {
    /// Plain `http://` URL inside the sandbox, e.g. `http://127.0.0.1:18789/readyz`.
    pub url: String,
    #[serde(default)]
    pub expect: ReadinessExpect,
    /// Time allowed for one check, connection included, in milliseconds.
    #[serde(default = "default_readiness_timeout_ms")]
    pub timeout_ms: u64,
}

/// Condition a readiness response must meet to count as ready.
///
/// JSON forms: `{"kind": "status_2xx"}` (the default) and
/// `{"kind": "json_field", "pointer": "/ready", "equals": true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReadinessExpect {
    /// Any 2xx status.
    #[default]
    #[serde(rename = "status_2xx")]
    Status2xx,
    /// A 2xx status and a JSON body whose value at `pointer` (RFC 6901, e.g.
    /// `/ready`) equals `equals`.
    JsonField {
        pointer: String,
        equals: serde_json::Value,
    },
}

/// Exponential backoff between runtime restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    /// Wait before the first restart, in milliseconds; doubled after each quick exit.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Upper bound of the wait, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// A process that stayed up at least this long, in milliseconds, resets the
    /// wait to `initial_backoff_ms`.
    #[serde(default = "default_reset_after_ms")]
    pub reset_after_ms: u64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            reset_after_ms: default_reset_after_ms(),
        }
    }
}

/// A config value that [`GuestConfig::validate`] rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidConfig {
    /// Dotted field name, e.g. `restart.max_backoff_ms`.
    pub field: String,
    /// Problem with the value and the expected form.
    pub reason: String,
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid guest config field `{}`: {}",
            self.field, self.reason
        )
    }
}

impl std::error::Error for InvalidConfig {}

impl GuestConfig {
    /// Checks every field and returns the first invalid one.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        self.validate_command()?;
        self.validate_env()?;
        require_absolute("workdir", &self.workdir)?;

        if self.api_listen.parse::<SocketAddr>().is_err() {
            return invalid(
                "api_listen",
                format!(
                    "`{}` is not an IP:PORT address such as `0.0.0.0:7077`",
                    self.api_listen
                ),
            );
        }

        // The token goes into an HTTP header, so it must be visible ASCII.
        // The value itself is never put into a message.
        if self.api_token.chars().count() < MIN_API_TOKEN_LEN {
            return invalid(
                "api_token",
                format!(
                    "has {} characters but at least {MIN_API_TOKEN_LEN} are required; generate a longer random token",
                    self.api_token.chars().count()
                ),
            );
        }
        if !self.api_token.bytes().all(|b| b.is_ascii_graphic()) {
            return invalid(
                "api_token",
                "must contain only visible ASCII characters (no spaces)",
            );
        }

        if let Some(readiness) = &self.readiness {
            readiness.validate()?;
        }

        require_absolute("workspace_root", &self.workspace_root)?;
        self.validate_hidden_files()?;

        if self.max_file_bytes == 0 {
            return invalid("max_file_bytes", "must be greater than 0");
        }

        require_absolute("log_path", &self.log_path)?;
        if self.log_max_bytes < 4096 {
            return invalid(
                "log_max_bytes",
                format!("is {} but must be at least 4096 bytes", self.log_max_bytes),
            );
        }
        if self.log_buffer_lines == 0 {
            return invalid("log_buffer_lines", "must be greater than 0");
        }

        self.restart.validate()?;

        if self.stop_grace_ms == 0 {
            return invalid("stop_grace_ms", "must be greater than 0");
        }
        Ok(())
    }

    fn validate_command(&self) -> Result<(), InvalidConfig> {
        let Some(program) = self.command.first() else {
            return invalid("command", "is empty; give the program and its arguments, e.g. [\"hermes\", \"gateway\", \"run\"]");
        };
        if program.is_empty() {
            return invalid("command", "the program (first element) is an empty string");
        }
        if self.command.iter().any(|arg| arg.contains('\0')) {
            return invalid("command", "an argument contains a NUL byte");
        }
        Ok(())
    }

    fn validate_env(&self) -> Result<(), InvalidConfig> {
        for (name, value) in &self.env {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return invalid(
                    "env",
                    format!(
                        "`{name}` is not a valid variable name (empty, or contains `=` or NUL)"
                    ),
                );
            }
            if value.contains('\0') {
                return invalid("env", format!("the value of `{name}` contains a NUL byte"));
            }
        }
        Ok(())
    }

    fn validate_hidden_files(&self) -> Result<(), InvalidConfig> {
        for name in &self.hidden_files {
            if name.is_empty()
                || name == "."
                || name == ".."
                || name.contains('/')
                || name.contains('\0')
            {
                return invalid(
                    "hidden_files",
                    format!("`{name}` is not a single file name; give names such as `.env`, without `/`"),
                );
            }
        }
        Ok(())
    }
}

impl ReadinessConfig {
    fn validate(&self) -> Result<(), InvalidConfig> {
        let Some(rest) = self.url.strip_prefix("http://") else {
            return invalid(
                "readiness.url",
                format!(
                    "`{}` must start with `http://`, e.g. `http://127.0.0.1:18789/readyz`",
                    self.url
                ),
            );
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return invalid("readiness.url", format!("`{}` has no host", self.url));
        }

        if let ReadinessExpect::JsonField { pointer, .. } = &self.expect {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return invalid(
                    "readiness.expect.pointer",
                    format!(
                        "`{pointer}` is not a JSON pointer; it must start with `/`, e.g. `/ready`"
                    ),
                );
            }
        }

        if self.timeout_ms == 0 {
            return invalid("readiness.timeout_ms", "must be greater than 0");
        }
        Ok(())
    }
}

impl RestartPolicy {
    fn validate(&self) -> Result<(), InvalidConfig> {
        if self.initial_backoff_ms == 0 {
            return invalid("restart.initial_backoff_ms", "must be greater than 0");
        }
        if self.max_backoff_ms < self.initial_backoff_ms {
            return invalid(
                "restart.max_backoff_ms",
                format!(
                    "is {} but must be at least restart.initial_backoff_ms ({})",
                    self.max_backoff_ms, self.initial_backoff_ms
                ),
            );
        }
        if self.reset_after_ms == 0 {
            return invalid("restart.reset_after_ms", "must be greater than 0");
        }
        Ok(())
    }
}

fn require_absolute(field: &str, path: &Path) -> Result<(), InvalidConfig> {
    if path.is_absolute() {
        Ok(())
    } else {
        invalid(
            field,
            format!("`{}` must be an absolute path", path.display()),
        )
    }
}

fn invalid<T>(field: &str, reason: impl Into<String>) -> Result<T, InvalidConfig> {
    Err(InvalidConfig {
        field: field.to_owned(),
        reason: reason.into(),
    })
}

fn default_workdir() -> PathBuf {
    PathBuf::from("/")
}

fn default_api_listen() -> String {
    DEFAULT_API_LISTEN.to_owned()
}

fn default_max_file_bytes() -> u64 {
    1024 * 1024
}

fn default_log_path() -> PathBuf {
    PathBuf::from("/var/log/gopilot/runtime.log")
}

fn default_log_max_bytes() -> u64 {
    4 * 1024 * 1024
}

fn default_log_buffer_lines() -> usize {
    2000
}

fn default_stop_grace_ms() -> u64 {
    10_000
}

fn default_readiness_timeout_ms() -> u64 {
    1000
}

fn default_initial_backoff_ms() -> u64 {
    1000
}

fn default_max_backoff_ms() -> u64 {
    30_000
}

fn default_reset_after_ms() -> u64 {
    60_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "command": ["/bin/true"],
            "api_token": "0123456789abcdef0123456789abcdef",
            "workspace_root": "/workspace",
        })
    }

    fn parse(value: serde_json::Value) -> GuestConfig {
        serde_json::from_value(value).expect("config parses")
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let config = parse(minimal());

        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.api_listen, DEFAULT_API_LISTEN);
        assert_eq!(config.max_file_bytes, 1024 * 1024);
        assert_eq!(config.stop_grace_ms, 10_000);
        assert_eq!(config.restart, RestartPolicy::default());
        assert_eq!(config.readiness, None);
    }

    #[test]
    fn short_token_names_field() {
        let mut value = minimal();
        value["api_token"] = "short".into();

        let error = parse(value).validate().unwrap_err();

        assert_eq!(error.field, "api_token");
        assert!(error.to_string().contains("at least 32"), "{error}");
    }

    #[test]
    fn empty_command_names_field() {
        let mut value = minimal();
        value["command"] = serde_json::json!([]);

        assert_eq!(parse(value).validate().unwrap_err().field, "command");
    }

    #[test]
    fn bad_fields_are_rejected() {
        let cases = [
            ("api_listen", serde_json::json!("localhost")),
            ("workspace_root", serde_json::json!("relative/dir")),
            ("log_path", serde_json::json!("runtime.log")),
            ("max_file_bytes", serde_json::json!(0)),
            ("stop_grace_ms", serde_json::json!(0)),
            ("hidden_files", serde_json::json!(["a/b"])),
            ("env", serde_json::json!({"A=B": "c"})),
        ];
        for (field, bad) in cases {
            let mut value = minimal();
            value[field] = bad;

            let error = parse(value).validate().unwrap_err();

            assert_eq!(error.field, field);
        }
    }

    #[test]
    fn backoff_bounds_are_checked() {
        let mut value = minimal();
        value["restart"] = serde_json::json!({"initial_backoff_ms": 500, "max_backoff_ms": 100});

        assert_eq!(
            parse(value).validate().unwrap_err().field,
            "restart.max_backoff_ms"
        );
    }

    #[test]
    fn readiness_forms_parse() {
        let mut value = minimal();
        value["readiness"] = serde_json::json!({
            "url": "http://127.0.0.1:18789/readyz",
            "expect": {"kind": "json_field", "pointer": "/ready", "equals": true},
        });
        let config = parse(value.clone());
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(
            config.readiness.unwrap().expect,
            ReadinessExpect::JsonField {
                pointer: "/ready".into(),
                equals: true.into()
            }
        );

        value["readiness"] = serde_json::json!({"url": "https://127.0.0.1/readyz"});
        assert_eq!(parse(value).validate().unwrap_err().field, "readiness.url");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let mut value = minimal();
        value["comand"] = serde_json::json!(["/bin/true"]);

        let error = serde_json::from_value::<GuestConfig>(value).unwrap_err();

        assert!(error.to_string().contains("comand"), "{error}");
    }
}
