//! Resource limits: memory (OOM kill reported in status) and CPU quota.

mod common;

use std::time::Duration;

use common::TestEnv;
use gopilot_sandbox::{Backend, SandboxState, VolumeAction};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_oom_kills() {
    let env = TestEnv::new("oom", 45, vec![]).await;
    let backend = &env.backend;
    let id = "oom1";
    let mut spec = env.spec(id, "sleep 1000000");
    spec.limits.memory_bytes = 32 * 1024 * 1024;
    backend.create(&spec).await.unwrap();
    backend.start(id).await.unwrap();

    let usage = backend.usage(id).await.unwrap();
    assert_eq!(usage.memory_limit_bytes, 32 * 1024 * 1024);
    assert!(usage.memory_bytes > 0);
    assert!(!backend.status(id).await.unwrap().oom_killed);

    // Holds 64 MiB of /dev/zero in one shell variable: twice the limit.
    let hog = env
        .sh(
            id,
            "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}",
        )
        .await;
    assert!(
        !hog.stdout_text().contains("survived"),
        "allocation past the limit succeeded"
    );
    assert!(
        backend.status(id).await.unwrap().oom_killed,
        "status does not report the OOM kill"
    );

    // The init process was not the victim: the sandbox still runs, and the
    // OOM record survives a stop, when the cgroup is gone.
    assert_eq!(
        backend.status(id).await.unwrap().state,
        SandboxState::Running
    );
    backend.stop(id, Duration::from_secs(2)).await.unwrap();
    assert!(backend.status(id).await.unwrap().oom_killed);
    backend.start(id).await.unwrap();
    assert!(
        !backend.status(id).await.unwrap().oom_killed,
        "start did not reset oom_killed"
    );

    backend.destroy(id, VolumeAction::Remove).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_oom_kill_stops_sandbox() {
    let env = TestEnv::new("oomi", 46, vec![]).await;
    let backend = &env.backend;
    let id = "oomi1";
    let mut spec = env.spec(
        id,
        "sleep 1; x=$(head -c 67108864 /dev/zero | tr '\\0' a); sleep 1000",
    );
    spec.limits.memory_bytes = 32 * 1024 * 1024;
    backend.create(&spec).await.unwrap();
    backend.start(id).await.unwrap();

    let mut status = backend.status(id).await.unwrap();
    for _ in 0..100 {
        if status.state == SandboxState::Stopped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = backend.status(id).await.unwrap();
    }
    assert_eq!(status.state, SandboxState::Stopped);
    assert!(status.oom_killed);
    backend.destroy(id, VolumeAction::Remove).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_quota_holds() {
    let env = TestEnv::new("cpu", 47, vec![]).await;
    let backend = &env.backend;
    let id = "cpu1";
    let mut spec = env.spec(id, "while true; do :; done");
    spec.limits.cpus = 0.5;
    backend.create(&spec).await.unwrap();
    backend.start(id).await.unwrap();
    // Let the loop reach its steady state before measuring.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let before = backend.usage(id).await.unwrap();
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = backend.usage(id).await.unwrap();
    let wall_ns = started.elapsed().as_nanos() as f64;
    let cores = (after.cpu_usage_ns - before.cpu_usage_ns) as f64 / wall_ns;
    eprintln!("measured: busy loop with cpus = 0.5 used {cores:.3} cores");
    assert!(
        cores < 0.7,
        "busy loop used {cores:.3} cores with a 0.5 quota"
    );
    assert!(
        cores > 0.2,
        "busy loop used only {cores:.3} cores; is it running?"
    );

    backend.destroy(id, VolumeAction::Remove).await.unwrap();
}
