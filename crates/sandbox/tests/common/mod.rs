//! Shared test setup: a busybox root filesystem, a backend on a private
//! state directory, bridge, subnet and nftables table, and cleanup that runs
//! even when a test panics.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gopilot_sandbox::runc::{Ipv4Subnet, RuncBackend, RuncConfig};
use gopilot_sandbox::{Backend, ExecOutput, Limits, SandboxSpec};

/// Fails the test with an install hint when a precondition is missing.
pub fn require_host() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "sandbox tests need root (user namespaces, mounts, netns); run them as root"
    );
    for (tool, package) in [
        ("runc", "runc"),
        ("busybox", "busybox-static"),
        ("nft", "nftables"),
        ("ip", "iproute2"),
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|output| output.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "{tool} not found; install the Debian package {package}"
        );
    }
}

/// Builds a root filesystem with a static busybox and its applet links.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    for sub in [
        "bin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "workspace",
        "mnt",
    ] {
        std::fs::create_dir_all(rootfs.join(sub)).unwrap();
    }
    let busybox = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v busybox"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::copy(busybox.trim(), rootfs.join("bin/busybox")).unwrap();
    let applets = Command::new("busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(applets.stdout).unwrap().lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    rootfs
}

/// A backend with its own state directory, bridge and ruleset. Dropping it
/// removes every sandbox, the bridge and the tables, also after a panic.
pub struct TestEnv {
    pub backend: RuncBackend,
    pub rootfs: PathBuf,
    pub dir: tempfile::TempDir,
    pub config: RuncConfig,
}

/// Makes a backend config for one test binary. `name` keeps the bridge,
/// table and netns names apart from other test binaries and from a real
/// installation. It has at most 11 characters, because the bridge name
/// `gpt-<name>` must fit the kernel's 15. `octet` picks the /24 subnet.
pub fn test_config(dir: &Path, name: &str, octet: u8, allowed_host_ports: Vec<u16>) -> RuncConfig {
    let mut config = RuncConfig::new(dir.join("state"));
    config.bridge = format!("gpt-{name}");
    config.nft_table = format!("gopilot_test_{name}");
    config.subnet = format!("10.231.{octet}.0/24")
        .parse::<Ipv4Subnet>()
        .unwrap();
    config.allowed_host_ports = allowed_host_ports;
    // Tests never send traffic off the host, so the host's forwarding
    // setting is left alone.
    config.outbound_nat = false;
    config
}

impl TestEnv {
    pub async fn new(name: &str, octet: u8, allowed_host_ports: Vec<u16>) -> TestEnv {
        require_host();
        let dir = tempfile::tempdir().unwrap();
        let rootfs = busybox_rootfs(dir.path());
        let config = test_config(dir.path(), name, octet, allowed_host_ports);
        let backend = match RuncBackend::new(config.clone()).await {
            Ok(backend) => backend,
            Err(error) => {
                force_cleanup(&config);
                panic!("backend setup failed: {error}");
            }
        };
        TestEnv {
            backend,
            rootfs,
            dir,
            config,
        }
    }

    pub fn volume(&self, id: &str) -> PathBuf {
        self.dir.path().join("volumes").join(id)
    }

    pub fn spec(&self, id: &str, script: &str) -> SandboxSpec {
        SandboxSpec {
            id: id.to_string(),
            image_rootfs: self.rootfs.clone(),
            volume_dir: self.volume(id),
            volume_mount: "/workspace".to_string(),
            limits: Limits {
                cpus: 1.0,
                memory_bytes: 256 * 1024 * 1024,
                pids: 128,
            },
            command: vec!["/bin/sh".to_string(), "-c".to_string(), script.to_string()],
            env: vec![("GREETING".to_string(), "hello".to_string())],
            labels: BTreeMap::from([("agent".to_string(), id.to_string())]),
        }
    }

    /// Runs a shell script inside a sandbox.
    pub async fn sh(&self, id: &str, script: &str) -> ExecOutput {
        let argv = ["/bin/sh", "-c", script].map(String::from);
        self.backend
            .exec(id, &argv, Duration::from_secs(30))
            .await
            .unwrap_or_else(|error| panic!("exec in {id} failed: {error}"))
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        force_cleanup(&self.config);
    }
}

/// Removes everything a test backend may have left, with plain commands so
/// it also works while unwinding from a panic.
pub fn force_cleanup(config: &RuncConfig) {
    let sandboxes = config.state_dir.join("sandboxes");
    let runtime_root = config.state_dir.join("runtime");
    for entry in std::fs::read_dir(&sandboxes)
        .into_iter()
        .flatten()
        .flatten()
    {
        let id = entry.file_name().to_string_lossy().into_owned();
        let _ = Command::new("runc")
            .arg("--root")
            .arg(&runtime_root)
            .args(["delete", "--force", &id])
            .output();
        let merged = entry.path().join("merged");
        let _ = nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH);
        let _ = Command::new("ip")
            .args(["netns", "delete", &format!("{}-{id}", config.bridge)])
            .output();
    }
    for family in ["inet", "bridge"] {
        let _ = Command::new("nft")
            .args(["delete", "table", family, &config.nft_table])
            .output();
    }
    let _ = Command::new("ip")
        .args(["link", "delete", &config.bridge])
        .output();
}

/// Polls `check` every 50 ms until it returns true or `timeout` passes.
pub async fn wait_until<F: FnMut() -> bool>(timeout: Duration, mut check: F) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}
