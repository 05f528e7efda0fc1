//! Host networking of sandboxes: one bridge, one network namespace and veth
//! pair per sandbox, and an nftables ruleset that GoPilot owns.
//!
//! Rules, all in GoPilot's own tables (`inet <table>` and `bridge <table>`),
//! which are replaced atomically and can be removed whole:
//! - sandboxes cannot reach each other (bridge-level drop, plus bridge port
//!   isolation on every sandbox port);
//! - sandboxes reach host ports only in `allowed_host_ports`, on any host
//!   address, because every packet from the bridge to the host comes in
//!   through the bridge interface;
//! - sandboxes cannot reach 169.254.0.0/16 (cloud metadata services);
//! - nothing outside the host opens connections to sandboxes;
//! - with `outbound_nat`, traffic leaving the host is masqueraded.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::command::run;
use crate::SandboxError;

/// An IPv4 network such as `10.231.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Subnet {
    pub network: Ipv4Addr,
    pub prefix_len: u8,
}

impl Ipv4Subnet {
    fn mask(&self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0)
    }

    /// Number of addresses in the subnet.
    fn size(&self) -> u32 {
        1u32 << (32 - u32::from(self.prefix_len))
    }

    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & self.mask() == u32::from(self.network)
    }

    /// Returns the first usable address. The bridge takes it, so it is the
    /// sandboxes' gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }
}

impl std::fmt::Display for Ipv4Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl FromStr for Ipv4Subnet {
    type Err = SandboxError;

    /// Parses `a.b.c.d/n` with n from 8 to 29 and no host bits set.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| {
            SandboxError::InvalidConfig(format!(
                "invalid subnet {text:?}: {why}; expected e.g. 10.231.0.0/16"
            ))
        };
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| invalid("missing /prefix"))?;
        let network: Ipv4Addr = address.parse().map_err(|_| invalid("bad address"))?;
        let prefix_len: u8 = prefix.parse().map_err(|_| invalid("bad prefix length"))?;
        if !(8..=29).contains(&prefix_len) {
            return Err(invalid("prefix length must be 8 to 29"));
        }
        let subnet = Ipv4Subnet {
            network,
            prefix_len,
        };
        if u32::from(network) & !subnet.mask() != 0 {
            return Err(invalid("host bits are set"));
        }
        Ok(subnet)
    }
}

/// Host side of sandbox networking, shared by every sandbox of a backend.
#[derive(Clone, Debug)]
pub(crate) struct HostNetwork {
    pub bridge: String,
    pub subnet: Ipv4Subnet,
    pub allowed_host_ports: Vec<u16>,
    pub table: String,
    pub outbound_nat: bool,
}

/// Prefix of every host-side sandbox veth; the bridge-level rule matches it.
const VETH_PREFIX: &str = "gpv";

fn ip() -> &'static OsStr {
    OsStr::new("ip")
}

fn nft() -> &'static OsStr {
    OsStr::new("nft")
}

impl HostNetwork {
    pub fn host_ip(&self) -> Ipv4Addr {
        self.subnet.gateway()
    }

    /// Creates the bridge and installs the ruleset. Safe to repeat: an
    /// existing bridge is kept and the tables are replaced as a whole.
    pub async fn ensure(&self, ruleset_file: &Path) -> Result<(), SandboxError> {
        if !link_exists(&self.bridge).await? {
            run(
                ip(),
                ["link", "add", "name", &self.bridge, "type", "bridge"],
            )
            .await?;
            tracing::info!(bridge = %self.bridge, "created sandbox bridge");
        }
        let address = format!("{}/{}", self.host_ip(), self.subnet.prefix_len);
        run(ip(), ["addr", "replace", &address, "dev", &self.bridge]).await?;
        run(ip(), ["link", "set", "dev", &self.bridge, "up"]).await?;

        std::fs::write(ruleset_file, self.ruleset())
            .map_err(|e| SandboxError::io("writing", ruleset_file, e))?;
        run(nft(), [OsStr::new("-f"), ruleset_file.as_os_str()]).await?;

        if self.outbound_nat {
            enable_ipv4_forwarding()?;
        }
        Ok(())
    }

