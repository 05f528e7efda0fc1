//! The agents resource and the error format over real HTTP.

mod common;

use common::{quickstart_body, Server};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

struct Api {
    server: Server,
    client: Client,
    key: String,
}

impl Api {
    fn start() -> Api {
        let server = Server::start();
        let key = server.first_key.clone().unwrap();
        Api { server, client: Client::new(), key }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.server.url(path)).header("X-API-Key", &self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text:?}"));
        (status, value)
    }

    async fn create(&self, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, "/v1/agents", Some(body)).await
    }
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

fn without(mut body: Value, field: &str) -> Value {
    body.as_object_mut().unwrap().remove(field);
    body
}

#[tokio::test]
async fn quickstart_creates_agent() {
    let api = Api::start();
    let (status, agent) = api.create(&quickstart_body()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "records-only mode answers 202: {agent}");

    let id = agent["id"].as_str().unwrap();
    assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{id}");
    assert!(id.len() <= 63);
    assert_eq!(agent["name"], "Support Bot");
    assert_eq!(agent["model"], "anthropic/claude-sonnet-4-6");
    assert_eq!(agent["runtime_kind"], "openclaw");
    assert_eq!(agent["status"], "provisioning");
    assert_eq!(agent["desired_state"], "running");
    assert_eq!(agent["size"], "medium");
    assert_eq!(agent["resources"]["vcpus"], 2);
    assert_eq!(agent["llm_keys"], json!([{"provider": "anthropic", "hint": "...9876"}]));
    assert!(!agent.to_string().contains("QUICKSTARTSECRET"));

    let (status, fetched) = api.send(reqwest::Method::GET, &format!("/v1/agents/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, agent);
}

#[tokio::test]
async fn hermes_model_stored_bare() {
    let api = Api::start();
    let body = with(quickstart_body(), "runtime_kind", json!("hermes"));
    let (status, agent) = api.create(&body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "records-only mode answers 202: {agent}");
    assert_eq!(agent["model"], "claude-sonnet-4-6");
    assert_eq!(agent["model_provider"], "anthropic");
}

#[tokio::test]
async fn each_invalid_field_is_named() {
    let api = Api::start();
    let base = quickstart_body();
    let slack = json!({"slack": {"appToken": "xoxb-not-an-app-token", "botToken": "xoxb-1234567890-abc"}});
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing name", without(base.clone(), "name"), "name"),
        ("empty name", with(base.clone(), "name", json!("  ")), "name"),
        ("long name", with(base.clone(), "name", json!("n".repeat(101))), "name"),
        ("name not a string", with(base.clone(), "name", json!(5)), "name"),
        ("missing model", without(base.clone(), "model"), "model"),
        ("bare model on openclaw", with(base.clone(), "model", json!("claude-sonnet-4-6")), "model"),
        ("bad provider", with(base.clone(), "model", json!("Anthropic/claude")), "model"),
        ("long description", with(base.clone(), "description", json!("d".repeat(2001))), "description"),
        ("bad runtime", with(base.clone(), "runtime_kind", json!("docker")), "runtime_kind"),
        ("bad size", with(base.clone(), "size", json!("huge")), "size"),
        ("no key for model", with(base.clone(), "llm_keys", json!([])), "llm_keys"),
        (
            "empty api key",
            with(base.clone(), "llm_keys", json!([{"provider": "anthropic", "api_key": ""}])),
            "llm_keys[0].api_key",
        ),
        (
            "bad key provider",
            with(base.clone(), "llm_keys", json!([{"provider": "Bad Provider", "api_key": "k"}])),
            "llm_keys[0].provider",
        ),
        ("llm_keys not a list", with(base.clone(), "llm_keys", json!("sk-ant")), "llm_keys"),
        (
            "unknown provider",
            with(
                with(base.clone(), "model", json!("nosuchprov/m")),
                "llm_keys",
                json!([{"provider": "nosuchprov", "api_key": "k-123"}]),
            ),
            "llm_keys[0].provider",
        ),
        ("slack app token", with(base.clone(), "channels", slack), "channels.slack.appToken"),
        (
            "telegram token",
            with(base.clone(), "channels", json!({"telegram": {"botToken": "12345"}})),
            "channels.telegram.botToken",
        ),
        (
            "unknown channel",
            with(base.clone(), "channels", json!({"irc": {}})),
            "channels",
        ),
        (
            "extra agent name",
            with(base.clone(), "agents", json!([{"name": "Bad Name"}])),
            "agents[0].name",
        ),
        (
            "hermes extra agents",
            with(with(base.clone(), "runtime_kind", json!("hermes")), "agents", json!([{"name": "two"}])),
            "agents",
        ),
        ("unknown field", with(base.clone(), "colour", json!("blue")), "colour"),
    ];

    for (case, body, field) in cases {
        let (status, error) = api.create(&body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {error}");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{case}");
        assert_eq!(error["error"]["code"], "invalid_request", "{case}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{case}: message {message:?} must name {field:?}");
    }

    let (_, list) = api.send(reqwest::Method::GET, "/v1/agents", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "no rejected create may store anything");
}

#[tokio::test]
async fn reference_error_example_matches() {
    let api = Api::start();
    let (status, error) = api.create(&without(quickstart_body(), "name")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["message"], "name is required");
}

#[tokio::test]
async fn unknown_agent_and_route_are_404() {
    let api = Api::start();
    for path in ["/v1/agents/agdoesnotexist0000", "/v1/agents/NOT-AN-ID"] {
        let (status, error) = api.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error["error"]["type"], "not_found_error");
    }
    for path in ["/v1/nothing", "/elsewhere"] {
        let (status, error) = api.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error["error"]["code"], "route_not_found");
    }
}

