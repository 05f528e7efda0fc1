//! Reading a container's cgroup v1 files: CPU time, memory and OOM kills.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::{ResourceUsage, SandboxError};

/// Controllers whose directories are recorded at start.
const CONTROLLERS: &[&str] = &["memory", "cpuacct"];

/// Finds the cgroup v1 directories of process `pid` for the controllers
/// this module reads, from /proc/<pid>/cgroup and the host's mount table.
pub(crate) fn directories_of(pid: i64) -> Result<BTreeMap<String, PathBuf>, SandboxError> {
    let membership_path = format!("/proc/{pid}/cgroup");
    let membership = fs::read_to_string(&membership_path)
        .map_err(|e| SandboxError::io("reading", &membership_path, e))?;
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| SandboxError::io("reading", "/proc/self/mountinfo", e))?;

    let mut directories = BTreeMap::new();
    for line in membership.lines() {
        // "4:memory:/some/path" or "2:cpu,cpuacct:/some/path".
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = match (fields.next(), fields.next(), fields.next()) {
            (Some(id), Some(controllers), Some(path)) => (id, controllers, path),
            _ => continue,
        };
        for controller in controllers.split(',') {
            if !CONTROLLERS.contains(&controller) {
                continue;
            }
            if let Some(mount_point) = v1_mount_point(&mountinfo, controller) {
                let relative = path.trim_start_matches('/');
                directories.insert(controller.to_string(), mount_point.join(relative));
            }
        }
    }
    Ok(directories)
}

/// Mount point of the cgroup v1 hierarchy that carries `controller`.
fn v1_mount_point(mountinfo: &str, controller: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "... <mount point> <options> - cgroup cgroup <super options>"
        let (left, right) = line.split_once(" - ")?;
        let mut right_fields = right.split(' ');
        if right_fields.next()? != "cgroup" {
            return None;
        }
        let super_options = right_fields.nth(1)?;
        if !super_options.split(',').any(|option| option == controller) {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

fn read_u64(path: &Path) -> Result<u64, SandboxError> {
    let text = fs::read_to_string(path).map_err(|e| SandboxError::io("reading", path, e))?;
    text.trim().parse().map_err(|_| {
        SandboxError::io(
            "parsing",
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not a number: {text:?}"),
            ),
        )
    })
}

/// Reads CPU time and memory usage from the recorded directories.
pub(crate) fn usage(
    directories: &BTreeMap<String, PathBuf>,
) -> Result<ResourceUsage, SandboxError> {
    let memory = directory(directories, "memory")?;
    let cpuacct = directory(directories, "cpuacct")?;
    Ok(ResourceUsage {
        cpu_usage_ns: read_u64(&cpuacct.join("cpuacct.usage"))?,
        memory_bytes: read_u64(&memory.join("memory.usage_in_bytes"))?,
        memory_limit_bytes: read_u64(&memory.join("memory.limit_in_bytes"))?,
    })
}

/// True when the kernel's OOM killer has killed a process in the memory
/// cgroup; `None` when the cgroup no longer exists.
pub(crate) fn oom_killed(directories: &BTreeMap<String, PathBuf>) -> Option<bool> {
    let memory = directories.get("memory")?;
    let text = fs::read_to_string(memory.join("memory.oom_control")).ok()?;
    // Lines such as "oom_kill_disable 0", "under_oom 0", "oom_kill 1"; the
    // oom_kill counter exists since Linux 4.13.
    let kills = text
        .lines()
        .filter_map(|line| line.strip_prefix("oom_kill "))
        .filter_map(|count| count.trim().parse::<u64>().ok())
        .next()?;
    Some(kills > 0)
}

fn directory<'a>(
    directories: &'a BTreeMap<String, PathBuf>,
    controller: &str,
) -> Result<&'a PathBuf, SandboxError> {
    directories.get(controller).ok_or_else(|| {
        SandboxError::io(
            "finding cgroup",
            controller,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "controller was not recorded at start",
            ),
        )
    })
}
