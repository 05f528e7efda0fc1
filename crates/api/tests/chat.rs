//! The chat proxy and the models list, against the fake provider standing
//! in for a runtime's OpenAI-compatible chat endpoint.

mod support;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use futures::StreamExt;
use gopilot_api::ProxyConfig;
use gopilot_fake_provider::{FakeProvider, FakeProviderConfig, FakeProviderHandle};
use serde_json::{json, Value};
use support::{assert_error, closed_address, AgentRuntime, Api, SseReader, RUNTIME_TOKEN};

async fn runtime(config: FakeProviderConfig) -> FakeProviderHandle {
    FakeProvider::start(FakeProviderConfig { expected_api_key: Some(RUNTIME_TOKEN.into()), ..config })
        .await
        .unwrap()
}

/// Starts the API with one running agent whose runtime is `runtime`.
async fn api_with_agent(runtime: &FakeProviderHandle, proxy: ProxyConfig) -> (Api, String) {
    let api = Api::start_with(proxy).await;
    let id = api.create_agent("Support Bot").await;
    api.locator.set(&id, AgentRuntime::Running { base_url: runtime.base_url.clone(), guest: None });
    (api, id)
}

fn hello(extra: Value) -> Value {
    let mut body = json!({"messages": [{"role": "user", "content": "hello there"}]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn agent_route_forwards_whole_response() {
    let provider = runtime(FakeProviderConfig::default()).await;
    let (api, id) = api_with_agent(&provider, ProxyConfig::default()).await;

    let response = api
        .post(&format!("/v1/agents/{id}/chat/completions"), &api.write_key)
        .json(&hello(json!({"user": "conversation-7", "temperature": 0.2})))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "fake answer: hello there");

    let requests = provider.requests();
    assert_eq!(requests.len(), 1);
    let upstream = &requests[0];
    assert_eq!(upstream.header("authorization"), Some(format!("Bearer {RUNTIME_TOKEN}").as_str()));
    assert_eq!(upstream.header("x-api-key"), None, "the caller's API key must not reach the runtime");
    let sent = upstream.body_json();
    assert_eq!(sent["model"], "openclaw/default");
    assert_eq!(sent["user"], "conversation-7");
    assert_eq!(sent["temperature"], 0.2);
    assert_eq!(api.locator.touched(), vec![id]);
}

#[tokio::test]
async fn openai_route_selects_agent_by_model() {
    let provider = runtime(FakeProviderConfig::default()).await;
    let (api, id) = api_with_agent(&provider, ProxyConfig::default()).await;

    let cases = [
        (id.clone(), "openclaw/default"),
        (format!("agent:{id}"), "openclaw/default"),
        (format!("agent:{id}/research"), "openclaw/research"),
        (format!("{id}/research"), "openclaw/research"),
    ];
    for (model, _) in &cases {
        let response = api
            .post("/v1/chat/completions", &api.write_key)
            .json(&hello(json!({"model": model})))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "model {model}");
    }

    let sent: Vec<String> =
        provider.requests().iter().map(|request| request.body_json()["model"].as_str().unwrap().to_string()).collect();
    let expected: Vec<&str> = cases.iter().map(|(_, runtime_model)| *runtime_model).collect();
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn openai_route_rejects_bad_models() {
    let provider = runtime(FakeProviderConfig::default()).await;
    let (api, id) = api_with_agent(&provider, ProxyConfig::default()).await;

    for model in [json!(null), json!("gpt-4o"), json!("openai/gpt.4o"), json!(7), json!("agent:")] {
        let response = api.post("/v1/chat/completions", &api.write_key).json(&hello(json!({"model": model}))).send().await.unwrap();
        let body = assert_error(response, 400, "invalid_request").await;
        assert_eq!(body["error"]["param"], "model", "model {model}: {body}");
    }

    for model in ["agent:agnosuchagent", "openai/gpt-4o"] {
        let response = api.post("/v1/chat/completions", &api.write_key).json(&hello(json!({"model": model}))).send().await.unwrap();
        let body = assert_error(response, 404, "not_found").await;
        assert!(body["error"]["message"].as_str().unwrap().contains("GET /v1/models"), "{body}");
    }

    let response = api
        .post("/v1/chat/completions", &api.write_key)
        .json(&hello(json!({"model": format!("{id}/nosuch")})))
        .send()
        .await
        .unwrap();
    let body = assert_error(response, 400, "invalid_request").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("main, research"), "{body}");

    let response = api
        .post(&format!("/v1/agents/{id}/chat/completions"), &api.write_key)
        .json(&hello(json!({"model": "agent:agother"})))
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "invalid_request").await;

    assert!(provider.requests().is_empty(), "no rejected request may reach the runtime");
}

