//! The runc backend: each sandbox is an OCI container run by runc (or by
//! gVisor's runsc), with a user namespace, an overlay root filesystem and its
//! own network namespace on a host bridge.
//!
//! Everything lives under `RuncConfig::state_dir`, including the runtime's
//! `--root`, so a new backend on the same directory finds every sandbox
//! again after a crash of the process that made them.

mod bundle;
mod cgroup;
mod command;
mod config;
mod image;
mod network;
mod rootfs;
mod runtime;
mod seccomp;
mod state;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

pub use config::RuncConfig;
pub use network::Ipv4Subnet;
pub use runtime::RuntimeKind;

use network::HostNetwork;
use runtime::{ContainerState, OciRuntime};
use state::{SandboxPaths, SandboxRecord};

use crate::backend::validate_id;
use crate::{
    Backend, Capabilities, Endpoint, ExecOutput, ResourceUsage, SandboxError, SandboxInfo,
    SandboxSpec, SandboxState, SandboxStatus, VolumeAction,
};

/// How long `stop` waits for the processes to exit after SIGKILL.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// How often `stop` polls the runtime while waiting for an exit.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A [`Backend`] on runc (or runsc) containers.
pub struct RuncBackend {
    config: RuncConfig,
    runtime: OciRuntime,
    network: HostNetwork,
    /// One lock per sandbox id, so operations on one sandbox run one at a
    /// time while different sandboxes proceed in parallel.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Serializes image copies, so two sandboxes of a new image do not
    /// copy it twice.
    image_lock: tokio::sync::Mutex<()>,
}

