//! Lifecycle of one sandbox on real runc: create, start, pause, resume,
//! stop, start again, destroy, with the idempotency rules of each step.

mod common;

use std::time::{Duration, Instant};

use common::{wait_until, TestEnv};
use gopilot_sandbox::{Backend, SandboxError, SandboxState, VolumeAction};

/// Counter loop: writes "<token> <n>" to the volume every 50 ms. The token
/// is drawn once per shell, so a restarted process shows a new token.
const COUNTER: &str = "t=$(cat /proc/sys/kernel/random/uuid); i=0; \
    while true; do i=$((i+1)); echo \"$t $i\" > /workspace/counter.tmp; \
    mv /workspace/counter.tmp /workspace/counter; sleep 0.05; done";

fn read_counter(env: &TestEnv, id: &str) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(env.volume(id).join("counter")).ok()?;
    let (token, count) = text.trim().split_once(' ')?;
    Some((token.to_string(), count.parse().ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_full_cycle() {
    let env = TestEnv::new("life", 41, vec![]).await;
    let id = "life1";
    let backend = &env.backend;

    let started = Instant::now();
    backend.create(&env.spec(id, COUNTER)).await.unwrap();
    let create_time = started.elapsed();
    assert_eq!(
        backend.status(id).await.unwrap().state,
        SandboxState::Created
    );

    let started = Instant::now();
    backend.start(id).await.unwrap();
    let start_time = started.elapsed();
    eprintln!(
        "measured: create {create_time:?} (includes the first image copy), start {start_time:?}"
    );
    assert_eq!(
        backend.status(id).await.unwrap().state,
        SandboxState::Running
    );
    assert!(
        wait_until(Duration::from_secs(5), || read_counter(&env, id).is_some()).await,
        "counter never appeared in the volume"
    );

    // Repeated calls that are documented as no-ops.
    backend.start(id).await.unwrap();
    assert!(matches!(
        backend.create(&env.spec(id, COUNTER)).await,
        Err(SandboxError::AlreadyExists { .. })
    ));

    // Pause: the counter stops advancing.
    let started = Instant::now();
    backend.pause(id).await.unwrap();
    let pause_time = started.elapsed();
    backend.pause(id).await.unwrap();
    assert_eq!(
        backend.status(id).await.unwrap().state,
        SandboxState::Paused
    );
    let (token_paused, count_paused) = read_counter(&env, id).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, count_after_wait) = read_counter(&env, id).unwrap();
    assert_eq!(
        count_paused, count_after_wait,
        "counter advanced while paused"
    );

    // Resume: the same process continues counting.
    let started = Instant::now();
    backend.resume(id).await.unwrap();
    let resume_time = started.elapsed();
    backend.resume(id).await.unwrap();
    eprintln!("measured: pause {pause_time:?}, resume {resume_time:?}");
    assert_eq!(
        backend.status(id).await.unwrap().state,
        SandboxState::Running
    );
    assert!(
        wait_until(Duration::from_secs(5), || read_counter(&env, id)
            .map(|(_, count)| count > count_paused + 2)
            .unwrap_or(false))
        .await,
        "counter did not advance after resume"
    );
    let (token_resumed, _) = read_counter(&env, id).unwrap();
    assert_eq!(
        token_paused, token_resumed,
        "the counter process was restarted by resume"
    );

    // Files: one in the volume, one in the root filesystem's upper layer.
    let written = env
        .sh(
            id,
            "echo kept > /workspace/kept && echo upper > /root/upper-file",
        )
        .await;
    assert!(
        written.success(),
        "writing files failed: {}",
        written.stderr_text()
    );
    let environment = env.sh(id, "echo $GREETING; hostname").await;
    assert_eq!(environment.stdout_text(), "hello\nlife1\n");

    // Stop keeps both files and the address.
    let endpoint_before = backend.endpoint(id).await.unwrap();
    backend.stop(id, Duration::from_secs(5)).await.unwrap();
    backend.stop(id, Duration::from_secs(5)).await.unwrap();
    let status = backend.status(id).await.unwrap();
    assert_eq!(status.state, SandboxState::Stopped);
    assert!(!status.oom_killed);
    assert!(matches!(
        backend.pause(id).await,
        Err(SandboxError::NotRunning { .. })
    ));
    assert!(matches!(
        backend.usage(id).await,
        Err(SandboxError::NotRunning { .. })
    ));

    backend.start(id).await.unwrap();
    assert_eq!(
        backend.status(id).await.unwrap().state,
        SandboxState::Running
    );
    let kept = env.sh(id, "cat /workspace/kept /root/upper-file").await;
    assert_eq!(kept.stdout_text(), "kept\nupper\n");
    assert_eq!(backend.endpoint(id).await.unwrap(), endpoint_before);
    assert!(
        wait_until(Duration::from_secs(5), || read_counter(&env, id)
            .map(|(token, _)| token != token_resumed)
            .unwrap_or(false))
        .await,
        "counter did not restart after stop and start"
    );

    // Stop of a paused sandbox works too.
    backend.pause(id).await.unwrap();
    backend.stop(id, Duration::from_secs(2)).await.unwrap();
    assert_eq!(
        backend.status(id).await.unwrap().state,
        SandboxState::Stopped
    );

    backend.destroy(id, VolumeAction::Keep).await.unwrap();
    assert_eq!(
        backend.status(id).await.unwrap().state,
        SandboxState::Missing
    );
    assert!(
        env.volume(id).join("kept").exists(),
        "VolumeAction::Keep removed the volume"
    );
    backend.destroy(id, VolumeAction::Keep).await.unwrap();
    assert!(matches!(
        backend.start(id).await,
        Err(SandboxError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_kills_init_that_ignores_sigterm() {
    let env = TestEnv::new("term", 42, vec![]).await;
    let id = "term1";
    let backend = &env.backend;
    backend
        .create(&env.spec(id, "trap '' TERM; while true; do sleep 0.1; done"))
        .await
        .unwrap();
    backend.start(id).await.unwrap();

    let started = Instant::now();
    backend.stop(id, Duration::from_millis(700)).await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(700),
        "stop returned before the grace period: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(10), "stop took {elapsed:?}");
    assert_eq!(
        backend.status(id).await.unwrap().state,
        SandboxState::Stopped
    );

    backend.destroy(id, VolumeAction::Remove).await.unwrap();
    assert!(
        !env.volume(id).exists(),
        "VolumeAction::Remove kept the volume"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_rejects_invalid_specs() {
    let env = TestEnv::new("spec", 43, vec![]).await;
    let backend = &env.backend;

    let mut bad_id = env.spec("ok", "true");
    bad_id.id = "Bad_Id".to_string();
    let mut bad_mount = env.spec("ok", "true");
    bad_mount.volume_mount = "relative/path".to_string();
    let mut no_command = env.spec("ok", "true");
    no_command.command.clear();
    let mut missing_image = env.spec("ok", "true");
    missing_image.image_rootfs = env.dir.path().join("no-such-image");

    for spec in [bad_id, bad_mount, no_command, missing_image] {
        let result = backend.create(&spec).await;
        assert!(
            matches!(result, Err(SandboxError::InvalidSpec(_))),
            "accepted {spec:?}: {result:?}"
        );
    }
    assert!(backend.list().await.unwrap().is_empty());
    assert_eq!(
        backend.status("ok").await.unwrap().state,
        SandboxState::Missing
    );
}
