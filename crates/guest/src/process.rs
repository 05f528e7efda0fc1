//! Building the runtime's command line and signalling its process group.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use gopilot_guest_api::GuestConfig;
use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// `PATH` of the runtime unless the config's `env` sets one.
const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const BASE_HOME: &str = "/root";
const BASE_LANG: &str = "C.UTF-8";

/// Builds the runtime command: a clean environment (`PATH`, `HOME`, `LANG`,
/// then the config's `env`), stdin from /dev/null, piped output, and a new
/// process group whose id is the runtime's PID.
pub fn runtime_command(config: &GuestConfig) -> Command {
    let mut command = Command::new(&config.command[0]);
    command
        .args(&config.command[1..])
        .env_clear()
        .env("PATH", BASE_PATH)
        .env("HOME", BASE_HOME)
        .env("LANG", BASE_LANG)
        .envs(&config.env)
        .current_dir(&config.workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    command
}

/// Sends `signal` to every process in the group led by `pid`.
/// Returns `Ok(false)` when the group has no process left.
///
/// TODO: a descendant that called `setsid` or `setpgid` has left the group and
/// gets no signal. As PID 1 the kernel kills it when the guest exits, but a
/// restart leaves it running.
pub fn signal_group(pid: u32, signal: Signal) -> Result<bool, Errno> {
    match killpg(Pid::from_raw(pid as i32), signal) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Returns true while any process of the group led by `pid` exists.
pub fn group_alive(pid: u32) -> bool {
    // Signal 0 checks for existence without sending anything.
    !matches!(killpg(Pid::from_raw(pid as i32), None), Err(Errno::ESRCH))
}

/// Sends `signal` to the single process `pid`.
pub fn signal_process(pid: u32, signal: Signal) -> Result<(), Errno> {
    kill(Pid::from_raw(pid as i32), signal)
}
