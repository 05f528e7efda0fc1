//! Orphan reaping, with the guest as PID 1 of a new PID namespace and as a
//! child subreaper in the test's own namespace.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use common::{base_config, guest_binary, parent_pid, process_state, write_config, Guest};

/// Starts 20 background `sleep`s whose parent shell exits at once, so each
/// `sleep` is re-parented to the guest and becomes a zombie unless reaped.
const ORPHAN_SCRIPT: &str = "i=0; while [ $i -lt 20 ]; do (sleep 0.2 &); i=$((i+1)); done; echo orphans started; exec sleep 1000";

/// PIDs (in the test's namespace) of the processes whose parent is `parent`, with their state letters.
fn children_of(parent: u32) -> Vec<(u32, char)> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if parent_pid(&stat) == Some(parent) {
            children.push((pid, process_state(&stat).unwrap()));
        }
    }
    children
}

/// Waits until the orphans are re-parented to `guest_pid`, then until they exit, and returns
/// the most orphans seen at once and the zombies left 1.5 s after they exited.
async fn observe_orphans(guest: &Guest, guest_pid: u32) -> (usize, usize) {
    guest
        .wait_for_line("stdout", "orphans started", Duration::from_secs(10))
        .await;

    // Only the runtime itself is a direct child of the guest besides the orphans.
    let mut most_orphans = 0;
    let deadline = Instant::now() + Duration::from_millis(150);
    while Instant::now() < deadline {
        most_orphans = most_orphans.max(children_of(guest_pid).len().saturating_sub(1));
        std::thread::sleep(Duration::from_millis(10));
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let zombies = children_of(guest_pid)
        .iter()
        .filter(|(_, state)| *state == 'Z')
        .count();
    (most_orphans, zombies)
}

#[tokio::test]
async fn pid1_reaps_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let config = base_config(dir.path(), ORPHAN_SCRIPT);
    let path = write_config(dir.path(), &config);

    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(guest_binary())
        .arg("--config")
        .arg(&path);
    let guest = Guest::start_command(command, &config).await;

    let unshare_pid = guest.child.id();
    let guest_pid = children_of(unshare_pid)
        .first()
        .expect("unshare has a child")
        .0;
    let status = std::fs::read_to_string(format!("/proc/{guest_pid}/status")).unwrap();
    let namespace_pids = status
        .lines()
        .find(|line| line.starts_with("NSpid:"))
        .unwrap();
    assert!(
        namespace_pids.ends_with("\t1"),
        "the guest is not PID 1 in its namespace: {namespace_pids}"
    );

    let (most_orphans, zombies) = observe_orphans(&guest, guest_pid).await;

    println!("orphans seen under PID 1: {most_orphans}, zombies left: {zombies}");
    assert!(
        most_orphans > 0,
        "no orphan was re-parented to the guest, so the test proves nothing"
    );
    assert_eq!(
        zombies,
        0,
        "zombies left under the guest: {:?}",
        children_of(guest_pid)
    );

    // As PID 1 the guest gets SIGTERM only because it installed a handler.
    let mut guest = guest;
    kill(Pid::from_raw(guest_pid as i32), Signal::SIGTERM).unwrap();
    let exit = guest.wait_exit(Duration::from_secs(5));
    assert!(exit.success(), "unshare reported {exit} for the guest");
}

#[tokio::test]
async fn subreaper_reaps_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let guest = Guest::start(dir.path(), &base_config(dir.path(), ORPHAN_SCRIPT)).await;
    let guest_pid = guest.child.id();

    let (most_orphans, zombies) = observe_orphans(&guest, guest_pid).await;

    println!("orphans seen under the subreaper: {most_orphans}, zombies left: {zombies}");
    assert!(
        most_orphans > 0,
        "no orphan was re-parented to the guest, so the test proves nothing"
    );
    assert_eq!(
        zombies,
        0,
        "zombies left under the guest: {:?}",
        children_of(guest_pid)
    );
}