#[tokio::test]
async fn chat_body_is_checked() {
    let provider = runtime(FakeProviderConfig::default()).await;
    let (api, id) = api_with_agent(&provider, ProxyConfig::default()).await;
    let path = format!("/v1/agents/{id}/chat/completions");

    let cases = [
        (json!({}), "messages"),
        (json!({"messages": []}), "messages"),
        (json!({"messages": "hi"}), "messages"),
        (hello(json!({"stream": "yes"})), "stream"),
        (hello(json!({"user": 42})), "user"),
    ];
    for (body, param) in cases {
        let response = api.post(&path, &api.write_key).json(&body).send().await.unwrap();
        let error = assert_error(response, 400, "invalid_request").await;
        assert_eq!(error["error"]["param"], param, "body {body}");
    }

    let response = api.post(&path, &api.write_key).json(&json!([1, 2])).send().await.unwrap();
    assert_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn stream_arrives_incrementally() {
    let provider = runtime(FakeProviderConfig { chunk_delay: Duration::from_millis(200), ..Default::default() }).await;
    let (api, id) = api_with_agent(&provider, ProxyConfig::default()).await;

    for path in [format!("/v1/agents/{id}/chat/completions"), "/v1/chat/completions".to_string()] {
        let response = api
            .post(&path, &api.write_key)
            .json(&hello(json!({"model": id, "stream": true})))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert_eq!(response.headers()["x-accel-buffering"], "no");

        let mut reader = SseReader::new(response);
        let first = reader.next_event(Duration::from_secs(5)).await.expect("a first chunk");
        let first_seen_at = Instant::now();
        let mut datas = vec![first.1];
        while let Some((_, data)) = reader.next_event(Duration::from_secs(5)).await {
            datas.push(data);
        }

        let last_sent_at = provider.requests().last().unwrap().last_chunk_sent_at.expect("the provider finished its stream");
        assert!(first_seen_at < last_sent_at, "the first chunk must reach the client before the runtime sends the last");
        assert_eq!(datas.last().unwrap(), "[DONE]");
        let text: String = datas[..datas.len() - 1]
            .iter()
            .map(|data| serde_json::from_str::<Value>(data).unwrap())
            .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().map(str::to_string))
            .collect();
        assert_eq!(text, "fake answer: hello there");
    }
}

#[tokio::test]
async fn stopped_agent_is_409() {
    let api = Api::start().await;
    let id = api.create_agent("Sleeper").await;
    api.locator.set(&id, AgentRuntime::Stopped);

    let response = api.post(&format!("/v1/agents/{id}/chat/completions"), &api.write_key).json(&hello(json!({}))).send().await.unwrap();

    let body = assert_error(response, 409, "agent_not_running").await;
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(api.locator.touched().is_empty());
}

#[tokio::test]
async fn refused_connection_is_502() {
    let api = Api::start().await;
    let id = api.create_agent("Gone").await;
    let base_url = format!("http://{}", closed_address());
    api.locator.set(&id, AgentRuntime::Running { base_url, guest: None });

    for stream in [false, true] {
        let response = api
            .post(&format!("/v1/agents/{id}/chat/completions"), &api.write_key)
            .json(&hello(json!({"stream": stream})))
            .send()
            .await
            .unwrap();
        let body = assert_error(response, 502, "runtime_unavailable").await;
        assert_eq!(body["error"]["type"], "server_error");
        assert!(!body.to_string().contains("127.0.0.1"), "the sandbox address must not leak: {body}");
    }
}

