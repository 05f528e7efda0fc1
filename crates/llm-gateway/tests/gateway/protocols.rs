//! Each protocol, streamed and not: response text, usage, cost and key swap.

use gopilot_fake_provider::FakeProviderConfig;
use gopilot_llm_gateway::{ModelPrice, PriceTable};
use serde_json::{json, Value};

use crate::harness::*;

const SYSTEM_PROMPT: &str = "You are a terse assistant";
const USER_MESSAGE: &str = "summarize the quarterly report please";
const ANSWER: &str = "fake answer: summarize the quarterly report please";
const CACHED_TOKENS: u64 = 3;

/// Prompt words as the fake provider counts them: system prompt plus user message.
fn prompt_words() -> u64 {
    count_words(SYSTEM_PROMPT) + count_words(USER_MESSAGE)
}

fn provider_config() -> FakeProviderConfig {
    FakeProviderConfig {
        cached_tokens: CACHED_TOKENS,
        ..FakeProviderConfig::default()
    }
}

fn chat_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_MESSAGE}
        ],
        "tools": [{"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}}]
    })
}

fn anthropic_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": 256,
        "stream": stream,
        "system": SYSTEM_PROMPT,
        "messages": [{"role": "user", "content": [{"type": "text", "text": USER_MESSAGE}]}]
    })
}

fn responses_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "instructions": SYSTEM_PROMPT, "input": USER_MESSAGE})
}

/// Checks one usage record against the tokens the client saw from the provider.
fn assert_record(
    harness_records: &[gopilot_llm_gateway::UsageRecord],
    provider: &str,
    model: &str,
    streamed: bool,
) {
    assert_eq!(harness_records.len(), 1);
    let record = &harness_records[0];
    assert_eq!(record.agent_id, AGENT_ID);
    assert_eq!(record.account_id, ACCOUNT_ID);
    assert_eq!(record.provider, provider);
    assert_eq!(record.model, model);
    assert_eq!(record.status_code, 200);
    assert_eq!(record.streamed, streamed);
    assert_eq!(record.input_tokens, prompt_words());
    assert_eq!(record.cached_tokens, CACHED_TOKENS);
    assert_eq!(record.output_tokens, count_words(ANSWER));
    assert!(record
        .request_id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert_cost(
        record,
        expected_cost(
            provider,
            model,
            prompt_words(),
            CACHED_TOKENS,
            count_words(ANSWER),
        ),
    );
}

/// Checks that the provider got the real key and never the gateway token.
fn assert_key_swapped(harness: &Harness, key_header: &str, expected_value: &str) {
    let requests = harness.provider.requests();
    assert!(!requests.is_empty(), "the provider received no request");
    for request in requests {
        assert_eq!(
            request.header(key_header),
            Some(expected_value),
            "{} {}",
            request.method,
            request.path
        );
        for (name, value) in request.headers.iter() {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(
                !value.contains(GATEWAY_TOKEN),
                "gateway token forwarded in header {name}"
            );
        }
        assert!(!String::from_utf8_lossy(&request.body).contains(GATEWAY_TOKEN));
    }
}

async fn body_without_provider_key(response: reqwest::Response) -> String {
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(
            !value.contains(PROVIDER_KEY),
            "provider key in response header {name}"
        );
    }
    let body = response.text().await.unwrap();
    assert!(
        !body.contains(PROVIDER_KEY),
        "provider key in response body"
    );
    body
}

#[tokio::test]
async fn chat_completions_plain() {
    let harness = Harness::start(provider_config()).await;

    let response = harness
        .post_bearer("/openai/v1/chat/completions", &chat_body("gpt-4o", false))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_str(&body_without_provider_key(response).await).unwrap();

    assert_eq!(body["choices"][0]["message"]["content"], ANSWER);
    assert_eq!(body["usage"]["prompt_tokens"], prompt_words());
    assert_record(
        &harness.wait_for_records(1).await,
        "openai",
        "gpt-4o",
        false,
    );
    assert_key_swapped(&harness, "authorization", &format!("Bearer {PROVIDER_KEY}"));
}

