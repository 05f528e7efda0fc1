//! The workspace file API over HTTP, and authentication.

mod common;

use common::{base_config, Guest, TOKEN};
use serde_json::{json, Value};

async fn start(dir: &std::path::Path) -> Guest {
    let mut config = base_config(dir, "exec sleep 1000");
    config["max_file_bytes"] = json!(1024);
    Guest::start(dir, &config).await
}

/// Sends a request with the right token and returns the status and the body as JSON (or null).
async fn call(
    guest: &Guest,
    method: reqwest::Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let mut request = guest
        .client
        .request(method, guest.url(path))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let guest = start(dir.path()).await;

    let (status, _) = call(
        &guest,
        reqwest::Method::PUT,
        "/v1/files/notes/day%201.md",
        Some(b"# hello\n".to_vec()),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        std::fs::read(dir.path().join("workspace/notes/day 1.md")).unwrap(),
        b"# hello\n"
    );

    let (status, list) = call(&guest, reqwest::Method::GET, "/v1/files", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["files"][0]["path"], "notes/day 1.md");
    assert_eq!(list["files"][0]["size"], 8);
    assert!(list["files"][0]["modified"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    let response = guest
        .client
        .get(guest.url("/v1/files/notes/day%201.md"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"# hello\n");

    let (status, _) = call(
        &guest,
        reqwest::Method::PUT,
        "/v1/files/notes/day%201.md",
        Some(b"replaced".to_vec()),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        std::fs::read(dir.path().join("workspace/notes/day 1.md")).unwrap(),
        b"replaced"
    );

    let (status, _) = call(
        &guest,
        reqwest::Method::DELETE,
        "/v1/files/notes/day%201.md",
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, error) = call(
        &guest,
        reqwest::Method::GET,
        "/v1/files/notes/day%201.md",
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "file_not_found");
    let (status, _) = call(
        &guest,
        reqwest::Method::DELETE,
        "/v1/files/notes/day%201.md",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_paths_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let guest = start(dir.path()).await;
    std::fs::write(dir.path().join("workspace/.env"), "SECRET=1").unwrap();

    // `%2F` keeps the HTTP client from normalizing `..` away before sending.
    let cases = [
        ("/v1/files/notes%2F..%2F..%2Fguest.json", "invalid_path"),
        ("/v1/files/%2Fetc%2Fpasswd", "invalid_path"),
        ("/v1/files/.env", "hidden_path"),
        ("/v1/files/sub/.gopilot/state", "hidden_path"),
    ];
    for (path, code) in cases {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let body = (method == reqwest::Method::PUT).then(|| b"x".to_vec());
            let (status, error) = call(&guest, method.clone(), path, body).await;

            assert_eq!(status, 400, "{method} {path}: {error}");
            assert_eq!(error["error"]["code"], code, "{method} {path}: {error}");
            assert_eq!(error["error"]["type"], "invalid_request_error");
        }
    }

    assert_eq!(
        std::fs::read_to_string(dir.path().join("workspace/.env")).unwrap(),
        "SECRET=1"
    );
    let (_, list) = call(&guest, reqwest::Method::GET, "/v1/files", None).await;
    assert_eq!(list["files"], json!([]), ".env must not be listed");
}

#[tokio::test]
async fn symlink_outside_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let guest = start(dir.path()).await;
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "outside the root").unwrap();
    std::os::unix::fs::symlink(&outside, dir.path().join("workspace/escape")).unwrap();
    std::os::unix::fs::symlink(
        outside.join("secret.txt"),
        dir.path().join("workspace/link.txt"),
    )
    .unwrap();

    let (read_dir, read_error) = call(
        &guest,
        reqwest::Method::GET,
        "/v1/files/escape/secret.txt",
        None,
    )
    .await;
    let (read_link, _) = call(&guest, reqwest::Method::GET, "/v1/files/link.txt", None).await;
    let (write_dir, _) = call(
        &guest,
        reqwest::Method::PUT,
        "/v1/files/escape/new.txt",
        Some(b"x".to_vec()),
    )
    .await;
    let (delete_dir, _) = call(
        &guest,
        reqwest::Method::DELETE,
        "/v1/files/escape/secret.txt",
        None,
    )
    .await;

    assert_eq!(read_dir, 400);
    assert_eq!(read_error["error"]["code"], "symlink_in_path");
    assert_eq!(read_link, 400);
    assert_eq!(write_dir, 400);
    assert_eq!(delete_dir, 400);
    assert!(
        !outside.join("new.txt").exists(),
        "a write went through the symlink"
    );
    assert!(
        outside.join("secret.txt").exists(),
        "a delete went through the symlink"
    );
}

#[tokio::test]
async fn oversized_body_gets_413() {
    let dir = tempfile::tempdir().unwrap();
    let guest = start(dir.path()).await;

    let (at_limit, _) = call(
        &guest,
        reqwest::Method::PUT,
        "/v1/files/exact.bin",
        Some(vec![7u8; 1024]),
    )
    .await;
    let (over_limit, error) = call(
        &guest,
        reqwest::Method::PUT,
        "/v1/files/big.bin",
        Some(vec![7u8; 1025]),
    )
    .await;

    assert_eq!(at_limit, 204);
    assert_eq!(over_limit, 413);
    assert_eq!(error["error"]["code"], "file_too_large");
    assert!(!dir.path().join("workspace/big.bin").exists());
}

#[tokio::test]
async fn token_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let guest = start(dir.path()).await;

    for path in ["/v1/status", "/v1/files", "/v1/logs", "/v1/no-such-route"] {
        let missing = guest.client.get(guest.url(path)).send().await.unwrap();
        let wrong = guest
            .client
            .get(guest.url(path))
            .bearer_auth("wrong-token-0123456789abcdef012345678")
            .send()
            .await
            .unwrap();
        let prefix = guest
            .client
            .get(guest.url(path))
            .bearer_auth(&TOKEN[..TOKEN.len() - 1])
            .send()
            .await
            .unwrap();

        assert_eq!(missing.status(), 401, "{path} without a token");
        assert_eq!(wrong.status(), 401, "{path} with a wrong token");
        assert_eq!(prefix.status(), 401, "{path} with a token prefix");
        let error: Value = wrong.json().await.unwrap();
        assert_eq!(error["error"]["type"], "authentication_error");
    }

    let (status, error) = call(&guest, reqwest::Method::GET, "/v1/no-such-route", None).await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["code"], "route_not_found");
}
