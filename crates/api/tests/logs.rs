//! The logs API: runtime lines from a fake guest merged with the store's
//! lifecycle events, as a list and as a follow stream.

mod support;

use std::time::Duration;

use gopilot_guest_api::LogStream;
use serde_json::Value;
use support::{assert_error, log_line, rfc3339, AgentRuntime, Api, FakeGuest, SseReader};
use time::OffsetDateTime;

/// Starts the API with one agent whose sandbox runs `guest`. The agent's
/// `created` event is the only platform event.
async fn api_with_guest(guest: &FakeGuest) -> (Api, String) {
    let api = Api::start().await;
    let id = api.create_agent("Logger").await;
    let unused_runtime = format!("http://{}", support::closed_address());
    api.locator.set(&id, AgentRuntime::Running { base_url: unused_runtime, guest: Some(guest.endpoint.clone()) });
    (api, id)
}

fn lines_of(body: &Value) -> Vec<String> {
    body["data"].as_array().unwrap().iter().map(|entry| entry["line"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn logs_merge_runtime_and_events_by_time() {
    let now = OffsetDateTime::now_utc();
    let guest = FakeGuest::start(vec![
        log_line(now - Duration::from_secs(60), LogStream::Guest, "runtime started with pid 7"),
        log_line(now + Duration::from_secs(1), LogStream::Stdout, "gateway listening"),
        log_line(now + Duration::from_secs(2), LogStream::Stderr, "warn: key sk-ant-api03-abcdefghijklmnopqrstuv rejected"),
    ])
    .await;
    let (api, id) = api_with_guest(&guest).await;

    let response = api.get(&format!("/v1/agents/{id}/logs"), &api.read_key).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let entries = body["data"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{body}");

    let sources: Vec<(&str, &str)> =
        entries.iter().map(|entry| (entry["source"].as_str().unwrap(), entry["stream"].as_str().unwrap())).collect();
    assert_eq!(sources, [("runtime", "guest"), ("platform", "event"), ("runtime", "stdout"), ("runtime", "stderr")]);
    assert!(entries[1]["line"].as_str().unwrap().starts_with("created: "), "{}", entries[1]);
    assert_eq!(entries[3]["line"], "warn: key sk-[REDACTED] rejected");

    let times: Vec<OffsetDateTime> = entries
        .iter()
        .map(|entry| OffsetDateTime::parse(entry["ts"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "not sorted: {times:?}");
    assert_eq!(guest.queries()[0].get("tail").map(String::as_str), Some("100"));
}

#[tokio::test]
async fn logs_tail_and_since() {
    let now = OffsetDateTime::now_utc();
    let guest = FakeGuest::start(
        (1..=5).map(|n| log_line(now + Duration::from_secs(n), LogStream::Stdout, &format!("line {n}"))).collect(),
    )
    .await;
    let (api, id) = api_with_guest(&guest).await;
    let path = format!("/v1/agents/{id}/logs");

    let body: Value = api.get(&path, &api.read_key).query(&[("tail", "2")]).send().await.unwrap().json().await.unwrap();
    assert_eq!(lines_of(&body), ["line 4", "line 5"]);

    let since = rfc3339(now + Duration::from_millis(3500));
    let body: Value = api.get(&path, &api.read_key).query(&[("since", since.as_str())]).send().await.unwrap().json().await.unwrap();
    assert_eq!(lines_of(&body), ["line 4", "line 5"], "the created event is older than since");
    assert_eq!(guest.queries().last().unwrap().get("since"), Some(&since));

    let body: Value = api.get(&path, &api.read_key).query(&[("tail", "0")]).send().await.unwrap().json().await.unwrap();
    assert_eq!(lines_of(&body), Vec::<String>::new());
}

#[tokio::test]
async fn logs_reject_bad_query() {
    let guest = FakeGuest::start(Vec::new()).await;
    let (api, id) = api_with_guest(&guest).await;
    let path = format!("/v1/agents/{id}/logs");

    let cases = [("tail", "-1"), ("tail", "10001"), ("tail", "many"), ("since", "yesterday"), ("follow", "yes")];
    for (param, value) in cases {
        let response = api.get(&path, &api.read_key).query(&[(param, value)]).send().await.unwrap();
        let body = assert_error(response, 400, "invalid_request").await;
        assert_eq!(body["error"]["param"], param, "{param}={value}");
    }
    assert!(guest.queries().is_empty(), "a rejected query must not reach the guest");
}

#[tokio::test]
async fn logs_without_sandbox_show_events() {
    let api = Api::start().await;
    let id = api.create_agent("Stopped").await;
    api.locator.set(&id, AgentRuntime::Stopped);

    let body: Value = api.get(&format!("/v1/agents/{id}/logs"), &api.read_key).send().await.unwrap().json().await.unwrap();

    let entries = body["data"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|entry| entry["source"] == "platform" && entry["stream"] == "event"), "{body}");
}

#[tokio::test]
async fn logs_unknown_agent_is_404() {
    let api = Api::start().await;
    let response = api.get("/v1/agents/agnosuchagent/logs", &api.read_key).send().await.unwrap();
    assert_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn logs_need_agents_read() {
    let guest = FakeGuest::start(Vec::new()).await;
    let (api, id) = api_with_guest(&guest).await;

    let response = api.get(&format!("/v1/agents/{id}/logs"), &api.write_key).send().await.unwrap();

    assert_error(response, 403, "missing_scope").await;
}

#[tokio::test]
async fn guest_rejecting_token_is_502() {
    let mut guest = FakeGuest::start(Vec::new()).await;
    guest.endpoint.token = "wrong-token".into();
    let (api, id) = api_with_guest(&guest).await;

    let response = api.get(&format!("/v1/agents/{id}/logs"), &api.read_key).send().await.unwrap();

    let body = assert_error(response, 502, "upstream_error").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("HTTP 401"), "{body}");
}

#[tokio::test]
async fn follow_sends_tail_then_new_lines() {
    let now = OffsetDateTime::now_utc();
    let guest = FakeGuest::start(vec![log_line(now, LogStream::Stdout, "before follow")]).await;
    let (api, id) = api_with_guest(&guest).await;

    let response = api
        .get(&format!("/v1/agents/{id}/logs"), &api.read_key)
        .query(&[("follow", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut reader = SseReader::new(response);

    let mut backlog = Vec::new();
    for _ in 0..2 {
        let (name, data) = reader.next_event(Duration::from_secs(5)).await.unwrap();
        assert_eq!(name, "log");
        backlog.push(serde_json::from_str::<Value>(&data).unwrap());
    }
    // The line is older than the agent's `created` event.
    assert_eq!(backlog[0]["line"], "before follow");
    assert_eq!(backlog[1]["source"], "platform");

    guest.wait_for_followers(1).await;
    let token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
    guest.emit(log_line(OffsetDateTime::now_utc(), LogStream::Stderr, &format!("telegram token {token} in use")));

    let (name, data) = reader.next_event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(name, "log");
    let entry: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(entry["source"], "runtime");
    assert_eq!(entry["stream"], "stderr");
    assert_eq!(entry["line"], "telegram token 123456789:[REDACTED] in use");
}

#[tokio::test]
async fn follow_drops_lines_already_in_tail() {
    // Newer than the agent's `created` event, so it is the tail of one.
    let later = OffsetDateTime::now_utc() + Duration::from_secs(60);
    let first = log_line(later, LogStream::Stdout, "seen in tail");
    let guest = FakeGuest::start(vec![first.clone()]).await;
    let (api, id) = api_with_guest(&guest).await;

    let response = api
        .get(&format!("/v1/agents/{id}/logs"), &api.read_key)
        .query(&[("follow", "true"), ("tail", "1")])
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(response);
    let (_, data) = reader.next_event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["line"], "seen in tail");

    // A line the follow stream delivers although the tail had it already,
    // as happens when it is written between subscribing and reading the tail.
    guest.wait_for_followers(1).await;
    guest.emit(first);
    guest.emit(log_line(later + Duration::from_secs(1), LogStream::Stdout, "new line"));

    let (_, data) = reader.next_event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["line"], "new line");
}

#[tokio::test]
async fn follow_without_sandbox_ends_after_tail() {
    let api = Api::start().await;
    let id = api.create_agent("Idle").await;
    api.locator.set(&id, AgentRuntime::Stopped);

    let response = api
        .get(&format!("/v1/agents/{id}/logs"), &api.read_key)
        .query(&[("follow", "true")])
        .send()
        .await
        .unwrap();
    let mut reader = SseReader::new(response);

    let (name, _) = reader.next_event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(name, "log");
    let mut rest = 0;
    while reader.next_event(Duration::from_secs(5)).await.is_some() {
        rest += 1;
    }
    assert!(rest < 10, "the stream must end after the platform events");
}
