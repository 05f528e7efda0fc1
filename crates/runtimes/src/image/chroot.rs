//! Runs a command inside an image's root filesystem with chroot, for build
//! steps and tests. This is not a sandbox: the command shares the host's
//! network, users and devices.
//!
//! The command runs in new mount and PID namespaces (`unshare --mount --pid
//! --fork --kill-child`), so the mounts it needs (/proc, /dev, /sys,
//! /etc/resolv.conf) vanish when it exits, and every process it started is
//! killed when it or its `unshare` parent dies.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// PATH inside the image.
const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Mounts what a runtime expects, then replaces itself by chroot. Arguments:
/// the root filesystem, the number of bind mounts, pairs of (host directory,
/// directory inside the root), then the command.
const ENTER_SCRIPT: &str = r#"
set -eu
root=$1
binds=$2
shift 2
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
if [ -f "$root/etc/resolv.conf" ] && [ ! -L "$root/etc/resolv.conf" ]; then
    mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
fi
while [ "$binds" -gt 0 ]; do
    mount --bind "$1" "$root$2"
    shift 2
    binds=$((binds - 1))
done
exec chroot "$root" "$@"
"#;

/// A command to run inside a root filesystem.
pub struct ChrootCommand {
    rootfs: PathBuf,
    program: String,
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    binds: Vec<(PathBuf, String)>,
}

impl ChrootCommand {
    pub fn new(rootfs: &Path, program: &str) -> Self {
        ChrootCommand {
            rootfs: rootfs.to_path_buf(),
            program: program.to_string(),
            args: Vec::new(),
            env: vec![
                ("PATH".to_string(), IMAGE_PATH.into()),
                ("HOME".to_string(), "/root".into()),
                ("LANG".to_string(), "C.UTF-8".into()),
            ],
            binds: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of the command; the host's environment is
    /// not passed in.
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.retain(|(name, _)| name != key);
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// Bind-mounts the host directory `source` at `target` (an absolute path
    /// inside the root filesystem that must already exist), for this command
    /// only. Writes under `target` land in `source`, not in the image.
    pub fn bind(mut self, source: &Path, target: &str) -> Self {
        self.binds.push((source.to_path_buf(), target.to_string()));
        self
    }

    /// Returns the host command that enters the root filesystem and runs the
    /// program. The caller may set stdio, a process group and so on.
    pub fn into_command(self) -> Command {
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--",
                "/bin/sh",
                "-c",
                ENTER_SCRIPT,
                "enter-rootfs",
            ])
            .arg(&self.rootfs)
            .arg(self.binds.len().to_string());
        for (source, target) in &self.binds {
            command.arg(source).arg(target);
        }
        command.arg(&self.program).args(&self.args);

        command.env_clear();
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }
}