    /// Removes the tables and the bridge. Safe to repeat.
    pub async fn remove(&self) -> Result<(), SandboxError> {
        for family in ["inet", "bridge"] {
            if run(nft(), ["list", "table", family, &self.table])
                .await
                .is_ok()
            {
                run(nft(), ["delete", "table", family, &self.table]).await?;
            }
        }
        if link_exists(&self.bridge).await? {
            run(ip(), ["link", "delete", &self.bridge]).await?;
        }
        Ok(())
    }

    /// Generates the nftables ruleset. Every interpolated value is checked
    /// by `RuncConfig::validate` (names) or typed (addresses, ports).
    fn ruleset(&self) -> String {
        let table = &self.table;
        let bridge = &self.bridge;
        let mut text = String::new();

        // Declaring then deleting makes the delete succeed when the table
        // does not exist yet, so the file replaces the table atomically.
        let _ = writeln!(text, "table inet {table}\ndelete table inet {table}");
        let _ = writeln!(text, "table inet {table} {{");
        let _ = writeln!(text, "  chain input {{");
        let _ = writeln!(
            text,
            "    type filter hook input priority -10; policy accept;"
        );
        let _ = writeln!(
            text,
            "    iifname \"{bridge}\" ct state established,related accept"
        );
        if !self.allowed_host_ports.is_empty() {
            let ports = self
                .allowed_host_ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                text,
                "    iifname \"{bridge}\" tcp dport {{ {ports} }} accept"
            );
        }
        let _ = writeln!(text, "    iifname \"{bridge}\" drop");
        let _ = writeln!(text, "  }}");
        let _ = writeln!(text, "  chain forward {{");
        let _ = writeln!(
            text,
            "    type filter hook forward priority -10; policy accept;"
        );
        let _ = writeln!(
            text,
            "    iifname \"{bridge}\" ip daddr 169.254.0.0/16 drop"
        );
        let _ = writeln!(text, "    iifname \"{bridge}\" oifname \"{bridge}\" drop");
        let _ = writeln!(
            text,
            "    oifname \"{bridge}\" ct state established,related accept"
        );
        let _ = writeln!(text, "    oifname \"{bridge}\" drop");
        let _ = writeln!(text, "  }}");
        if self.outbound_nat {
            let _ = writeln!(text, "  chain postrouting {{");
            let _ = writeln!(
                text,
                "    type nat hook postrouting priority srcnat; policy accept;"
            );
            let _ = writeln!(
                text,
                "    ip saddr {} oifname != \"{bridge}\" masquerade",
                self.subnet
            );
            let _ = writeln!(text, "  }}");
        }
        let _ = writeln!(text, "}}");

