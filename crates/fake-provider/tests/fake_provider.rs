//! The fake provider over real HTTP: routes, key checks, usage and recording.

use gopilot_fake_provider::{FakeProvider, FakeProviderConfig};
use serde_json::{json, Value};

const KEY: &str = "sk-fake-test-key";

async fn start() -> gopilot_fake_provider::FakeProviderHandle {
    let config = FakeProviderConfig {
        expected_api_key: Some(KEY.to_owned()),
        answer_prefix: "echo:".to_owned(),
        cached_tokens: 1,
        ..FakeProviderConfig::default()
    };
    FakeProvider::start(config).await.unwrap()
}

#[tokio::test]
async fn chat_served_with_and_without_v1() {
    let provider = start().await;
    let client = reqwest::Client::new();
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "ping pong"}], "unknown_field": 1});

    for path in ["/v1/chat/completions", "/chat/completions"] {
        let response = client
            .post(format!("{}{path}", provider.base_url))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            "echo: ping pong"
        );
        assert_eq!(answer["usage"]["prompt_tokens"], 2);
        assert_eq!(answer["usage"]["completion_tokens"], 3);
        assert_eq!(answer["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
    }

    let requests = provider.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path, "/chat/completions");
    assert_eq!(requests[0].body_json()["unknown_field"], 1);
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer sk-fake-test-key")
    );
}

#[tokio::test]
async fn wrong_key_gets_provider_error() {
    let provider = start().await;
    let client = reqwest::Client::new();

    let openai = client
        .post(format!("{}/v1/chat/completions", provider.base_url))
        .bearer_auth("sk-wrong")
        .json(&json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(openai.status(), 401);
    let openai: Value = openai.json().await.unwrap();
    assert_eq!(openai["error"]["code"], "invalid_api_key");

    // Anthropic reads the key from `x-api-key` only, so a bearer token is not enough.
    let anthropic = client
        .post(format!("{}/v1/messages", provider.base_url))
        .bearer_auth(KEY)
        .json(&json!({"model": "m", "max_tokens": 8, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 401);
    let anthropic: Value = anthropic.json().await.unwrap();
    assert_eq!(anthropic["type"], "error");
    assert_eq!(anthropic["error"]["type"], "authentication_error");
}

#[tokio::test]
async fn chat_stream_usage_only_on_request() {
    let provider = start().await;
    let client = reqwest::Client::new();

    for include_usage in [false, true] {
        let body = json!({"model": "m", "stream": true, "stream_options": {"include_usage": include_usage},
                          "messages": [{"role": "user", "content": "a b c"}]});
        let response = client
            .post(format!("{}/v1/chat/completions", provider.base_url))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let text = response.text().await.unwrap();

        assert!(text.trim_end().ends_with("data: [DONE]"));
        let has_usage_chunk = text.contains("\"prompt_tokens\":3");
        assert_eq!(
            has_usage_chunk, include_usage,
            "include_usage {include_usage}"
        );
    }
    assert!(provider
        .requests()
        .iter()
        .all(|request| request.last_chunk_sent_at.is_some()));
}

#[tokio::test]
async fn unknown_route_is_404() {
    let provider = start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/embeddings", provider.base_url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    provider.shutdown().await;
}
