//! Bad configs stop the guest at start with a message naming the field.

mod common;

use std::process::Command;

use common::{base_config, guest_binary, write_config};
use serde_json::json;

/// Runs the guest with `config` and returns its exit code and stderr.
fn run_with(config: &serde_json::Value) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), config);
    let output = Command::new(guest_binary())
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn missing_command_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), "true");
    config.as_object_mut().unwrap().remove("command");

    let (code, stderr) = run_with(&config);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("missing field `command`"), "{stderr}");
}

#[test]
fn empty_command_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), "true");
    config["command"] = json!([]);

    let (code, stderr) = run_with(&config);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("field `command`"), "{stderr}");
}

#[test]
fn short_token_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(dir.path(), "true");
    config["api_token"] = json!("too-short");

    let (code, stderr) = run_with(&config);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("field `api_token`"), "{stderr}");
    assert!(stderr.contains("at least 32"), "{stderr}");
    assert!(
        !stderr.contains("too-short"),
        "the token value must not be printed: {stderr}"
    );
}

#[test]
fn missing_config_file_is_reported() {
    let output = Command::new(guest_binary())
        .args(["--config", "/nonexistent/guest.json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("/nonexistent/guest.json"), "{stderr}");
}

#[test]
fn busy_listen_address_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = base_config(dir.path(), "true");
    config["api_listen"] = json!(listener.local_addr().unwrap().to_string());

    let (code, stderr) = run_with(&config);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("api_listen"), "{stderr}");
}