        // Frames between two ports of the bridge never reach the inet hooks
        // (br_netfilter is not assumed), so they are dropped at bridge level.
        let _ = writeln!(text, "table bridge {table}\ndelete table bridge {table}");
        let _ = writeln!(text, "table bridge {table} {{");
        let _ = writeln!(text, "  chain forward {{");
        let _ = writeln!(
            text,
            "    type filter hook forward priority -10; policy accept;"
        );
        let _ = writeln!(
            text,
            "    iifname \"{VETH_PREFIX}*\" oifname \"{VETH_PREFIX}*\" drop"
        );
        let _ = writeln!(text, "  }}");
        let _ = writeln!(text, "}}");
        text
    }

    /// Name of a sandbox's network namespace (under /run/netns).
    pub fn netns_name(&self, id: &str) -> String {
        format!("{}-{id}", self.bridge)
    }

    /// Host-side veth name: `VETH_PREFIX` and 12 hex digits, so 15
    /// characters (the kernel's limit), unique per bridge and id.
    pub fn host_veth_name(&self, id: &str) -> String {
        let digest = Sha256::digest(format!("{}/{id}", self.bridge));
        format!("{VETH_PREFIX}{}", &hex::encode(digest)[..12])
    }

    /// Creates a named network namespace for the sandbox (the runsc way,
    /// because runsc reads the interfaces when it creates the sandbox) and
    /// wires it up. Safe to repeat, for example after a host reboot emptied
    /// /run/netns.
    pub async fn attach_named(
        &self,
        id: &str,
        host_veth: &str,
        address: Ipv4Addr,
    ) -> Result<(), SandboxError> {
        let netns = self.netns_name(id);
        if !Path::new("/run/netns").join(&netns).exists() {
            run(ip(), ["netns", "add", &netns]).await?;
        }
        let target = NetnsTarget::Named(netns);
        self.attach(&target, host_veth, address).await
    }

    /// Wires up the network namespace of a created container's init, which
    /// the runtime made inside the sandbox's user namespace.
    pub async fn attach_pid(
        &self,
        pid: i64,
        host_veth: &str,
        address: Ipv4Addr,
    ) -> Result<(), SandboxError> {
        self.attach(&NetnsTarget::Pid(pid), host_veth, address)
            .await
    }

    /// Creates the veth pair, plugs the host side into the bridge with port
    /// isolation on, and gives the sandbox side (`eth0`) its address and
    /// default route.
    async fn attach(
        &self,
        target: &NetnsTarget,
        host_veth: &str,
        address: Ipv4Addr,
    ) -> Result<(), SandboxError> {
        let netns_argument = match target {
            NetnsTarget::Named(name) => name.clone(),
            NetnsTarget::Pid(pid) => pid.to_string(),
        };
        if link_exists(host_veth).await? {
            // Left over from a run whose namespace is gone; its peer went
            // with the namespace.
            run(ip(), ["link", "delete", host_veth]).await?;
        }
        run(
            ip(),
            [
                "link",
                "add",
                host_veth,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &netns_argument,
            ],
        )
        .await?;
        run(
            ip(),
            ["link", "set", "dev", host_veth, "master", &self.bridge],
        )
        .await?;
        run(
            ip(),
            [
                "link",
                "set",
                "dev",
                host_veth,
                "type",
                "bridge_slave",
                "isolated",
                "on",
            ],
        )
        .await?;
        run(ip(), ["link", "set", "dev", host_veth, "up"]).await?;

        let cidr = format!("{address}/{}", self.subnet.prefix_len);
        let gateway = self.host_ip().to_string();
        let inside: [&[&str]; 4] = [
            &["addr", "replace", &cidr, "dev", "eth0"],
            &["link", "set", "dev", "lo", "up"],
            &["link", "set", "dev", "eth0", "up"],
            &["route", "replace", "default", "via", &gateway],
        ];
        for arguments in inside {
            run_in(target, arguments).await?;
        }
        Ok(())
    }

    /// Deletes the sandbox's veth pair and network namespace. Safe to repeat.
    pub async fn detach(&self, id: &str, host_veth: &str) -> Result<(), SandboxError> {
        if link_exists(host_veth).await? {
            run(ip(), ["link", "delete", host_veth]).await?;
        }
        let netns = self.netns_name(id);
        if Path::new("/run/netns").join(&netns).exists() {
            run(ip(), ["netns", "delete", &netns]).await?;
        }
        Ok(())
    }

    /// Picks the lowest free sandbox address; `used` contains the addresses of
    /// existing sandboxes. The network, gateway and broadcast addresses are
    /// never handed out.
    pub fn allocate(&self, used: &[Ipv4Addr]) -> Result<Ipv4Addr, SandboxError> {
        let network = u32::from(self.subnet.network);
        (2..self.subnet.size() - 1)
            .map(|offset| Ipv4Addr::from(network + offset))
            .find(|candidate| !used.contains(candidate))
            .ok_or_else(|| SandboxError::AddressesExhausted {
                subnet: self.subnet.to_string(),
            })
    }
}

/// A network namespace by /run/netns name or by the pid of a process in it.
enum NetnsTarget {
    Named(String),
    Pid(i64),
}