#[tokio::test]
async fn wrong_method_is_405_in_error_format() {
    let api = Api::start();
    let (status, error) = api.send(reqwest::Method::PUT, "/v1/agents", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn malformed_json_and_oversized_body() {
    let api = Api::start();
    let url = api.server.url("/v1/agents");

    let response = api
        .client
        .post(&url)
        .header("X-API-Key", &api.key)
        .header("Content-Type", "application/json")
        .body("{\"name\": \"x\",")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"].as_str().unwrap().contains("not valid JSON"));

    let response = api.client.post(&url).header("X-API-Key", &api.key).body("name=x").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("Content-Type: application/json"));

    let huge = json!({"name": "x", "description": "d".repeat(2 * 1024 * 1024)});
    let response = api.client.post(&url).header("X-API-Key", &api.key).json(&huge).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert_eq!(error["error"]["code"], "payload_too_large");
    assert!(error["error"]["message"].as_str().unwrap().contains("1048576"));
}

#[tokio::test]
async fn list_pages_with_cursor() {
    let api = Api::start();
    let mut created = Vec::new();
    for i in 0..5 {
        let (_, agent) = api.create(&with(quickstart_body(), "name", json!(format!("agent {i}")))).await;
        created.push(agent["id"].as_str().unwrap().to_string());
        // Distinct creation times make the expected order unambiguous.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    created.reverse();

    let mut seen = Vec::new();
    let mut path = "/v1/agents?limit=2".to_string();
    loop {
        let (status, page) = api.send(reqwest::Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["object"], "list");
        for agent in page["data"].as_array().unwrap() {
            seen.push(agent["id"].as_str().unwrap().to_string());
        }
        if page["has_more"] == json!(false) {
            assert!(page["next_cursor"].is_null());
            break;
        }
        path = format!("/v1/agents?limit=2&starting_after={}", page["next_cursor"].as_str().unwrap());
    }
    assert_eq!(seen, created);

    for bad in ["/v1/agents?limit=0", "/v1/agents?limit=101", "/v1/agents?limit=ten", "/v1/agents?starting_after=agnope"] {
        let (status, error) = api.send(reqwest::Method::GET, bad, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
    }
}

#[tokio::test]
async fn patch_updates_and_rejects_atomically() {
    let api = Api::start();
    let (_, agent) = api.create(&quickstart_body()).await;
    let path = format!("/v1/agents/{}", agent["id"].as_str().unwrap());

    let (status, updated) = api
        .send(reqwest::Method::PATCH, &path, Some(&json!({"name": "Renamed", "size": "large"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["size"], "large");
    assert_eq!(updated["resources"]["memory_bytes"], 8u64 * 1024 * 1024 * 1024);
    assert_eq!(updated["description"], "Handles customer support");

    let rejected = json!({"name": "Should not apply", "model": "openai/gpt-4o"});
    let (status, error) = api.send(reqwest::Method::PATCH, &path, Some(&rejected)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"].as_str().unwrap().contains("llm_keys"));
    let (_, current) = api.send(reqwest::Method::GET, &path, None).await;
    assert_eq!(current["name"], "Renamed", "a rejected PATCH must change nothing");

    let (status, _) = api.send(reqwest::Method::PATCH, &path, Some(&json!({"runtime_kind": "hermes"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.send(reqwest::Method::PATCH, &path, Some(&json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let new_keys = json!({"model": "openai/gpt-4o", "llm_keys": [{"provider": "openai", "api_key": "sk-proj-NEWKEY-4321"}]});
    let (status, updated) = api.send(reqwest::Method::PATCH, &path, Some(&new_keys)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["model"], "openai/gpt-4o");
    assert_eq!(updated["llm_keys"], json!([{"provider": "openai", "hint": "...4321"}]));
}

#[tokio::test]
async fn delete_then_second_delete_is_404() {
    let api = Api::start();
    let (_, agent) = api.create(&quickstart_body()).await;
    let path = format!("/v1/agents/{}", agent["id"].as_str().unwrap());

    let (status, deleted) = api.send(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["deleted"], true);
    let (status, _) = api.send(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.send(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn request_id_echoed_and_logged() {
    let api = Api::start();
    let response = api
        .client
        .get(api.server.url("/v1/agents"))
        .header("X-API-Key", &api.key)
        .header("X-Request-Id", "trace-me-12345")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-12345");

    let generated = api.client.get(api.server.url("/healthz")).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.starts_with("req_"), "{id}");

    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = api.server.stderr();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains("trace-me-12345")).collect();
    assert!(lines.iter().any(|l| l.contains("request finished")), "log lines: {lines:?}");
    assert!(lines.iter().any(|l| l.contains("status=200")), "log lines: {lines:?}");
}

#[tokio::test]
async fn health_and_openapi_need_no_key() {
    let api = Api::start();
    for path in ["/healthz", "/readyz"] {
        let response = api.client.get(api.server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
    }

    let doc: Value = api.client.get(api.server.url("/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/v1/agents", "get"),
        ("/v1/agents", "post"),
        ("/v1/agents/{id}", "get"),
        ("/v1/agents/{id}", "patch"),
        ("/v1/agents/{id}", "delete"),
    ];
    for (path, method) in expected {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} missing from OpenAPI");
        for status in ["401", "403", "429", "500"] {
            assert!(operation["responses"][status].is_object(), "{method} {path} lacks {status}");
        }
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["schemas"]["CreateAgent"].is_object());
}

#[tokio::test]
async fn idempotency_key_returns_same_agent() {
    let api = Api::start();
    let send = |key: &'static str| {
        api.client
            .post(api.server.url("/v1/agents"))
            .header("X-API-Key", &api.key)
            .header("Idempotency-Key", key)
            .json(&quickstart_body())
            .send()
    };

    let first: Value = send("create-support-bot-1").await.unwrap().json().await.unwrap();
    let second: Value = send("create-support-bot-1").await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], second["id"], "{first} vs {second}");
    let other: Value = send("create-support-bot-2").await.unwrap().json().await.unwrap();
    assert_ne!(first["id"], other["id"]);

    let (_, list) = api.send(reqwest::Method::GET, "/v1/agents", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    let bad = api
        .client
        .post(api.server.url("/v1/agents"))
        .header("X-API-Key", &api.key)
        .header("Idempotency-Key", "has space")
        .json(&quickstart_body())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let error: Value = bad.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("Idempotency-Key"));
}

#[tokio::test]
async fn initial_files_validated_and_written() {
    let api = Api::start();
    let body = with(quickstart_body(), "files", json!({"../escape.md": "x"}));
    let (status, error) = api.create(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"]["message"].as_str().unwrap().contains("files.../escape.md"), "{error}");

    let body = with(quickstart_body(), "files", json!({"SOUL.md": "Be concise.", "notes/todo.md": "- ship"}));
    let (status, agent) = api.create(&body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{agent}");
    let workspace = api.server.data_dir.join("volumes").join(agent["id"].as_str().unwrap()).join("workspace-main");
    assert_eq!(std::fs::read_to_string(workspace.join("SOUL.md")).unwrap(), "Be concise.");
    assert_eq!(std::fs::read_to_string(workspace.join("notes/todo.md")).unwrap(), "- ship");
}
