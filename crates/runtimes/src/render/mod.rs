//! Types shared by the runtime config renderers: what a renderer takes
//! ([`RenderInput`]), what it returns ([`RenderedConfig`]), its error, and
//! the writer that puts the files on an agent's volume.
//!
//! Rendering itself does no I/O. Each runtime module (`openclaw`, `hermes`)
//! has a `render` function and a validator that checks the result against
//! the real runtime before the files are written.

mod error;
mod guest;
mod provider;
mod secret;
mod write;

pub use error::RenderError;
pub use guest::{GuestSettings, GUEST_CONFIG_PATH, RUNTIME_LOG_PATH};
pub use provider::{gateway_route, ProviderApi};
pub use secret::{check_runtime_token, MIN_RUNTIME_TOKEN_CHARS};
pub use write::{write_config, WriteError, LAST_GOOD_SUFFIX};

use gopilot_core::validate::AgentSpec;
use gopilot_core::AgentSecrets;

/// Everything a renderer needs to produce one agent's config files.
#[derive(Debug, Clone, Copy)]
pub struct RenderInput<'a> {
    /// The agent's id, used in log fields and error messages.
    pub agent_id: &'a str,
    pub spec: &'a AgentSpec,
    pub secrets: &'a AgentSecrets,
    /// Base URL of the LLM gateway as seen from inside the sandbox, such as
    /// `http://10.231.0.1:8181`, without a trailing `/`. Provider routes are
    /// appended to it, see [`gateway_route`].
    pub gateway_base_url: &'a str,
    /// The sandbox's own IPv4 address. The runtime listens there so that the
    /// control plane can reach it.
    pub bind_host: &'a str,
    /// Browser origin allowed to open OpenClaw's Control UI, such as
    /// `https://gopilot.example.com`.
    pub control_origin: &'a str,
}

/// One file to write, relative to the agent's volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Path relative to the volume, with `/` separators and no `..`.
    pub path: String,
    pub contents: Vec<u8>,
    /// Unix permission bits, `0o600` for every file that contains a secret.
    pub mode: u32,
}

/// The model id a chat request uses to reach one agent of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatModel {
    /// `main` for the primary agent, else the extra agent's name.
    pub agent: String,
    /// Value of the request's `model` field, such as `openclaw/default`.
    pub model: String,
}

/// Chat endpoint of the runtime, as the control plane calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEndpoint {
    /// `http://<bind_host>:<runtime_port>`.
    pub base_url: String,
    /// Path of the OpenAI-compatible endpoint, `/v1/chat/completions`.
    pub path: &'static str,
    /// Bearer token the runtime expects: the agent's `runtime_token`.
    pub bearer_token: String,
    /// One entry per agent, the primary agent first.
    pub models: Vec<ChatModel>,
}

/// The result of rendering: files for the agent's volume and how to run and
/// reach the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedConfig {
    /// Mount point of the volume inside the sandbox: `/root/.openclaw` or `/workspace`.
    pub volume_mount: &'static str,
    pub files: Vec<RenderedFile>,
    /// Directories to create on the volume, relative to it, such as one
    /// workspace per OpenClaw agent.
    pub directories: Vec<String>,
    /// Path of the guest supervisor's config, relative to the volume.
    pub guest_config_path: String,
    /// The sandbox's init command: `gopilot-guest --config <absolute path>`.
    pub command: Vec<String>,
    /// Port the runtime's HTTP API listens on, at `bind_host`.
    pub runtime_port: u16,
    /// Absolute directory inside the sandbox that the guest's file API exposes.
    pub workspace_root: String,
    pub chat: ChatEndpoint,
}

impl RenderedConfig {
    /// Returns the file at `path` (relative to the volume), if rendered.
    pub fn file(&self, path: &str) -> Option<&RenderedFile> {
        self.files.iter().find(|file| file.path == path)
    }
}

/// Chat path of both runtimes' OpenAI-compatible API.
pub const CHAT_COMPLETIONS_PATH: &str = "/v1/chat/completions";