/// Runs `ip arguments...` inside the target namespace.
async fn run_in(target: &NetnsTarget, arguments: &[&str]) -> Result<(), SandboxError> {
    match target {
        NetnsTarget::Named(name) => {
            let mut all = vec!["-n", name.as_str()];
            all.extend_from_slice(arguments);
            run(ip(), all).await?;
        }
        NetnsTarget::Pid(pid) => {
            let netns = format!("--net=/proc/{pid}/ns/net");
            let mut all = vec![netns.as_str(), "ip"];
            all.extend_from_slice(arguments);
            run(OsStr::new("nsenter"), all).await?;
        }
    }
    Ok(())
}

async fn link_exists(name: &str) -> Result<bool, SandboxError> {
    let mut command = tokio::process::Command::new("ip");
    command.args(["link", "show", "dev", name]);
    let output = super::command::output_of(&mut command, super::command::TOOL_TIMEOUT).await?;
    Ok(output.status.success())
}

/// Turns on IPv4 forwarding, which outbound NAT needs. This is a host-wide
/// setting, so it is only ever turned on, never off.
fn enable_ipv4_forwarding() -> Result<(), SandboxError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    let current =
        std::fs::read_to_string(path).map_err(|e| SandboxError::io("reading", path, e))?;
    if current.trim() != "1" {
        std::fs::write(path, "1").map_err(|e| SandboxError::io("writing", path, e))?;
        tracing::info!("enabled IPv4 forwarding for sandbox outbound NAT");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(ports: Vec<u16>) -> HostNetwork {
        HostNetwork {
            bridge: "gopilot0".to_string(),
            subnet: "10.231.0.0/16".parse().unwrap(),
            allowed_host_ports: ports,
            table: "gopilot".to_string(),
            outbound_nat: true,
        }
    }

    #[test]
    fn subnet_parse_rejects_bad_input() {
        for text in [
            "10.231.0.0",
            "10.231.0.1/16",
            "10.231.0.0/31",
            "10.231.0.0/x",
            "300.1.1.1/8",
        ] {
            assert!(text.parse::<Ipv4Subnet>().is_err(), "accepted {text}");
        }
        let subnet: Ipv4Subnet = "10.231.0.0/16".parse().unwrap();
        assert_eq!(subnet.gateway(), Ipv4Addr::new(10, 231, 0, 1));
        assert!(subnet.contains(Ipv4Addr::new(10, 231, 255, 254)));
        assert!(!subnet.contains(Ipv4Addr::new(10, 232, 0, 1)));
    }

    #[test]
    fn allocate_skips_used_and_reserved() {
        let mut small = network(vec![]);
        small.subnet = "10.231.7.0/29".parse().unwrap();
        let first = small.allocate(&[]).unwrap();
        assert_eq!(first, Ipv4Addr::new(10, 231, 7, 2));
        let used: Vec<Ipv4Addr> = (2..=6)
            .map(|last| Ipv4Addr::new(10, 231, 7, last))
            .collect();
        assert!(matches!(
            small.allocate(&used),
            Err(SandboxError::AddressesExhausted { .. })
        ));
        assert_eq!(
            small.allocate(&used[1..]).unwrap(),
            Ipv4Addr::new(10, 231, 7, 2)
        );
    }

    #[test]
    fn ruleset_lists_allowed_ports() {
        let text = network(vec![8080, 9000]).ruleset();
        assert!(text.contains("tcp dport { 8080, 9000 } accept"), "{text}");
        assert!(text.contains("ip daddr 169.254.0.0/16 drop"), "{text}");
        assert!(
            text.contains("ip saddr 10.231.0.0/16 oifname != \"gopilot0\" masquerade"),
            "{text}"
        );

        let closed = network(vec![]).ruleset();
        assert!(!closed.contains("dport"), "{closed}");
    }

    #[test]
    fn veth_name_fits_kernel_limit() {
        let name = network(vec![]).host_veth_name(&"a".repeat(63));
        assert_eq!(name.len(), 15);
        assert!(name.starts_with(VETH_PREFIX));
    }
}
