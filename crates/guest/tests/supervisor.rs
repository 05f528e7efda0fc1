//! Runtime supervision: restarts with backoff, output capture, follow, control routes.

mod common;

use std::time::Duration;

use common::{base_config, parse_ts, Guest, TOKEN};
use serde_json::json;

#[tokio::test]
async fn restarts_with_growing_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let config = base_config(
        dir.path(),
        "echo \"run $$\"; echo 'oops on stderr' >&2; exit 3",
    );
    let guest = Guest::start(dir.path(), &config).await;

    let status = guest
        .wait_for_status(Duration::from_secs(15), |status| {
            status["runtime"]["restarts"].as_u64() >= Some(4)
        })
        .await;

    assert_eq!(status["runtime"]["last_exit"]["code"], 3);
    assert!(status["runtime"]["last_exit"]["at"].is_string());
    assert!(status["guest_version"].is_string());

    // Each run prints one `run <pid>` line right after its spawn, so the gaps
    // between those lines measure the backoff: 200, 400, 800, 1600 ms.
    let logs = guest.logs().await;
    let spawn_times: Vec<_> = logs
        .iter()
        .filter(|line| {
            line["stream"] == "stdout" && line["line"].as_str().unwrap().starts_with("run ")
        })
        .map(|line| parse_ts(&line["ts"]))
        .collect();
    assert!(
        spawn_times.len() >= 5,
        "expected 5 runs, got {}",
        spawn_times.len()
    );

    let gaps: Vec<u128> = spawn_times
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).unsigned_abs().as_millis())
        .collect();
    println!("measured gaps between spawns (ms): {gaps:?}");
    let expected = [200u128, 400, 800, 1600];
    for (gap, expected) in gaps.iter().zip(expected) {
        assert!(
            *gap >= expected,
            "gaps {gaps:?}: {gap} ms is shorter than the {expected} ms backoff"
        );
        assert!(
            *gap < expected + 500,
            "gaps {gaps:?}: {gap} ms is far above the {expected} ms backoff"
        );
    }
}

#[tokio::test]
async fn output_lines_keep_stream() {
    let dir = tempfile::tempdir().unwrap();
    let script = "echo 'to stdout'; echo 'to stderr' >&2; exec sleep 1000";
    let guest = Guest::start(dir.path(), &base_config(dir.path(), script)).await;

    let stdout = guest
        .wait_for_line("stdout", "to stdout", Duration::from_secs(5))
        .await;
    let stderr = guest
        .wait_for_line("stderr", "to stderr", Duration::from_secs(5))
        .await;

    assert_eq!(stdout["line"], "to stdout");
    assert_eq!(stderr["line"], "to stderr");
    assert!(guest
        .logs()
        .await
        .iter()
        .all(|line| line["line"] != "to stderr" || line["stream"] == "stderr"));

    let tail = guest.get_json("/v1/logs?tail=1").await;
    assert_eq!(tail.as_array().unwrap().len(), 1);

    let since = stdout["ts"].as_str().unwrap().replace('+', "%2B");
    let newer = guest.get_json(&format!("/v1/logs?since={since}")).await;
    assert!(
        newer
            .as_array()
            .unwrap()
            .iter()
            .all(|line| line["line"] != "to stdout"),
        "since is exclusive: {newer}"
    );

    let log_file = std::fs::read_to_string(dir.path().join("logs/runtime.log")).unwrap();
    assert!(
        log_file
            .lines()
            .any(|line| line.ends_with(" stderr to stderr")),
        "{log_file}"
    );
}

#[tokio::test]
async fn follow_delivers_new_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = "echo waiting; while [ ! -f \"$TEST_DIR/go\" ]; do sleep 0.05; done; echo 'after the stream opened'; exec sleep 1000";
    let guest = Guest::start(dir.path(), &base_config(dir.path(), script)).await;
    guest
        .wait_for_line("stdout", "waiting", Duration::from_secs(5))
        .await;

    let mut response = guest
        .client
        .get(guest.url("/v1/logs?follow=true"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    std::fs::write(dir.path().join("go"), "").unwrap();

    let mut received = String::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            received.push_str(&String::from_utf8_lossy(&chunk));
            if received.contains("after the stream opened") {
                return;
            }
        }
    })
    .await;

    assert!(
        found.is_ok(),
        "no SSE event for the new line within 5 s; received: {received}"
    );
    assert!(received.contains("event: log"), "{received}");
    assert!(
        !received.contains("\"line\":\"waiting\""),
        "follow without tail must not replay old lines: {received}"
    );
}

#[tokio::test]
async fn restart_route_replaces_process() {
    let dir = tempfile::tempdir().unwrap();
    let guest = Guest::start(
        dir.path(),
        &base_config(dir.path(), "echo up; exec sleep 1000"),
    )
    .await;
    let before = guest
        .wait_for_status(Duration::from_secs(5), |status| {
            status["runtime"]["pid"].is_u64()
        })
        .await;

    let response = guest
        .client
        .post(guest.url("/v1/runtime/restart"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let after: serde_json::Value = response.json().await.unwrap();

    assert_eq!(after["restarts"], 1);
    assert_ne!(after["pid"], before["runtime"]["pid"]);
    assert!(after["pid"].is_u64());
    assert_eq!(after["last_exit"]["signal"], "SIGTERM");
}

#[tokio::test]
async fn signal_route_reaches_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let script = "trap 'echo got SIGHUP' HUP; echo trap installed; while true; do sleep 0.05; done";
    let guest = Guest::start(dir.path(), &base_config(dir.path(), script)).await;
    guest
        .wait_for_line("stdout", "trap installed", Duration::from_secs(5))
        .await;

    let send = |body: serde_json::Value| {
        guest
            .client
            .post(guest.url("/v1/runtime/signal"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
    };
    let accepted = send(json!({"signal": "SIGHUP"})).await.unwrap();
    let rejected = send(json!({"signal": "SIGKILL"})).await.unwrap();

    assert_eq!(accepted.status(), 200);
    guest
        .wait_for_line("stdout", "got SIGHUP", Duration::from_secs(5))
        .await;
    assert_eq!(rejected.status(), 400);
    let error: serde_json::Value = rejected.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn signal_during_backoff_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), "exit 1");
    config["restart"] =
        json!({"initial_backoff_ms": 5000, "max_backoff_ms": 5000, "reset_after_ms": 10000});
    let guest = Guest::start(dir.path(), &config).await;
    guest
        .wait_for_status(Duration::from_secs(5), |status| {
            status["runtime"]["state"] == "backoff"
        })
        .await;

    let response = guest
        .client
        .post(guest.url("/v1/runtime/signal"))
        .bearer_auth(TOKEN)
        .json(&json!({"signal": "SIGUSR1"}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 409);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "runtime_not_running");
}
