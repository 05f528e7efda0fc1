//! Configuration of the runc backend.

use std::path::PathBuf;

use super::network::Ipv4Subnet;
use super::runtime::RuntimeKind;
use crate::SandboxError;

/// Settings of a [`super::RuncBackend`]. `RuncConfig::new` gives defaults
/// that serve a single machine.
#[derive(Clone, Debug)]
pub struct RuncConfig {
    /// Root of everything the backend keeps: `sandboxes/<id>/`, the image
    /// cache and the OCI runtime's own state (`runtime/`).
    pub state_dir: PathBuf,
    pub runtime: RuntimeKind,
    /// Path or name (looked up on PATH) of the runtime binary.
    pub runtime_binary: PathBuf,
    /// Name of the host bridge; at most 15 characters of `[A-Za-z0-9_-]`.
    pub bridge: String,
    /// Sandbox subnet. The bridge takes the first address (`host_ip`).
    pub subnet: Ipv4Subnet,
    /// TCP ports on the host that sandboxes may connect to, such as the
    /// LLM gateway's. Every other host port is closed to them.
    pub allowed_host_ports: Vec<u16>,
    /// Name of GoPilot's nftables tables (`inet` and `bridge` families).
    pub nft_table: String,
    /// Masquerade sandbox traffic that leaves the host. Turning this on
    /// also turns on the host's IPv4 forwarding.
    pub outbound_nat: bool,
    /// First host uid and gid of the sandboxes' user namespace; root in a
    /// sandbox is this id on the host.
    pub id_base: u32,
    /// Number of ids mapped into the user namespace.
    pub id_count: u32,
}

impl RuncConfig {
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        RuncConfig {
            state_dir: state_dir.into(),
            runtime: RuntimeKind::Runc,
            runtime_binary: PathBuf::from("runc"),
            bridge: "gopilot0".to_string(),
            subnet: Ipv4Subnet {
                network: std::net::Ipv4Addr::new(10, 231, 0, 0),
                prefix_len: 16,
            },
            allowed_host_ports: Vec::new(),
            nft_table: "gopilot".to_string(),
            outbound_nat: true,
            id_base: 100_000,
            id_count: 65_536,
        }
    }

    /// Checks the values that end up in command lines and rulesets.
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        let bridge_ok = !self.bridge.is_empty()
            && self.bridge.len() <= 15
            && self
                .bridge
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !bridge_ok {
            return Err(SandboxError::InvalidConfig(format!(
                "bridge name {:?} must be 1 to 15 characters of A-Z, a-z, 0-9, '_' and '-'",
                self.bridge
            )));
        }
        let table_ok = !self.nft_table.is_empty()
            && self.nft_table.len() <= 32
            && self
                .nft_table
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !table_ok {
            return Err(SandboxError::InvalidConfig(format!(
                "nftables table name {:?} must be 1 to 32 characters of a-z, 0-9 and '_'",
                self.nft_table
            )));
        }
        if self.id_count == 0 || self.id_base.checked_add(self.id_count).is_none() {
            return Err(SandboxError::InvalidConfig(format!(
                "id range {} + {} is empty or overflows u32",
                self.id_base, self.id_count
            )));
        }
        if !self.state_dir.is_absolute() {
            return Err(SandboxError::InvalidConfig(format!(
                "state_dir {} must be an absolute path",
                self.state_dir.display()
            )));
        }
        Ok(())
    }
}
