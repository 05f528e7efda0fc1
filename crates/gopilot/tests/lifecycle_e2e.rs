//! The agent lifecycle on real runc sandboxes with real OpenClaw and Hermes
//! runtimes. Needs root and the runtime images; `scripts/test` builds the
//! images once into `GOPILOT_TEST_IMAGE_DIR` before these tests run.

mod common;

use common::runc::{cgroup_dir, sandbox_dir, sandbox_pids, start_runc_server, Api};
use common::{quickstart_body, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn start_server(net: u8) -> Server {
    start_runc_server("e2e", net, &[])
}

fn freezer_state(id: &str) -> String {
    let dir = cgroup_dir("freezer", id).expect("sandbox has a freezer cgroup");
    std::fs::read_to_string(dir.join("freezer.state")).unwrap().trim().to_string()
}

/// Reads `/proc/PID/stat`'s state letter of each process.
fn process_states(pids: &[u32]) -> Vec<char> {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| stat.rsplit(')').next().and_then(|rest| rest.trim().chars().next()))
        .collect()
}

async fn drive_lifecycle(runtime: &str, net: u8, config_file: &str) {
    let server = start_server(net);
    let api = Api::new(&server);

    let mut body = quickstart_body();
    body["runtime_kind"] = json!(runtime);
    body["files"] = json!({"SOUL.md": "Answer in one sentence."});
    let started = Instant::now();
    let (status, agent) = api.call(Method::POST, "/v1/agents", Some(body)).await;
    assert!(status == StatusCode::CREATED || status == StatusCode::ACCEPTED, "{status}: {agent}");
    let id = agent["id"].as_str().unwrap().to_string();
    api.wait_status(&id, "running", Duration::from_secs(240)).await;
    eprintln!("{runtime}: create to running in {:.1} s", started.elapsed().as_secs_f64());

    let (_, running) = api.call(Method::GET, &format!("/v1/agents/{id}"), None).await;
    assert!(running["usage"]["memory_bytes"].as_u64().unwrap_or(0) > 0, "usage readings: {running}");

    let (status, soul) = api.call(Method::GET, &format!("/v1/agents/{id}/files/SOUL.md"), None).await;
    assert_eq!(status, StatusCode::OK, "a file given at create time is in the workspace");
    assert_eq!(soul, Value::String("Answer in one sentence.".into()));

    // Workspace file survives stop and start.
    let file = format!("/v1/agents/{id}/files/NOTES.md");
    let response = api.client.put(server.url(&file)).header("X-API-Key", &api.key).body("kept across stop").send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());

    // Pause freezes every process; resume thaws the same processes.
    let before = sandbox_pids(&id);
    assert!(!before.is_empty());
    let (status, paused) = api.action(&id, "pause").await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["status"], "paused");
    assert_eq!(freezer_state(&id), "FROZEN");
    let (status, again) = api.action(&id, "pause").await;
    assert_eq!(status, StatusCode::OK, "pause is idempotent: {again}");
    let (status, conflict) = api.action(&id, "start").await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(conflict["error"]["code"], "invalid_state");

    let (status, resumed) = api.action(&id, "resume").await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["status"], "running");
    assert_eq!(freezer_state(&id), "THAWED");
    assert_eq!(sandbox_pids(&id), before, "resume keeps the same processes");
    assert!(!process_states(&before).is_empty());

    // Stop releases compute; the 409 cases of a stopped agent.
    let (status, stopped) = api.action(&id, "stop").await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    assert!(sandbox_pids(&id).is_empty(), "no process may run after stop");
    for action in ["pause", "resume", "restart"] {
        let (status, error) = api.action(&id, action).await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {error}");
        assert_eq!(error["error"]["code"], "agent_not_running", "{action}");
    }
    let (status, error) = api.call(Method::GET, &format!("/v1/agents/{id}/files"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["error"]["code"], "agent_not_running");

    let (status, restarted) = api.action(&id, "start").await;
    assert_eq!(status, StatusCode::OK, "{restarted}");
    assert_eq!(restarted["status"], "running");
    let (status, kept) = api.call(Method::GET, &file, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kept, Value::String("kept across stop".into()));

    // Restart replaces the processes.
    let before = sandbox_pids(&id);
    let (status, after_restart) = api.action(&id, "restart").await;
    assert_eq!(status, StatusCode::OK, "{after_restart}");
    assert_eq!(after_restart["status"], "running");
    let after = sandbox_pids(&id);
    assert!(!after.is_empty());
    assert!(before.iter().all(|pid| !after.contains(pid)), "restart must start new processes: {before:?} -> {after:?}");

    // PATCH of the model reaches the config inside the sandbox.
    let patch = json!({"model": "anthropic/claude-opus-4-1"});
    let (status, patched) = api.call(Method::PATCH, &format!("/v1/agents/{id}"), Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    api.wait_status(&id, "running", Duration::from_secs(120)).await;
    let config = std::fs::read_to_string(server.data_dir.join("volumes").join(&id).join(config_file)).unwrap();
    assert!(config.contains("claude-opus-4-1"), "{config_file} must name the new model:\n{config}");

    let (_, events) = api.call(Method::GET, &format!("/v1/agents/{id}/events"), None).await;
    let kinds: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"transition"), "{kinds:?}");
    assert!(kinds.contains(&"action"), "{kinds:?}");

    // Delete leaves nothing behind.
    let (status, _) = api.call(Method::DELETE, &format!("/v1/agents/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.call(Method::DELETE, &format!("/v1/agents/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!server.data_dir.join("volumes").join(&id).exists(), "volume must be gone");
    assert!(sandbox_dir(&server.data_dir, &id).parent().unwrap().exists(), "the state root must be where the test looks");
    assert!(!sandbox_dir(&server.data_dir, &id).exists(), "sandbox state must be gone");
    assert!(cgroup_dir("freezer", &id).is_none(), "cgroup must be gone");
    assert_eq!(api.status_of(&id).await, "");
}

