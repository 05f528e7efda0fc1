//! The OCI runtime spec (`config.json`) of one sandbox.

use std::path::Path;

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder,
    LinuxIdMappingBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder,
    Spec, SpecBuilder,
};

use super::seccomp;
use crate::{SandboxError, SandboxSpec};

/// CFS period in microseconds; the quota is `cpus` times this.
const CPU_PERIOD_US: u64 = 100_000;

/// Capabilities of the sandbox's root: Docker's default set without
/// CAP_NET_RAW and CAP_MKNOD, which agents do not need. They apply inside
/// the sandbox's user namespace only, never to host objects.
const CAPABILITIES: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
    Capability::Setfcap,
];

/// Paths hidden inside the sandbox, as in `runc spec`.
const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Paths made read-only inside the sandbox, as in `runc spec`.
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Inputs of the bundle besides the user's spec.
pub(crate) struct BundleInputs<'a> {
    pub spec: &'a SandboxSpec,
    /// Overlay mount point used as the container's root.
    pub rootfs: &'a Path,
    /// Directory holding the generated `resolv.conf` and `hosts`.
    pub etc_dir: &'a Path,
    /// Existing network namespace the container joins. `None` lets the
    /// runtime create one owned by the sandbox's user namespace.
    pub netns_path: Option<&'a Path>,
    /// First host uid/gid of the sandbox's user namespace.
    pub id_base: u32,
    pub id_count: u32,
}

/// Builds the OCI runtime spec.
pub(crate) fn build(inputs: &BundleInputs<'_>) -> Result<Spec, SandboxError> {
    let spec = inputs.spec;

    let mut env =
        vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()];
    env.push(format!("HOSTNAME={}", spec.id));
    env.extend(spec.env.iter().map(|(key, value)| format!("{key}={value}")));

    let capabilities = CAPABILITIES
        .iter()
        .copied()
        .collect::<std::collections::HashSet<_>>();
    let process = ProcessBuilder::default()
        .terminal(false)
        .args(spec.command.clone())
        .env(env)
        .cwd("/")
        .no_new_privileges(true)
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(capabilities.clone())
                .effective(capabilities.clone())
                .permitted(capabilities)
                .build()?,
        )
        .build()?;

    let root = RootBuilder::default()
        .path(inputs.rootfs)
        .readonly(false)
        .build()?;

    Ok(SpecBuilder::default()
        .version("1.0.2")
        .process(process)
        .root(root)
        .hostname(spec.id.clone())
        .mounts(mounts(inputs)?)
        .linux(linux(inputs)?)
        .build()?)
}

fn mounts(inputs: &BundleInputs<'_>) -> Result<Vec<Mount>, SandboxError> {
    let mut mounts = Vec::new();
    let mut add = |destination: &str, typ: &str, source: &Path, options: &[&str]| {
        MountBuilder::default()
            .destination(destination)
            .typ(typ)
            .source(source)
            .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
            .build()
            .map(|mount| mounts.push(mount))
    };

    add(
        "/proc",
        "proc",
        Path::new("proc"),
        &["nosuid", "noexec", "nodev"],
    )?;
    add(
        "/dev",
        "tmpfs",
        Path::new("tmpfs"),
        &["nosuid", "strictatime", "mode=755", "size=65536k"],
    )?;
    add(
        "/dev/pts",
        "devpts",
        Path::new("devpts"),
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
        ],
    )?;
    add(
        "/dev/shm",
        "tmpfs",
        Path::new("shm"),
        &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    )?;
    add(
        "/dev/mqueue",
        "mqueue",
        Path::new("mqueue"),
        &["nosuid", "noexec", "nodev"],
    )?;

    if inputs.netns_path.is_some() {
        // A network namespace made on the host belongs to the host's user
        // namespace, so the kernel refuses a fresh sysfs mount from inside
        // the sandbox's. A read-only bind of the host's /sys is what
        // rootless runtimes use in the same situation.
        add(
            "/sys",
            "none",
            Path::new("/sys"),
            &["rbind", "nosuid", "noexec", "nodev", "ro"],
        )?;
    } else {
        add(
            "/sys",
            "sysfs",
            Path::new("sysfs"),
            &["nosuid", "noexec", "nodev", "ro"],
        )?;
    }

    add(
        "/etc/resolv.conf",
        "none",
        &inputs.etc_dir.join("resolv.conf"),
        &["bind", "ro", "nosuid", "nodev", "noexec"],
    )?;
    add(
        "/etc/hosts",
        "none",
        &inputs.etc_dir.join("hosts"),
        &["bind", "ro", "nosuid", "nodev", "noexec"],
    )?;
    add(
        &inputs.spec.volume_mount,
        "none",
        &inputs.spec.volume_dir,
        &["rbind", "rw", "nosuid", "nodev"],
    )?;
    Ok(mounts)
}

fn linux(inputs: &BundleInputs<'_>) -> Result<oci_spec::runtime::Linux, SandboxError> {
    let spec = inputs.spec;

    let namespace = |typ: LinuxNamespaceType| LinuxNamespaceBuilder::default().typ(typ).build();
    let namespaces = vec![
        namespace(LinuxNamespaceType::User)?,
        namespace(LinuxNamespaceType::Pid)?,
        namespace(LinuxNamespaceType::Ipc)?,
        namespace(LinuxNamespaceType::Uts)?,
        namespace(LinuxNamespaceType::Mount)?,
        namespace(LinuxNamespaceType::Cgroup)?,
    ];
    let network = match inputs.netns_path {
        Some(path) => LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::Network)
            .path(path)
            .build()?,
        None => namespace(LinuxNamespaceType::Network)?,
    };
    let mut namespaces = namespaces;
    namespaces.push(network);

    let id_mapping = LinuxIdMappingBuilder::default()
        .container_id(0u32)
        .host_id(inputs.id_base)
        .size(inputs.id_count)
        .build()?;

    // Swap is not allowed beyond the memory limit: memory+swap equals it.
    let memory_limit = i64::try_from(spec.limits.memory_bytes).unwrap_or(i64::MAX);
    let quota = (spec.limits.cpus * CPU_PERIOD_US as f64).round() as i64;
    let resources = LinuxResourcesBuilder::default()
        .devices(vec![LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()?])
        .memory(
            LinuxMemoryBuilder::default()
                .limit(memory_limit)
                .swap(memory_limit)
                .build()?,
        )
        .cpu(
            LinuxCpuBuilder::default()
                .quota(quota)
                .period(CPU_PERIOD_US)
                .build()?,
        )
        .pids(
            LinuxPidsBuilder::default()
                .limit(i64::try_from(spec.limits.pids).unwrap_or(i64::MAX))
                .build()?,
        )
        .build()?;

    Ok(LinuxBuilder::default()
        .uid_mappings(vec![id_mapping])
        .gid_mappings(vec![id_mapping])
        .namespaces(namespaces)
        // Relative, so runc creates the cgroups below the cgroup of the
        // process that starts it.
        .cgroups_path(format!("gopilot-{}", spec.id))
        .resources(resources)
        .seccomp(seccomp::profile()?)
        .masked_paths(
            MASKED_PATHS
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )
        .readonly_paths(
            READONLY_PATHS
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )
        .build()?)
}
