//! Streams are forwarded as they arrive, not buffered.

use std::time::{Duration, Instant};

use futures::StreamExt;
use gopilot_fake_provider::FakeProviderConfig;
use serde_json::json;

use crate::harness::*;

const CHUNK_DELAY: Duration = Duration::from_millis(150);

#[tokio::test]
async fn stream_is_incremental() {
    let harness = Harness::start(FakeProviderConfig {
        chunk_delay: CHUNK_DELAY,
        ..FakeProviderConfig::default()
    })
    .await;
    let cases = [
        (
            "/openai/v1/chat/completions",
            json!({"model": "gpt-4o", "stream": true,
            "messages": [{"role": "user", "content": "one two three four"}]}),
        ),
        (
            "/anthropic/v1/messages",
            json!({"model": "claude-haiku-4-5", "stream": true, "max_tokens": 64,
            "messages": [{"role": "user", "content": "one two three four"}]}),
        ),
        (
            "/openai/v1/responses",
            json!({"model": "gpt-5", "stream": true, "input": "one two three four"}),
        ),
    ];

    for (index, (path, body)) in cases.iter().enumerate() {
        let response = harness.post_bearer(path, body).await;
        assert_eq!(response.status(), 200, "{path}");
        let mut chunks = response.bytes_stream();

        let first = chunks.next().await.expect("a first chunk").unwrap();
        let first_received_at = Instant::now();
        assert!(!first.is_empty());
        while let Some(chunk) = chunks.next().await {
            chunk.unwrap();
        }

        let request = &harness.provider.requests()[index];
        let last_sent_at = request
            .last_chunk_sent_at
            .expect("the provider finished the stream");
        assert!(
            first_received_at < last_sent_at,
            "{path}: first chunk arrived {:?} after the provider sent its last one",
            first_received_at - last_sent_at
        );
        // The response text has 7 words, so the provider waits at least 7 delays after the first event.
        assert!(
            last_sent_at - first_received_at >= CHUNK_DELAY * 5,
            "{path}: stream was not paced"
        );
    }
    harness.wait_for_records(3).await;
}

#[tokio::test]
async fn client_disconnect_still_metered() {
    let harness = Harness::start(FakeProviderConfig {
        chunk_delay: CHUNK_DELAY,
        ..FakeProviderConfig::default()
    })
    .await;
    let body = json!({"model": "claude-sonnet-4-6", "stream": true, "max_tokens": 64,
        "messages": [{"role": "user", "content": "count these five words"}]});

    let response = harness
        .post_anthropic("/anthropic/v1/messages", &body)
        .await;
    let mut chunks = response.bytes_stream();
    chunks.next().await.expect("a first chunk").unwrap();
    drop(chunks);

    // `message_start` arrived, so the input tokens are known though the output is not.
    let records = harness.wait_for_records(1).await;
    assert!(records[0].streamed);
    assert_eq!(
        records[0].input_tokens,
        count_words("count these five words")
    );
    assert_eq!(records[0].status_code, 200);
}