impl RuncBackend {
    /// Checks the host tools, creates the state directory and sets up the
    /// bridge and the nftables ruleset.
    pub async fn new(config: RuncConfig) -> Result<Self, SandboxError> {
        config.validate()?;
        for tool in [
            config.runtime_binary.as_path(),
            Path::new("ip"),
            Path::new("nft"),
        ] {
            if which(tool).is_none() {
                return Err(command::missing_tool(&tool.to_string_lossy()));
            }
        }

        let sandboxes = state::sandboxes_dir(&config.state_dir);
        std::fs::create_dir_all(&sandboxes)
            .map_err(|e| SandboxError::io("creating", &sandboxes, e))?;

        let network = HostNetwork {
            bridge: config.bridge.clone(),
            subnet: config.subnet,
            allowed_host_ports: config.allowed_host_ports.clone(),
            table: config.nft_table.clone(),
            outbound_nat: config.outbound_nat,
        };
        network
            .ensure(&config.state_dir.join("ruleset.nft"))
            .await?;

        let runtime = OciRuntime::new(
            config.runtime,
            config.runtime_binary.clone(),
            config.state_dir.join("runtime"),
        );
        tracing::info!(
            state_dir = %config.state_dir.display(),
            bridge = %config.bridge,
            subnet = %config.subnet,
            "sandbox backend ready"
        );
        Ok(RuncBackend {
            config,
            runtime,
            network,
            locks: Mutex::new(HashMap::new()),
            image_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Removes the bridge and the nftables tables. Call it only when no
    /// sandbox of this backend is left, e.g. to uninstall or after tests.
    pub async fn remove_host_network(&self) -> Result<(), SandboxError> {
        self.network.remove().await
    }

    /// Deletes network namespaces of this backend's bridge whose sandbox
    /// state is gone (left over by a crash in the middle of `destroy`), and
    /// returns their names.
    pub async fn cleanup_orphans(&self) -> Result<Vec<String>, SandboxError> {
        let prefix = format!("{}-", self.config.bridge);
        let mut removed = Vec::new();
        let entries = match std::fs::read_dir("/run/netns") {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(error) => return Err(SandboxError::io("reading", "/run/netns", error)),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_prefix(&prefix) else {
                continue;
            };
            if validate_id(id).is_err() || self.paths(id).dir.exists() {
                continue;
            }
            let host_veth = self.network.host_veth_name(id);
            self.network.detach(id, &host_veth).await?;
            tracing::info!(sandbox_id = id, netns = %name, "removed orphaned network namespace");
            removed.push(name);
        }
        Ok(removed)
    }

    /// Path of the file that collects the init process's stdout and stderr.
    pub fn console_log_path(&self, id: &str) -> PathBuf {
        self.paths(id).console_log()
    }

    fn paths(&self, id: &str) -> SandboxPaths {
        SandboxPaths::new(&self.config.state_dir, id)
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().expect("sandbox lock map poisoned");
        locks.entry(id.to_string()).or_default().clone()
    }

    fn load(&self, id: &str) -> Result<(SandboxPaths, SandboxRecord), SandboxError> {
        validate_id(id)?;
        let paths = self.paths(id);
        match state::load(&paths)? {
            Some(record) => Ok((paths, record)),
            None => Err(SandboxError::NotFound { id: id.to_string() }),
        }
    }

    /// Reserves an address and writes the first record, under a file lock
    /// so that backends in several processes never hand out one address
    /// twice.
    fn reserve(
        &self,
        spec: &SandboxSpec,
        lower: PathBuf,
    ) -> Result<(SandboxPaths, SandboxRecord), SandboxError> {
        let lock_path = self.config.state_dir.join("allocation.lock");
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| SandboxError::io("opening", &lock_path, e))?;
        let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| SandboxError::io("locking", &lock_path, errno.into()))?;

        let paths = self.paths(&spec.id);
        if paths.dir.exists() {
            return Err(SandboxError::AlreadyExists {
                id: spec.id.clone(),
            });
        }
        let used: Vec<Ipv4Addr> = self.records()?.iter().map(|record| record.ip).collect();
        let ip = self.network.allocate(&used)?;

        std::fs::create_dir_all(&paths.dir)
            .map_err(|e| SandboxError::io("creating", &paths.dir, e))?;
        let record = SandboxRecord {
            spec: spec.clone(),
            lower,
            ip,
            host_veth: self.network.host_veth_name(&spec.id),
            cgroups: Default::default(),
            started_once: false,
            oom_killed: false,
        };
        state::save(&paths, &record)?;
        Ok((paths, record))
    }

    /// Reads every readable record in the state directory.
    fn records(&self) -> Result<Vec<SandboxRecord>, SandboxError> {
        let dir = state::sandboxes_dir(&self.config.state_dir);
        let entries = std::fs::read_dir(&dir).map_err(|e| SandboxError::io("reading", &dir, e))?;
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if validate_id(&id).is_err() {
                continue;
            }
            match state::load(&self.paths(&id)) {
                Ok(Some(record)) => records.push(record),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(sandbox_id = %id, %error, "skipping unreadable sandbox state")
                }
            }
        }
        Ok(records)
    }

    /// Writes the bundle, etc files and network of a reserved sandbox.
    async fn prepare(
        &self,
        paths: &SandboxPaths,
        record: &SandboxRecord,
    ) -> Result<(), SandboxError> {
        let spec = &record.spec;
        rootfs::prepare_layers(paths, self.config.id_base)?;
        rootfs::write_etc_files(paths, &spec.id, record.ip, &rootfs::host_nameservers())?;

        let netns_path = Path::new("/run/netns").join(self.network.netns_name(&spec.id));
        let netns_path = (self.runtime.kind == RuntimeKind::Runsc).then_some(netns_path.as_path());
        let merged = paths.merged();
        let etc = paths.etc();
        let oci_spec = bundle::build(&bundle::BundleInputs {
            spec,
            rootfs: &merged,
            etc_dir: &etc,
            netns_path,
            id_base: self.config.id_base,
            id_count: self.config.id_count,
        })?;
        let config_path = paths.bundle().join("config.json");
        oci_spec.save(&config_path).map_err(|e| {
            SandboxError::io(
                "writing",
                &config_path,
                std::io::Error::other(e.to_string()),
            )
        })
    }

    /// Removes a sandbox's container, mounts, network and files.
    async fn remove_everything(
        &self,
        id: &str,
        paths: &SandboxPaths,
        host_veth: &str,
    ) -> Result<(), SandboxError> {
        if self.runtime.state(id).await?.is_some() {
            self.runtime.delete(id).await?;
        }
        rootfs::unmount_overlay(paths)?;
        self.network.detach(id, host_veth).await?;
        if paths.dir.exists() {
            std::fs::remove_dir_all(&paths.dir)
                .map_err(|e| SandboxError::io("removing", &paths.dir, e))?;
        }
        Ok(())
    }

    /// Runs a prepared sandbox: mounts its root and creates and starts the
    /// container (or restores its checkpoint under runsc).
    async fn run_container(
        &self,
        paths: &SandboxPaths,
        record: &mut SandboxRecord,
    ) -> Result<(), SandboxError> {
        let id = record.spec.id.clone();
        let volume = record.spec.volume_dir.clone();
        let (id_base, id_count) = (self.config.id_base, self.config.id_count);
        tokio::task::spawn_blocking(move || rootfs::shift_volume_owner(&volume, id_base, id_count))
            .await
            .expect("volume ownership task panicked")?;
        rootfs::mount_overlay(paths, &record.lower)?;

        let checkpoint = paths.checkpoint();
        let restored = if self.runtime.kind == RuntimeKind::Runsc && checkpoint.is_dir() {
            match self
                .runtime
                .restore(
                    &id,
                    &paths.bundle(),
                    &checkpoint,
                    &paths.console_log(),
                    &paths.runtime_log(),
                )
                .await
            {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(sandbox_id = %id, %error, "restoring checkpoint failed; starting afresh");
                    if self.runtime.state(&id).await?.is_some() {
                        self.runtime.delete(&id).await?;
                    }
                    false
                }
            }
        } else {
            false
        };
        if checkpoint.is_dir() {
            std::fs::remove_dir_all(&checkpoint)
                .map_err(|e| SandboxError::io("removing", &checkpoint, e))?;
        }

        if !restored {
            if self.runtime.kind == RuntimeKind::Runsc {
                self.network
                    .attach_named(&id, &record.host_veth, record.ip)
                    .await?;
            }
            self.runtime
                .create(
                    &id,
                    &paths.bundle(),
                    &paths.console_log(),
                    &paths.runtime_log(),
                )
                .await?;
            if self.runtime.kind == RuntimeKind::Runc {
                // runc made the network namespace inside the sandbox's user
                // namespace; it is wired up before the command runs.
                let created = self
                    .runtime
                    .state(&id)
                    .await?
                    .ok_or_else(|| SandboxError::NotRunning { id: id.clone() })?;
                self.network
                    .attach_pid(created.pid, &record.host_veth, record.ip)
                    .await?;
            }
            self.runtime.start(&id).await?;
        }

        let state = self
            .runtime
            .state(&id)
            .await?
            .ok_or_else(|| SandboxError::NotRunning { id: id.clone() })?;
        if state.status == "stopped" || state.pid <= 0 {
            return Err(SandboxError::InitExited {
                id: id.clone(),
                console_log: paths.console_log(),
            });
        }
        record.cgroups = cgroup::directories_of(state.pid)?;
        record.started_once = true;
        record.oom_killed = false;
        state::save(paths, record)
    }

    /// Waits until the container's init has exited or `timeout` passes;
    /// returns true when it exited.
    async fn wait_for_exit(&self, id: &str, timeout: Duration) -> Result<bool, SandboxError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.runtime.state(id).await? {
                None => return Ok(true),
                Some(state) if state.status == "stopped" => return Ok(true),
                Some(_) => {}
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Ends the container's processes and deletes the container, keeping
    /// the upper layer, the volume and the network.
    async fn stop_container(
        &self,
        paths: &SandboxPaths,
        record: &mut SandboxRecord,
        container: ContainerState,
        grace: Duration,
    ) -> Result<(), SandboxError> {
        let id = record.spec.id.clone();

        if container.status == "paused" {
            self.runtime.resume(&id).await?;
        }

        let mut exited = container.status == "stopped";
        if !exited && self.runtime.kind == RuntimeKind::Runsc && container.status != "created" {
            // Checkpointing also stops the container.
            match self.runtime.checkpoint(&id, &paths.checkpoint()).await {
                Ok(()) => exited = self.wait_for_exit(&id, KILL_TIMEOUT).await?,
                Err(error) => {
                    tracing::warn!(sandbox_id = %id, %error, "checkpoint failed; stopping without memory snapshot")
                }
            }
        }
        if !exited && container.status != "created" {
            self.runtime.kill(&id, "TERM", false).await?;
            exited = self.wait_for_exit(&id, grace).await?;
        }
        if !exited && container.status != "created" {
            tracing::info!(sandbox_id = %id, grace_ms = grace.as_millis() as u64, "init ignored SIGTERM; sending SIGKILL");
            self.runtime.kill(&id, "KILL", true).await?;
            if !self.wait_for_exit(&id, KILL_TIMEOUT).await? {
                return Err(SandboxError::Timeout {
                    what: format!("killing sandbox {id}"),
                    timeout: KILL_TIMEOUT,
                });
            }
        }

        // The cgroup goes away with the container, so its OOM record is
        // copied first.
        if let Some(oom_killed) = cgroup::oom_killed(&record.cgroups) {
            record.oom_killed = oom_killed;
        }
        record.cgroups.clear();
        state::save(paths, record)?;

        self.runtime.delete(&id).await?;
        rootfs::unmount_overlay(paths)
    }

    /// Maps the runtime's view and the record to a public state.
    fn observed_state(record: &SandboxRecord, container: Option<&ContainerState>) -> SandboxState {
        match container.map(|c| c.status.as_str()) {
            Some("running") => SandboxState::Running,
            Some("paused") => SandboxState::Paused,
            Some("created") => SandboxState::Created,
            Some(_) => SandboxState::Stopped,
            None if record.started_once => SandboxState::Stopped,
            None => SandboxState::Created,
        }
    }
}

