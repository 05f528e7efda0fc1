//! The backend of records-only mode: no sandbox ever exists.

use gopilot_sandbox::{
    Backend, Capabilities, Endpoint, ExecOutput, ResourceUsage, SandboxError, SandboxInfo, SandboxSpec,
    SandboxState, SandboxStatus, VolumeAction,
};
use std::time::Duration;

pub(crate) struct NoSandboxes;

fn disabled() -> SandboxError {
    SandboxError::InvalidSpec("sandboxes are disabled in records-only mode".into())
}

#[async_trait::async_trait]
impl Backend for NoSandboxes {
    async fn create(&self, _spec: &SandboxSpec) -> Result<(), SandboxError> {
        Err(disabled())
    }
    async fn start(&self, _id: &str) -> Result<(), SandboxError> {
        Err(disabled())
    }
    async fn pause(&self, _id: &str) -> Result<(), SandboxError> {
        Err(disabled())
    }
    async fn resume(&self, _id: &str) -> Result<(), SandboxError> {
        Err(disabled())
    }
    async fn stop(&self, _id: &str, _grace: Duration) -> Result<(), SandboxError> {
        Ok(())
    }
    async fn destroy(&self, _id: &str, _volume: VolumeAction) -> Result<(), SandboxError> {
        Ok(())
    }
    async fn status(&self, _id: &str) -> Result<SandboxStatus, SandboxError> {
        Ok(SandboxStatus { state: SandboxState::Missing, oom_killed: false, exit_code: None })
    }
    async fn endpoint(&self, _id: &str) -> Result<Endpoint, SandboxError> {
        Err(disabled())
    }
    async fn usage(&self, _id: &str) -> Result<ResourceUsage, SandboxError> {
        Err(disabled())
    }
    async fn list(&self) -> Result<Vec<SandboxInfo>, SandboxError> {
        Ok(Vec::new())
    }
    async fn exec(&self, _id: &str, _argv: &[String], _timeout: Duration) -> Result<ExecOutput, SandboxError> {
        Err(disabled())
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { memory_snapshot: false }
    }
    fn host_ip(&self) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::LOCALHOST
    }
}
