//! SIGTERM to the guest: forwarded to the runtime, SIGKILL after the grace period.

mod common;

use std::time::{Duration, Instant};

use common::{base_config, process_alive, Guest};
use nix::sys::signal::Signal;
use serde_json::json;

#[tokio::test]
async fn sigterm_reaches_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let script = "trap 'touch \"$TEST_DIR/got-sigterm\"; exit 0' TERM; echo trap installed; while true; do sleep 0.05; done";
    let mut guest = Guest::start(dir.path(), &base_config(dir.path(), script)).await;
    guest
        .wait_for_line("stdout", "trap installed", Duration::from_secs(5))
        .await;
    let runtime_pid = guest.status().await["runtime"]["pid"].as_u64().unwrap() as u32;

    let sent = Instant::now();
    guest.signal(Signal::SIGTERM);
    let exit = guest.wait_exit(Duration::from_secs(5));
    let elapsed = sent.elapsed();

    println!("guest exited {} ms after SIGTERM", elapsed.as_millis());
    assert!(exit.success(), "guest exit status: {exit}");
    assert!(
        dir.path().join("got-sigterm").exists(),
        "the runtime's TERM trap did not run"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "exit took {elapsed:?}, the 5 s grace should not be used"
    );
    assert!(
        !process_alive(runtime_pid),
        "runtime pid {runtime_pid} is still alive"
    );
}

#[tokio::test]
async fn sigkill_after_grace() {
    let dir = tempfile::tempdir().unwrap();
    // An ignored signal stays ignored in children, so `sleep` ignores SIGTERM too.
    let script = "trap '' TERM; echo ignoring SIGTERM; while true; do sleep 0.05; done";
    let mut config = base_config(dir.path(), script);
    config["stop_grace_ms"] = json!(1000);
    let mut guest = Guest::start(dir.path(), &config).await;
    guest
        .wait_for_line("stdout", "ignoring SIGTERM", Duration::from_secs(5))
        .await;
    let runtime_pid = guest.status().await["runtime"]["pid"].as_u64().unwrap() as u32;

    let sent = Instant::now();
    guest.signal(Signal::SIGTERM);
    let exit = guest.wait_exit(Duration::from_secs(5));
    let elapsed = sent.elapsed();

    println!(
        "guest exited {} ms after SIGTERM with a 1000 ms grace",
        elapsed.as_millis()
    );
    assert!(exit.success(), "guest exit status: {exit}");
    assert!(
        elapsed >= Duration::from_millis(1000),
        "exit after {elapsed:?} came before the grace period ended"
    );
    assert!(
        elapsed < Duration::from_millis(2500),
        "exit took {elapsed:?}, far beyond the 1 s grace"
    );
    assert!(
        !process_alive(runtime_pid),
        "runtime pid {runtime_pid} survived SIGKILL"
    );

    let log = std::fs::read_to_string(dir.path().join("logs/runtime.log")).unwrap();
    assert!(
        log.contains("did not stop within 1000 ms; sending SIGKILL"),
        "{log}"
    );
    assert!(log.contains("exited with signal SIGKILL"), "{log}");
}

#[tokio::test]
async fn sigint_also_stops() {
    let dir = tempfile::tempdir().unwrap();
    let mut guest = Guest::start(
        dir.path(),
        &base_config(dir.path(), "echo up; exec sleep 1000"),
    )
    .await;
    guest
        .wait_for_line("stdout", "up", Duration::from_secs(5))
        .await;
    let runtime_pid = guest.status().await["runtime"]["pid"].as_u64().unwrap() as u32;

    guest.signal(Signal::SIGINT);
    let exit = guest.wait_exit(Duration::from_secs(5));

    assert!(exit.success(), "guest exit status: {exit}");
    assert!(
        !process_alive(runtime_pid),
        "runtime pid {runtime_pid} is still alive"
    );
}