#[async_trait]
impl Backend for RuncBackend {
    /// Copies the image (once per image), reserves an address and writes
    /// the bundle. The network link is made at start, because with runc the
    /// network namespace lives and dies with the container. On failure
    /// nothing is left.
    async fn create(&self, spec: &SandboxSpec) -> Result<(), SandboxError> {
        spec.validate()?;
        let started = Instant::now();
        let lock = self.lock_for(&spec.id);
        let _guard = lock.lock().await;

        let lower = {
            let _image_guard = self.image_lock.lock().await;
            let cache = self.config.state_dir.join("images");
            let image = spec.image_rootfs.clone();
            let (id_base, id_count) = (self.config.id_base, self.config.id_count);
            tokio::task::spawn_blocking(move || {
                image::shifted_copy(&cache, &image, id_base, id_count)
            })
            .await
            .expect("image copy task panicked")?
        };

        let (paths, record) = self.reserve(spec, lower)?;
        if let Err(error) = self.prepare(&paths, &record).await {
            if let Err(cleanup_error) = self
                .remove_everything(&spec.id, &paths, &record.host_veth)
                .await
            {
                tracing::error!(sandbox_id = %spec.id, error = %cleanup_error, "cleanup after failed create failed");
            }
            return Err(error);
        }
        tracing::info!(
            sandbox_id = %spec.id,
            ip = %record.ip,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "created sandbox"
        );
        Ok(())
    }

