//! Errors the gateway returns itself, in GoPilot's error format.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gopilot_fake_provider::FakeProviderConfig;
use gopilot_llm_gateway::AgentCredentials;
use serde_json::json;
use url::Url;

use crate::harness::*;

fn chat_body() -> serde_json::Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]})
}

#[tokio::test]
async fn bad_token_rejected() {
    let harness = Harness::start(FakeProviderConfig::default()).await;

    let unknown = harness
        .client
        .post(harness.url("/openai/v1/chat/completions"))
        .bearer_auth("gwtok-unknown")
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_gateway_error(
        unknown,
        401,
        "authentication_error",
        "invalid_gateway_token",
    )
    .await;

    let missing = harness
        .client
        .post(harness.url("/anthropic/v1/messages"))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_gateway_error(
        missing,
        401,
        "authentication_error",
        "missing_gateway_token",
    )
    .await;

    // A revoked token stops working at once.
    harness.resolver.remove(GATEWAY_TOKEN);
    let revoked = harness
        .post_bearer("/openai/v1/chat/completions", &chat_body())
        .await;
    assert_gateway_error(
        revoked,
        401,
        "authentication_error",
        "invalid_gateway_token",
    )
    .await;

    assert!(
        harness.provider.requests().is_empty(),
        "nothing reached the provider"
    );
    assert!(harness.sink.records().is_empty());
}

#[tokio::test]
async fn missing_provider_key_rejected() {
    let harness = Harness::start(FakeProviderConfig::default()).await;
    let provider_keys = HashMap::from([("openai".to_owned(), PROVIDER_KEY.to_owned())]);
    harness.resolver.insert(
        "gwtok-openai-only",
        AgentCredentials {
            agent_id: "agent3".to_owned(),
            account_id: ACCOUNT_ID.to_owned(),
            provider_keys,
        },
    );

    let response = harness
        .client
        .post(harness.url("/anthropic/v1/messages"))
        .header("x-api-key", "gwtok-openai-only")
        .json(&json!({"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}))
        .send()
        .await
        .unwrap();

    let body = assert_gateway_error(
        response,
        400,
        "invalid_request_error",
        "missing_provider_key",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`anthropic`"));
    assert!(harness.provider.requests().is_empty());
}

#[tokio::test]
async fn upstream_down_gives_502() {
    // A port that was just free: nothing listens there.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let harness = Harness::start_with(FakeProviderConfig::default(), |config| {
        let closed = Url::parse(&format!("http://127.0.0.1:{closed_port}")).unwrap();
        config.upstreams.insert("openai".to_owned(), closed);
    })
    .await;

    let response = harness
        .post_bearer("/openai/v1/chat/completions", &chat_body())
        .await;

    let body = assert_gateway_error(response, 502, "server_error", "upstream_unreachable").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`openai`"),
        "message names the provider: {message}"
    );
    assert!(!message.contains(PROVIDER_KEY));
    assert!(
        harness.sink.records().is_empty(),
        "no upstream response, no usage record"
    );
}

#[tokio::test]
async fn upstream_slow_gives_504() {
    let provider_config = FakeProviderConfig {
        response_delay: Duration::from_secs(3),
        ..FakeProviderConfig::default()
    };
    let harness = Harness::start_with(provider_config, |config| {
        config.request_timeout = Duration::from_millis(300);
    })
    .await;

    let started = Instant::now();
    let response = harness
        .post_bearer("/openai/v1/chat/completions", &chat_body())
        .await;
    let elapsed = started.elapsed();

    assert_gateway_error(response, 504, "server_error", "upstream_timeout").await;
    assert!(
        elapsed >= Duration::from_millis(300),
        "responded before the timeout: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "waited for the slow provider: {elapsed:?}"
    );
}

#[tokio::test]
async fn oversized_body_rejected() {
    let harness = Harness::start_with(FakeProviderConfig::default(), |config| {
        config.max_request_body_bytes = 1024;
    })
    .await;
    let big =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "word ".repeat(1000)}]});

    let response = harness
        .post_bearer("/openai/v1/chat/completions", &big)
        .await;

    assert_gateway_error(response, 413, "invalid_request_error", "request_too_large").await;
    assert!(harness.provider.requests().is_empty());
}

#[tokio::test]
async fn bad_routes_and_bodies_rejected() {
    let harness = Harness::start(FakeProviderConfig::default()).await;

    let unknown_compat = harness
        .post_bearer("/compat/nowhere/v1/chat/completions", &chat_body())
        .await;
    assert_gateway_error(unknown_compat, 404, "not_found_error", "unknown_provider").await;

    // Built-in names cannot be reached through /compat, which would send the key with the wrong scheme.
    let builtin_as_compat = harness
        .post_bearer("/compat/anthropic/v1/chat/completions", &chat_body())
        .await;
    assert_gateway_error(
        builtin_as_compat,
        404,
        "not_found_error",
        "unknown_provider",
    )
    .await;

    let wrong_family = harness
        .post_bearer("/openai/v1/messages", &chat_body())
        .await;
    assert_gateway_error(wrong_family, 404, "not_found_error", "unknown_endpoint").await;

    let invalid_json = harness
        .client
        .post(harness.url("/openai/v1/chat/completions"))
        .bearer_auth(GATEWAY_TOKEN)
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    assert_gateway_error(invalid_json, 400, "invalid_request_error", "invalid_json").await;

    assert!(harness.provider.requests().is_empty());
}