#[tokio::test]
async fn slow_runtime_is_504() {
    let provider = runtime(FakeProviderConfig { response_delay: Duration::from_secs(2), ..Default::default() }).await;
    let proxy = ProxyConfig {
        chat_timeout: Duration::from_millis(300),
        stream_idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let (api, id) = api_with_agent(&provider, proxy).await;

    for stream in [false, true] {
        let started = Instant::now();
        let response = api
            .post(&format!("/v1/agents/{id}/chat/completions"), &api.write_key)
            .json(&hello(json!({"stream": stream})))
            .send()
            .await
            .unwrap();
        let body = assert_error(response, 504, "runtime_timeout").await;
        assert_eq!(body["error"]["type"], "server_error");
        assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
    }
}

#[tokio::test]
async fn silent_stream_ends_with_error_event() {
    let provider = runtime(FakeProviderConfig { chunk_delay: Duration::from_secs(2), ..Default::default() }).await;
    let proxy = ProxyConfig { stream_idle_timeout: Duration::from_millis(400), ..Default::default() };
    let (api, id) = api_with_agent(&provider, proxy).await;

    let response = api
        .post(&format!("/v1/agents/{id}/chat/completions"), &api.write_key)
        .json(&hello(json!({"stream": true})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let mut reader = SseReader::new(response);
    let (_, first) = reader.next_event(Duration::from_secs(5)).await.unwrap();
    assert!(first.contains("chat.completion.chunk"), "{first}");
    let (_, error) = reader.next_event(Duration::from_secs(5)).await.unwrap();
    let error: Value = serde_json::from_str(&error).unwrap();
    assert_eq!(error["error"]["code"], "runtime_timeout");
    assert_eq!(reader.next_event(Duration::from_secs(5)).await, None);
}

#[tokio::test]
async fn runtime_json_error_mapped_to_format() {
    // The runtime expects another token, so it returns 401 in OpenAI's format.
    let provider = FakeProvider::start(FakeProviderConfig { expected_api_key: Some("other".into()), ..Default::default() })
        .await
        .unwrap();
    let (api, id) = api_with_agent(&provider, ProxyConfig::default()).await;

    let response = api.post(&format!("/v1/agents/{id}/chat/completions"), &api.write_key).json(&hello(json!({}))).send().await.unwrap();

    assert_eq!(response.status(), 502, "a runtime that rejects its own token is a failure behind the API");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert_eq!(body["error"]["code"], "upstream_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Incorrect API key provided."), "{message}");
}

#[tokio::test]
async fn runtime_text_error_becomes_502() {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "gateway crashed, token sk-abcdefghijklmnopqrstuv") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let api = Api::start().await;
    let id = api.create_agent("Broken").await;
    api.locator.set(&id, AgentRuntime::Running { base_url, guest: None });

    let response = api.post(&format!("/v1/agents/{id}/chat/completions"), &api.write_key).json(&hello(json!({}))).send().await.unwrap();

    let body = assert_error(response, 502, "upstream_error").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(message.contains("gateway crashed"), "{message}");
    assert!(!message.contains("abcdefghijklmnop"), "the secret must be masked: {message}");
}

#[tokio::test]
async fn chat_needs_agents_write() {
    let provider = runtime(FakeProviderConfig::default()).await;
    let (api, id) = api_with_agent(&provider, ProxyConfig::default()).await;

    let response = api.post(&format!("/v1/agents/{id}/chat/completions"), &api.read_key).json(&hello(json!({}))).send().await.unwrap();
    assert_error(response, 403, "missing_scope").await;

    let response = api.post("/v1/chat/completions", &api.read_key).json(&hello(json!({"model": id}))).send().await.unwrap();
    assert_error(response, 403, "missing_scope").await;

    assert!(provider.requests().is_empty());
}

#[tokio::test]
async fn models_lists_agents_and_extras() {
    let api = Api::start().await;
    let first = api.create_agent("First").await;
    let second = api.create_agent("Second").await;

    let response = api.get("/v1/models", &api.read_key).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"].as_array().unwrap().iter().map(|model| model["id"].as_str().unwrap()).collect();
    for expected in [first.clone(), format!("{first}/research"), second.clone(), format!("{second}/research")] {
        assert!(ids.contains(&expected.as_str()), "{expected} missing from {ids:?}");
    }
    assert_eq!(ids.len(), 4);
    let entry = &body["data"][0];
    assert_eq!(entry["object"], "model");
    assert_eq!(entry["owned_by"], "gopilot");
    assert!(entry["created"].as_i64().unwrap() > 1_700_000_000, "{entry}");

    let response = api.get("/v1/models", &api.write_key).send().await.unwrap();
    assert_error(response, 403, "missing_scope").await;
}

#[tokio::test]
async fn models_walks_every_page() {
    let api = Api::start().await;
    // More agents than one page of the agent list holds.
    let count = gopilot_control::agents::MAX_PAGE_SIZE as usize + 3;
    let created: Vec<String> = futures::stream::iter(0..count)
        .then(|n| {
            let api = &api;
            async move { api.create_agent(&format!("Agent {n}")).await }
        })
        .collect()
        .await;

    let body: Value = api.get("/v1/models", &api.read_key).send().await.unwrap().json().await.unwrap();

    let primary = body["data"].as_array().unwrap().iter().filter(|model| !model["id"].as_str().unwrap().contains('/')).count();
    assert_eq!(primary, created.len());
}

#[test]
fn openapi_documents_chat_logs_models() {
    let document: Value = serde_json::from_str(&gopilot_api::openapi_json()).unwrap();
    let paths = &document["paths"];

    for (path, method) in [
        ("/v1/agents/{id}/chat/completions", "post"),
        ("/v1/chat/completions", "post"),
        ("/v1/agents/{id}/logs", "get"),
        ("/v1/models", "get"),
    ] {
        let responses = &paths[path][method]["responses"];
        assert!(responses.is_object(), "{method} {path} is not documented");
        for status in ["401", "403", "429", "500"] {
            assert!(responses.get(status).is_some(), "{method} {path} lacks {status}");
        }
    }
    for status in ["400", "404", "409", "502", "504"] {
        assert!(paths["/v1/chat/completions"]["post"]["responses"].get(status).is_some(), "chat lacks {status}");
    }
}
