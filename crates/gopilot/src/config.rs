//! Server settings: defaults, then a TOML file, then `GOPILOT_*` variables.
//!
//! Nested keys use a double underscore in the environment:
//! `GOPILOT_RATE_LIMIT__BURST=50` sets `rate_limit.burst`. `GOPILOT_CONFIG` (the
//! file) and `GOPILOT_LOG` (the log filter) are read elsewhere; `GOPILOT_TEST_*`
//! variables belong to the test suite.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use gopilot_api::rate_limit::RateLimitConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting, each with a default that serves one machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// Directory for the store, master key, images and sandboxes.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; empty means `<data_dir>/gopilot.db`.
    pub database_url: String,
    /// Base64 of a 32-byte master key; empty means `<data_dir>/master.key`.
    pub master_key: String,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Domain for agents' hostnames: `<runtime>-<id>.<agents_domain>`.
    pub agents_domain: String,
    pub rate_limit: RateLimitConfig,
    /// `text` or `json`.
    pub log_format: LogFormat,
    #[serde(default)]
    pub sandbox: SandboxSettings,
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    /// The LLM gateway, which holds the provider keys and meters usage.
    #[serde(default)]
    pub gateway: crate::gateway::GatewaySettings,
}

/// Where agents run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    /// `runc` (the default; needs root) or `none`, which keeps agents as
    /// records without sandboxes, for API development.
    pub backend: SandboxBackend,
    /// OCI runtime binary: `runc`, or `runsc` for gVisor.
    pub oci_runtime: String,
    /// Subnet of the agents' bridge, in CIDR form. It must not overlap the
    /// host's networks.
    pub subnet: String,
    /// Name of the host bridge the sandboxes attach to.
    pub bridge: String,
    /// Name of the nftables table that holds the sandboxes' rules.
    pub nft_table: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxBackend {
    Runc,
    None,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            backend: SandboxBackend::Runc,
            oci_runtime: "runc".into(),
            subnet: "10.231.0.0/16".into(),
            bridge: "gopilot0".into(),
            nft_table: "gopilot".into(),
        }
    }
}

/// Timings of the agent lifecycle, in seconds unless named otherwise.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleConfig {
    /// How long `POST /v1/agents` waits for the agent to run before it answers 202.
    pub create_wait_secs: u64,
    /// How long a runtime may take to report ready after its sandbox starts.
    pub ready_timeout_secs: u64,
    /// Time between SIGTERM and SIGKILL when an agent stops.
    pub stop_grace_secs: u64,
    /// Pause agents without channels after this long without API use; 0 never pauses.
    pub idle_pause_secs: u64,
    /// Interval of the reconciler, in milliseconds.
    pub reconcile_interval_ms: u64,
    /// Browser origin allowed to open a runtime's own web UI.
    pub control_origin: String,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            create_wait_secs: 60,
            ready_timeout_secs: 120,
            stop_grace_secs: 10,
            idle_pause_secs: 900,
            reconcile_interval_ms: 2000,
            control_origin: "http://127.0.0.1:8080".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            master_key: String::new(),
            max_body_bytes: 1024 * 1024,
            agents_domain: "agents.localhost".into(),
            rate_limit: RateLimitConfig::default(),
            log_format: LogFormat::Text,
            sandbox: SandboxSettings::default(),
            lifecycle: LifecycleConfig::default(),
            gateway: crate::gateway::GatewaySettings::default(),
        }
    }
}

/// A settings file or variable that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("invalid configuration: {field} {message}")]
    Field { field: &'static str, message: String },
}

impl Config {
    /// Loads defaults, then `file` when given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::MissingFile(file.to_path_buf()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(
            Env::prefixed("GOPILOT_")
                .split("__")
                .ignore(&["config", "log"])
                .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_")),
        );

        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.rate_limit.burst == 0 {
            return Err(ConfigError::Field { field: "rate_limit.burst", message: "must be at least 1".into() });
        }
        if !(self.rate_limit.per_second > 0.0 && self.rate_limit.per_second.is_finite()) {
            return Err(ConfigError::Field {
                field: "rate_limit.per_second",
                message: "must be a positive number".into(),
            });
        }
        if self.sandbox.subnet.parse::<gopilot_sandbox::runc::Ipv4Subnet>().is_err() {
            return Err(ConfigError::Field {
                field: "sandbox.subnet",
                message: format!("{:?} is not an IPv4 subnet such as 10.231.0.0/16", self.sandbox.subnet),
            });
        }
        if self.lifecycle.reconcile_interval_ms < 100 {
            return Err(ConfigError::Field {
                field: "lifecycle.reconcile_interval_ms",
                message: "must be at least 100".into(),
            });
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Field { field: "max_body_bytes", message: "must be at least 1024".into() });
        }
        if self.agents_domain.is_empty() || self.agents_domain.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(ConfigError::Field {
                field: "agents_domain",
                message: format!("{:?} is not a domain name", self.agents_domain),
            });
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            gopilot_store::Store::sqlite_url_for(&self.data_dir)
        } else {
            self.database_url.clone()
        }
    }
}
