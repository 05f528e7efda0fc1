//! Readiness: 503 until a local HTTP server returns the expected body, then 200.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{base_config, free_port, Guest, TOKEN};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `GET /readyz` with `{"ready": <flag>}` on `listener` until the test ends.
fn serve_readyz(listener: TcpListener, ready: Arc<AtomicBool>) {
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let ready = ready.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let body = json!({"ready": ready, "checks": {}}).to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
}

async fn get_ready(guest: &Guest) -> (u16, Value) {
    let response = guest
        .client
        .get(guest.url("/v1/ready"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// Polls `/v1/ready` until it returns `status`, past the guest's 500 ms cache.
async fn wait_for_ready_status(guest: &Guest, status: u16) -> Value {
    for _ in 0..40 {
        let (code, body) = get_ready(guest).await;
        if code == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/v1/ready did not return {status} within 4 s");
}

#[tokio::test]
async fn ready_after_server_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut config = base_config(dir.path(), "exec sleep 1000");
    config["readiness"] = json!({
        "url": format!("http://127.0.0.1:{port}/readyz"),
        "expect": {"kind": "json_field", "pointer": "/ready", "equals": true},
        "timeout_ms": 500,
    });
    let guest = Guest::start(dir.path(), &config).await;

    // Nothing listens yet: connection refused.
    let (code, body) = get_ready(&guest).await;
    assert_eq!(code, 503);
    assert_eq!(body["ready"], false);
    assert!(
        body["reason"].as_str().unwrap().contains("connecting"),
        "{body}"
    );
    assert_eq!(guest.status().await["runtime"]["state"], "starting");

    // The server responds, but with `ready: false`.
    let ready = Arc::new(AtomicBool::new(false));
    serve_readyz(
        TcpListener::bind(("127.0.0.1", port)).await.unwrap(),
        ready.clone(),
    );
    let body = wait_for_ready_status(&guest, 503).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, body_after_cache) = get_ready(&guest).await;
    assert!(
        body_after_cache["reason"]
            .as_str()
            .unwrap()
            .contains("/ready = false"),
        "{body} then {body_after_cache}"
    );

    ready.store(true, Ordering::SeqCst);
    let body = wait_for_ready_status(&guest, 200).await;

    assert_eq!(body, json!({"ready": true}));
    let status = guest
        .wait_for_status(Duration::from_secs(3), |status| {
            status["runtime"]["state"] == "running"
        })
        .await;
    assert_eq!(status["ready"], true);
}

#[tokio::test]
async fn no_readiness_means_alive() {
    let dir = tempfile::tempdir().unwrap();
    let guest = Guest::start(dir.path(), &base_config(dir.path(), "exec sleep 1000")).await;

    let body = wait_for_ready_status(&guest, 200).await;

    assert_eq!(body["ready"], true);
    assert_eq!(guest.status().await["runtime"]["state"], "running");
}
