//! The seccomp profile: allow by default, return EPERM for system calls that
//! a sandboxed agent never needs and that widen the kernel attack surface.
//!
//! This follows the spirit of Docker's default profile without its
//! allow-list. Most of these calls already fail for lack of capabilities;
//! the filter stops them before the kernel code that checks capabilities
//! runs, and also covers the capabilities a new user namespace would grant.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompBuilder, LinuxSyscallBuilder,
};

use crate::SandboxError;

/// System calls that fail with EPERM inside a sandbox, grouped by reason.
const BLOCKED_SYSCALLS: &[&str] = &[
    // Replacing or stopping the host kernel.
    "kexec_load",
    "kexec_file_load",
    "reboot",
    // Kernel modules.
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    // Mount table changes and namespace escapes or nesting.
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "unshare",
    "setns",
    // Inspecting or changing other processes' memory.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    // Kernel keyring, eBPF, perf and userfaultfd: large attack surface.
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    // File handles that bypass path checks.
    "open_by_handle_at",
    "name_to_handle_at",
    // Host-wide clocks, swap, accounting, quotas, I/O ports, kernel log.
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "iopl",
    "ioperm",
    "syslog",
    "lookup_dcookie",
    "uselib",
    "vhangup",
    "nfsservctl",
];

/// Architectures the filter is compiled for; 32-bit entry points are listed
/// too, because otherwise they would bypass the filter.
fn architectures() -> Vec<Arch> {
    if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    }
}

/// Builds the profile. runc skips names the running kernel does not know.
pub(crate) fn profile() -> Result<LinuxSeccomp, SandboxError> {
    let blocked = LinuxSyscallBuilder::default()
        .names(
            BLOCKED_SYSCALLS
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>(),
        )
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(nix::libc::EPERM as u32)
        .build()?;
    let profile = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .architectures(architectures())
        .syscalls(vec![blocked])
        .build()?;
    Ok(profile)
}
