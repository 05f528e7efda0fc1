//! The sandbox's root filesystem (an overlay of the shifted image and a
//! per-sandbox upper layer) and the files bind-mounted into it.

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chown, Gid, Uid};
use walkdir::WalkDir;

use super::state::SandboxPaths;
use crate::SandboxError;

/// Mounts the overlay at `merged/`. A no-op when it is already mounted.
pub(crate) fn mount_overlay(paths: &SandboxPaths, lower: &Path) -> Result<(), SandboxError> {
    let merged = paths.merged();
    if is_mount_point(&merged)? {
        return Ok(());
    }

    // overlayfs separates options with ',' and lower layers with ':', and
    // has no escaping for either.
    for path in [lower, &paths.upper(), &paths.work()] {
        let text = path.to_string_lossy();
        if text.contains([',', ':', '\\']) {
            return Err(SandboxError::InvalidConfig(format!(
                "path {text} contains ',', ':' or '\\', which overlayfs options cannot carry; choose another state directory"
            )));
        }
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        paths.upper().display(),
        paths.work().display()
    );
    mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|e| SandboxError::io("mounting overlay at", &merged, e.into()))
}

/// Unmounts the overlay. A no-op when it is not mounted.
pub(crate) fn unmount_overlay(paths: &SandboxPaths) -> Result<(), SandboxError> {
    let merged = paths.merged();
    if !merged.exists() || !is_mount_point(&merged)? {
        return Ok(());
    }
    match umount2(&merged, MntFlags::empty()) {
        Ok(()) => Ok(()),
        // Something still holds it open; detach now, the kernel frees it
        // once the last user goes.
        Err(nix::errno::Errno::EBUSY) => umount2(&merged, MntFlags::MNT_DETACH)
            .map_err(|e| SandboxError::io("unmounting", &merged, e.into())),
        Err(error) => Err(SandboxError::io("unmounting", &merged, error.into())),
    }
}

/// True when `path` is listed as a mount point in this process's mount
/// namespace.
fn is_mount_point(path: &Path) -> Result<bool, SandboxError> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| SandboxError::io("reading", "/proc/self/mountinfo", e))?;
    let wanted = path.to_string_lossy();
    // Field 5 is the mount point, with spaces and similar escaped as \040.
    Ok(mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|mount_point| unescape_mountinfo(mount_point) == wanted))
}

fn unescape_mountinfo(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Creates the upper and work directories; the upper root is owned by the
/// sandbox's root user so that the merged root directory is too.
pub(crate) fn prepare_layers(paths: &SandboxPaths, id_base: u32) -> Result<(), SandboxError> {
    for directory in [
        paths.upper(),
        paths.work(),
        paths.merged(),
        paths.bundle(),
        paths.etc(),
    ] {
        fs::create_dir_all(&directory).map_err(|e| SandboxError::io("creating", &directory, e))?;
    }
    let upper = paths.upper();
    chown(
        &upper,
        Some(Uid::from_raw(id_base)),
        Some(Gid::from_raw(id_base)),
    )
    .map_err(|e| SandboxError::io("changing owner of", &upper, e.into()))
}

/// Gives the sandbox's root user the volume: entries owned by unshifted ids
/// (below `id_count`, for example files the host wrote as root) are shifted
/// by `id_base`. Entries already in the sandbox's range are left alone, so
/// repeated calls are cheap no-ops apart from the walk.
pub(crate) fn shift_volume_owner(
    volume: &Path,
    id_base: u32,
    id_count: u32,
) -> Result<(), SandboxError> {
    fs::create_dir_all(volume).map_err(|e| SandboxError::io("creating volume", volume, e))?;
    for entry in WalkDir::new(volume).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(volume).to_path_buf();
            SandboxError::io("reading volume", path, e.into())
        })?;
        let metadata = entry
            .path()
            .symlink_metadata()
            .map_err(|e| SandboxError::io("reading volume", entry.path(), e))?;
        let shift = |id: u32| {
            if id < id_count {
                Some(id + id_base)
            } else {
                None
            }
        };
        let (uid, gid) = (shift(metadata.uid()), shift(metadata.gid()));
        if uid.is_none() && gid.is_none() {
            continue;
        }
        nix::unistd::fchownat(
            None,
            entry.path(),
            uid.map(Uid::from_raw),
            gid.map(Gid::from_raw),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| SandboxError::io("changing owner of", entry.path(), e.into()))?;

        // chown clears setuid and setgid bits; restore the original mode.
        if metadata.file_type().is_file() && metadata.mode() & 0o6000 != 0 {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(
                entry.path(),
                fs::Permissions::from_mode(metadata.mode() & 0o7777),
            )
            .map_err(|e| SandboxError::io("setting mode of", entry.path(), e))?;
        }
    }
    Ok(())
}

/// Writes the `hosts` and `resolv.conf` that are bind-mounted into the
/// sandbox.
pub(crate) fn write_etc_files(
    paths: &SandboxPaths,
    hostname: &str,
    ip: Ipv4Addr,
    nameservers: &[Ipv4Addr],
) -> Result<(), SandboxError> {
    let hosts = format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n{ip}\t{hostname}\n");
    let mut resolv = String::new();
    for nameserver in nameservers {
        resolv.push_str(&format!("nameserver {nameserver}\n"));
    }

    let etc = paths.etc();
    for (name, text) in [("hosts", hosts), ("resolv.conf", resolv)] {
        let path = etc.join(name);
        fs::write(&path, text).map_err(|e| SandboxError::io("writing", &path, e))?;
    }
    Ok(())
}

/// Returns the IPv4 nameservers of the host's `/etc/resolv.conf` that a
/// sandbox can reach: loopback resolvers are left out, because the
/// sandbox's loopback is its own.
pub(crate) fn host_nameservers() -> Vec<Ipv4Addr> {
    let text = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<Ipv4Addr>().ok())
        .filter(|address| !address.is_loopback())
        .collect()
}