    async fn start(&self, id: &str) -> Result<(), SandboxError> {
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        let (paths, mut record) = self.load(id)?;
        let started = Instant::now();

        match self.runtime.state(id).await? {
            Some(container) if container.status == "running" || container.status == "paused" => {
                return Ok(())
            }
            // Left over by a start that failed half-way or an init that
            // exited by itself: clear it before starting again.
            Some(container) => {
                self.stop_container(&paths, &mut record, container, Duration::ZERO)
                    .await?
            }
            None => {}
        }

        if let Err(error) = self.run_container(&paths, &mut record).await {
            if self.runtime.state(id).await.ok().flatten().is_some() {
                if let Err(cleanup_error) = self.runtime.delete(id).await {
                    tracing::error!(sandbox_id = id, error = %cleanup_error, "deleting container after failed start failed");
                }
            }
            if let Err(cleanup_error) = rootfs::unmount_overlay(&paths) {
                tracing::error!(sandbox_id = id, error = %cleanup_error, "unmounting after failed start failed");
            }
            return Err(error);
        }
        tracing::info!(
            sandbox_id = id,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "started sandbox"
        );
        Ok(())
    }

    async fn pause(&self, id: &str) -> Result<(), SandboxError> {
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        self.load(id)?;
        match self.runtime.state(id).await?.map(|c| c.status) {
            Some(status) if status == "paused" => Ok(()),
            Some(status) if status == "running" => {
                self.runtime.pause(id).await?;
                tracing::info!(sandbox_id = id, "paused sandbox");
                Ok(())
            }
            _ => Err(SandboxError::NotRunning { id: id.to_string() }),
        }
    }