#[tokio::test]
async fn openclaw_agent_lifecycle() {
    drive_lifecycle("openclaw", 201, "openclaw.json").await;
}

#[tokio::test]
async fn hermes_agent_lifecycle() {
    drive_lifecycle("hermes", 202, "config.yaml").await;
}

#[tokio::test]
async fn kill_while_provisioning_then_adopt() {
    let server = start_server(203);
    let api = Api::new(&server);
    let mut body = quickstart_body();
    body["runtime_kind"] = json!("hermes");

    // One agent running, a second one provisioning.
    let (status, running) = api.call(Method::POST, "/v1/agents", Some(body.clone())).await;
    assert!(status.is_success(), "{running}");
    let running_id = running["id"].as_str().unwrap().to_string();
    api.wait_status(&running_id, "running", Duration::from_secs(180)).await;
    let running_pids = sandbox_pids(&running_id);
    assert!(!running_pids.is_empty());

    body["wait"] = json!(false);
    let (status, agent) = api.call(Method::POST, "/v1/agents", Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{agent}");
    assert_eq!(agent["status"], "provisioning");
    let id = agent["id"].as_str().unwrap().to_string();

    // Let provisioning begin, then kill the server without any cleanup.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sandbox_dir(&server.data_dir, &id).exists() {
        assert!(Instant::now() < deadline, "provisioning never created a sandbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let data_dir = server.data_dir.clone();
    let server = server.kill_and_restart();
    let api = Api::new(&server);

    api.wait_status(&id, "running", Duration::from_secs(180)).await;
    api.wait_status(&running_id, "running", Duration::from_secs(30)).await;
    assert_eq!(sandbox_pids(&running_id), running_pids, "the running agent is adopted, not recreated");
    for agent_id in [&id, &running_id] {
        let (status, files) = api.call(Method::GET, &format!("/v1/agents/{agent_id}/files"), None).await;
        assert_eq!(status, StatusCode::OK, "{agent_id} must answer after the restart: {files}");
    }

    let sandboxes: Vec<String> = std::fs::read_dir(sandbox_dir(&data_dir, &id).parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    let mut expected = vec![id.clone(), running_id.clone()];
    expected.sort();
    let mut found = sandboxes.clone();
    found.sort();
    assert_eq!(found, expected, "one sandbox per agent, no duplicates or orphans");

    for agent_id in [&id, &running_id] {
        let (status, _) = api.call(Method::DELETE, &format!("/v1/agents/{agent_id}"), None).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn idle_agent_paused_then_resumed() {
    let server = start_runc_server("e2e", 204, &[("GOPILOT_LIFECYCLE__IDLE_PAUSE_SECS", "3")]);
    let api = Api::new(&server);
    let mut body = quickstart_body();
    body["runtime_kind"] = json!("hermes");
    let (status, agent) = api.call(Method::POST, "/v1/agents", Some(body)).await;
    assert!(status.is_success(), "{agent}");
    let id = agent["id"].as_str().unwrap().to_string();

    // No API use for longer than the idle time: once running, the
    // reconciler pauses it (status reads do not count as use).
    api.wait_status(&id, "paused", Duration::from_secs(240)).await;
    assert_eq!(freezer_state(&id), "FROZEN");
    let (_, events) = api.call(Method::GET, &format!("/v1/agents/{id}/events"), None).await;
    let kinds: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"idle"), "{kinds:?}");

    // A request that needs the runtime resumes it first.
    let (status, files) = api.call(Method::GET, &format!("/v1/agents/{id}/files"), None).await;
    assert_eq!(status, StatusCode::OK, "{files}");
    assert_eq!(api.status_of(&id).await, "running");
    assert_eq!(freezer_state(&id), "THAWED");

    let (status, _) = api.call(Method::DELETE, &format!("/v1/agents/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
}