#[tokio::test]
async fn chat_completions_streamed() {
    let harness = Harness::start(provider_config()).await;

    let response = harness
        .post_bearer("/openai/v1/chat/completions", &chat_body("gpt-4.1", true))
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_data(&body_without_provider_key(response).await);

    let text: String = events
        .iter()
        .filter_map(|event| event["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, ANSWER);
    let usage = events
        .iter()
        .rev()
        .find(|event| event["usage"].is_object())
        .expect("usage chunk");
    assert_eq!(usage["usage"]["completion_tokens"], count_words(ANSWER));

    assert_record(
        &harness.wait_for_records(1).await,
        "openai",
        "gpt-4.1",
        true,
    );
    let forwarded = harness.provider.requests()[0].body_json();
    assert_eq!(
        forwarded["stream_options"]["include_usage"], true,
        "include_usage injected"
    );
    assert_eq!(
        forwarded["tools"][0]["function"]["name"], "noop",
        "extra fields kept"
    );
    assert_key_swapped(&harness, "authorization", &format!("Bearer {PROVIDER_KEY}"));
}

#[tokio::test]
async fn responses_plain() {
    let harness = Harness::start(provider_config()).await;

    let response = harness
        .post_bearer("/openai/v1/responses", &responses_body("gpt-5", false))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_str(&body_without_provider_key(response).await).unwrap();

    assert_eq!(body["output"][0]["content"][0]["text"], ANSWER);
    assert_record(&harness.wait_for_records(1).await, "openai", "gpt-5", false);
}

#[tokio::test]
async fn responses_streamed() {
    let harness = Harness::start(provider_config()).await;

    let response = harness
        .post_bearer("/openai/v1/responses", &responses_body("gpt-5", true))
        .await;
    assert_eq!(response.status(), 200);
    let events = sse_data(&body_without_provider_key(response).await);

    let text: String = events
        .iter()
        .filter(|event| event["type"] == "response.output_text.delta")
        .filter_map(|event| event["delta"].as_str())
        .collect();
    assert_eq!(text, ANSWER);
    assert_eq!(events.last().unwrap()["type"], "response.completed");
    assert_record(&harness.wait_for_records(1).await, "openai", "gpt-5", true);
}

#[tokio::test]
async fn anthropic_messages_plain() {
    let harness = Harness::start(provider_config()).await;

    let response = harness
        .post_anthropic(
            "/anthropic/v1/messages",
            &anthropic_body("claude-sonnet-4-6", false),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_str(&body_without_provider_key(response).await).unwrap();

    assert_eq!(body["content"][0]["text"], ANSWER);
    // Anthropic reports cache reads apart from `input_tokens`, the gateway adds them up.
    assert_eq!(
        body["usage"]["input_tokens"],
        prompt_words() - CACHED_TOKENS
    );
    assert_record(
        &harness.wait_for_records(1).await,
        "anthropic",
        "claude-sonnet-4-6",
        false,
    );
    assert_key_swapped(&harness, "x-api-key", PROVIDER_KEY);
    assert_eq!(
        harness.provider.requests()[0].header("anthropic-version"),
        Some("2023-06-01")
    );
    assert_eq!(harness.provider.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn anthropic_messages_streamed() {
    let harness = Harness::start(provider_config()).await;

    let response = harness
        .post_anthropic(
            "/anthropic/v1/messages",
            &anthropic_body("claude-opus-4-5", true),
        )
        .await;
    assert_eq!(response.status(), 200);
    let events = sse_data(&body_without_provider_key(response).await);

    let text: String = events
        .iter()
        .filter(|event| event["type"] == "content_block_delta")
        .filter_map(|event| event["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, ANSWER);
    assert_eq!(events.last().unwrap()["type"], "message_stop");
    assert_record(
        &harness.wait_for_records(1).await,
        "anthropic",
        "claude-opus-4-5",
        true,
    );
    assert_key_swapped(&harness, "x-api-key", PROVIDER_KEY);
}

#[tokio::test]
async fn openrouter_with_api_key_header() {
    let harness = Harness::start(provider_config()).await;

    // Token in `x-api-key` on an OpenAI-compatible route: both headers work everywhere.
    let response = harness
        .client
        .post(harness.url("/openrouter/v1/chat/completions"))
        .header("x-api-key", GATEWAY_TOKEN)
        .json(&chat_body("openai/gpt-4o", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    body_without_provider_key(response).await;

    assert_record(
        &harness.wait_for_records(1).await,
        "openrouter",
        "openai/gpt-4o",
        false,
    );
    assert_key_swapped(&harness, "authorization", &format!("Bearer {PROVIDER_KEY}"));
    assert_eq!(harness.provider.requests()[0].header("x-api-key"), None);
}

#[tokio::test]
async fn unknown_model_has_no_cost() {
    let harness = Harness::start(provider_config()).await;

    for path in [
        "/openai/v1/chat/completions",
        "/compat/local/v1/chat/completions",
    ] {
        let response = harness
            .post_bearer(path, &chat_body("gpt-unreleased-9", false))
            .await;
        assert_eq!(response.status(), 200, "{path}");
    }

    let records = harness.wait_for_records(2).await;
    assert_eq!(records[0].provider, "openai");
    assert_eq!(records[1].provider, COMPAT_PROVIDER);
    for record in &records {
        assert_eq!(record.cost_usd, None);
        assert_eq!(record.input_tokens, prompt_words());
        assert_eq!(record.output_tokens, count_words(ANSWER));
    }
}

#[tokio::test]
async fn price_override_applies() {
    let price = ModelPrice {
        input: 2.0,
        output: 4.0,
        cached_input: None,
    };
    let harness = Harness::start_with(provider_config(), |config| {
        let mut overrides = PriceTable::default();
        overrides.insert(COMPAT_PROVIDER, "llama-local", price);
        config.price_table.merge(overrides);
    })
    .await;

    let response = harness
        .post_bearer(
            "/compat/local/v1/chat/completions",
            &chat_body("llama-local", false),
        )
        .await;
    assert_eq!(response.status(), 200);

    let records = harness.wait_for_records(1).await;
    let expected = (prompt_words() as f64 * 2.0 + count_words(ANSWER) as f64 * 4.0) / 1e6;
    assert_cost(&records[0], Some(expected));
}

#[tokio::test]
async fn models_passed_through() {
    let harness = Harness::start(provider_config()).await;

    let openai = harness
        .client
        .get(harness.url("/openai/v1/models"))
        .bearer_auth(GATEWAY_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(openai.status(), 200);
    let openai: Value = openai.json().await.unwrap();
    assert_eq!(openai["object"], "list");
    assert!(openai["data"]
        .as_array()
        .is_some_and(|models| !models.is_empty()));

    let anthropic = harness
        .client
        .get(harness.url("/anthropic/v1/models"))
        .header("x-api-key", GATEWAY_TOKEN)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 200);
    let anthropic: Value = anthropic.json().await.unwrap();
    assert_eq!(anthropic["has_more"], false);

    assert!(
        harness.sink.records().is_empty(),
        "model lists are not metered"
    );
    let requests = harness.provider.requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {PROVIDER_KEY}").as_str())
    );
    assert_eq!(requests[1].header("x-api-key"), Some(PROVIDER_KEY));
}

#[tokio::test]
async fn upstream_error_passed_through() {
    let harness = Harness::start(provider_config()).await;
    let mut credentials = gopilot_llm_gateway::AgentCredentials {
        agent_id: "agent2".to_owned(),
        account_id: ACCOUNT_ID.to_owned(),
        provider_keys: Default::default(),
    };
    credentials
        .provider_keys
        .insert("openai".to_owned(), "sk-revoked-key".to_owned());
    harness.resolver.insert("gwtok-agent2", credentials);

    let response = harness
        .client
        .post(harness.url("/openai/v1/chat/completions"))
        .bearer_auth("gwtok-agent2")
        .json(&chat_body("gpt-4o", false))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "invalid_api_key",
        "the provider's own error body"
    );
    let records = harness.wait_for_records(1).await;
    assert_eq!(records[0].agent_id, "agent2");
    assert_eq!(records[0].status_code, 401);
    assert_eq!(records[0].input_tokens, 0);
    assert_eq!(records[0].output_tokens, 0);
    assert_cost(&records[0], Some(0.0));
}
