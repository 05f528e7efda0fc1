use std::collections::BTreeMap;
use std::path::PathBuf;

use gopilot_guest_api::{GuestConfig, ReadinessConfig, RestartPolicy, DEFAULT_API_LISTEN};

use super::{RenderError, RenderedFile};
use crate::image::GUEST_PATH_IN_IMAGE;

/// Path of the guest supervisor's config, relative to the volume.
pub const GUEST_CONFIG_PATH: &str = ".gopilot/guest.json";

/// Path of the runtime's output log, relative to the volume, so that the log
/// outlives a stop of the sandbox.
pub const RUNTIME_LOG_PATH: &str = ".gopilot/logs/runtime.log";

/// The runtime-specific part of the guest supervisor's config.
#[derive(Debug, Clone)]
pub struct GuestSettings {
    pub volume_mount: &'static str,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub workdir: String,
    pub readiness: ReadinessConfig,
    pub workspace_root: String,
    pub hidden_files: Vec<String>,
}

impl GuestSettings {
    /// Builds the guest config file (mode 0600, because it contains the guest
    /// token) and the sandbox's init command that reads it.
    pub(crate) fn render(self, guest_token: &str) -> Result<(RenderedFile, Vec<String>), RenderError> {
        let config = GuestConfig {
            command: self.command,
            env: self.env,
            workdir: PathBuf::from(self.workdir),
            api_listen: DEFAULT_API_LISTEN.to_string(),
            api_token: guest_token.to_string(),
            readiness: Some(self.readiness),
            workspace_root: PathBuf::from(self.workspace_root),
            hidden_files: self.hidden_files,
            max_file_bytes: 1024 * 1024,
            log_path: PathBuf::from(format!("{}/{RUNTIME_LOG_PATH}", self.volume_mount)),
            log_max_bytes: 4 * 1024 * 1024,
            log_buffer_lines: 2000,
            restart: RestartPolicy::default(),
            stop_grace_ms: 10_000,
        };
        config.validate()?;

        let mut contents = serde_json::to_vec_pretty(&config).expect("a guest config always serializes");
        contents.push(b'\n');
        let file = RenderedFile { path: GUEST_CONFIG_PATH.to_string(), contents, mode: 0o600 };
        let command = vec![
            GUEST_PATH_IN_IMAGE.to_string(),
            "--config".to_string(),
            format!("{}/{GUEST_CONFIG_PATH}", self.volume_mount),
        ];
        Ok((file, command))
    }
}
