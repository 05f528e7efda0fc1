//! First start, restarts, the keys CLI and secrets at rest.

mod common;

use common::{count_keys, find_key, quickstart_body, Server};
use reqwest::{Client, StatusCode};

#[tokio::test]
async fn first_start_prints_key_once() {
    let server = Server::start();
    let first = server.first_key.clone().expect("first start prints a key");
    assert_eq!(count_keys(&server.stdout()), 2, "the key and the quickstart command that uses it");
    assert_eq!(count_keys(&server.stderr()), 0, "the key must not reach the log");

    let client = Client::new();
    let ok = client.get(server.url("/v1/agents")).header("X-API-Key", &first).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let server = server.restart();
    assert_eq!(count_keys(&server.stdout()), 0, "a restart must not print a key");
    assert!(server.first_key.is_none());
    let still_ok = client.get(server.url("/v1/agents")).header("X-API-Key", &first).send().await.unwrap();
    assert_eq!(still_ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn keys_create_prints_working_key_once() {
    let server = Server::start();
    let output = server.cli(&["keys", "create", "--name", "ci", "--scopes", "agents:read,usage:read"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(count_keys(&stdout), 1);
    let key = find_key(&stdout).unwrap();
    assert!(key.len() >= "gopt_live_".len() + 32);

    let client = Client::new();
    let response = client.get(server.url("/v1/agents")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let listing = server.cli(&["keys", "list"]);
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert_eq!(count_keys(&listing), 0, "keys list must not show keys");
    assert!(listing.contains("agents:read,usage:read"));

    let bad = server.cli(&["keys", "create", "--name", "x", "--scopes", "agents:admin"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("agents:admin"));
}

#[tokio::test]
async fn secrets_absent_from_store_and_logs() {
    let server = Server::start();
    let key = server.first_key.clone().unwrap();
    let client = Client::new();

    let mut body = quickstart_body();
    body["channels"] = serde_json::json!({
        "telegram": {"botToken": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"},
        "slack": {"appToken": "xapp-1-SLACKAPPSECRET", "botToken": "xoxb-SLACKBOTSECRET"}
    });
    let response = client.post(server.url("/v1/agents")).header("X-API-Key", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let created = response.text().await.unwrap();

    let patch = serde_json::json!({"llm_keys": [{"provider": "anthropic", "api_key": "sk-ant-PATCHEDSECRET-5555"}]});
    let id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["id"].as_str().unwrap().to_string();
    let response = client
        .patch(server.url(&format!("/v1/agents/{id}")))
        .header("X-API-Key", &key)
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let mut server = server;
    server.stop();

    let secrets = [
        key.as_str(),
        "QUICKSTARTSECRET",
        "PATCHEDSECRET",
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "SLACKAPPSECRET",
        "SLACKBOTSECRET",
    ];
    let mut stored = Vec::new();
    for file in ["gopilot.db", "gopilot.db-wal", "gopilot.db-shm"] {
        if let Ok(bytes) = std::fs::read(server.data_dir.join(file)) {
            stored.extend(bytes);
        }
    }
    assert!(stored.len() > 4096, "the store file must exist and hold data");
    let logs = server.stderr();
    assert!(logs.contains("agent created"), "logs must be captured");
    for secret in secrets {
        assert!(!contains(&stored, secret.as_bytes()), "{secret} found in the SQLite files");
        assert!(!logs.contains(secret), "{secret} found in the logs");
        assert!(!created.contains(secret), "{secret} found in the create response");
    }

    let master_key = std::fs::metadata(server.data_dir.join("master.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(master_key.permissions().mode() & 0o777, 0o600);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}