    async fn resume(&self, id: &str) -> Result<(), SandboxError> {
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        self.load(id)?;
        match self.runtime.state(id).await?.map(|c| c.status) {
            Some(status) if status == "running" => Ok(()),
            Some(status) if status == "paused" => {
                self.runtime.resume(id).await?;
                tracing::info!(sandbox_id = id, "resumed sandbox");
                Ok(())
            }
            _ => Err(SandboxError::NotRunning { id: id.to_string() }),
        }
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), SandboxError> {
        let lock = self.lock_for(id);
        let _guard = lock.lock().await;
        let (paths, mut record) = self.load(id)?;

        let Some(container) = self.runtime.state(id).await? else {
            return rootfs::unmount_overlay(&paths);
        };
        self.stop_container(&paths, &mut record, container, grace)
            .await?;
        tracing::info!(
            sandbox_id = id,
            oom_killed = record.oom_killed,
            "stopped sandbox"
        );
        Ok(())
    }

    async fn destroy(&self, id: &str, volume: VolumeAction) -> Result<(), SandboxError> {
        validate_id(id)?;
        let lock = self.lock_for(id);
        let guard = lock.lock().await;
        let paths = self.paths(id);

        // A directory without a readable record is the remains of a crash
        // during create; its veth name is derived the same way.
        let record = state::load(&paths).ok().flatten();
        let host_veth = record
            .as_ref()
            .map(|record| record.host_veth.clone())
            .unwrap_or_else(|| self.network.host_veth_name(id));
        self.remove_everything(id, &paths, &host_veth).await?;

        if let (VolumeAction::Remove, Some(record)) = (volume, &record) {
            let volume_dir = &record.spec.volume_dir;
            match std::fs::remove_dir_all(volume_dir) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(SandboxError::io("removing volume", volume_dir, error)),
            }
        }

        drop(guard);
        self.locks
            .lock()
            .expect("sandbox lock map poisoned")
            .remove(id);
        if record.is_some() {
            tracing::info!(sandbox_id = id, ?volume, "destroyed sandbox");
        }
        Ok(())
    }

    async fn status(&self, id: &str) -> Result<SandboxStatus, SandboxError> {
        validate_id(id)?;
        let Some(record) = state::load(&self.paths(id))? else {
            return Ok(SandboxStatus {
                state: SandboxState::Missing,
                oom_killed: false,
                exit_code: None,
            });
        };
        let container = self.runtime.state(id).await?;
        let oom_killed = match container {
            Some(_) => cgroup::oom_killed(&record.cgroups).unwrap_or(record.oom_killed),
            None => record.oom_killed,
        };
        Ok(SandboxStatus {
            state: Self::observed_state(&record, container.as_ref()),
            oom_killed,
            // TODO: runc does not keep the exit status of a detached
            // container's init. Reporting it needs a monitor process that
            // waits for the init, as conmon does for Podman.
            exit_code: None,
        })
    }

    async fn endpoint(&self, id: &str) -> Result<Endpoint, SandboxError> {
        let (_, record) = self.load(id)?;
        Ok(Endpoint { ip: record.ip })
    }

    async fn usage(&self, id: &str) -> Result<ResourceUsage, SandboxError> {
        let (_, record) = self.load(id)?;
        match self.runtime.state(id).await? {
            Some(container) if container.status == "running" || container.status == "paused" => {
                cgroup::usage(&record.cgroups)
            }
            _ => Err(SandboxError::NotRunning { id: id.to_string() }),
        }
    }

    async fn list(&self) -> Result<Vec<SandboxInfo>, SandboxError> {
        let mut infos = Vec::new();
        for record in self.records()? {
            let container = self.runtime.state(&record.spec.id).await?;
            infos.push(SandboxInfo {
                id: record.spec.id.clone(),
                labels: record.spec.labels.clone(),
                state: Self::observed_state(&record, container.as_ref()),
            });
        }
        infos.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(infos)
    }

    async fn exec(
        &self,
        id: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, SandboxError> {
        self.load(id)?;
        if argv.is_empty() {
            return Err(SandboxError::InvalidSpec(
                "exec needs a program to run".to_string(),
            ));
        }
        match self.runtime.state(id).await? {
            Some(container) if container.status == "running" => {
                self.runtime.exec(id, argv, timeout).await
            }
            _ => Err(SandboxError::NotRunning { id: id.to_string() }),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            memory_snapshot: self.runtime.kind == RuntimeKind::Runsc,
        }
    }

    fn host_ip(&self) -> Ipv4Addr {
        self.network.host_ip()
    }
}

/// Resolves a program name on PATH, or checks that a path exists.
fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.exists().then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
