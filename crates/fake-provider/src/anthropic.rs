//! Anthropic Messages: `POST /v1/messages`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::prompt::{self, TokenCounts};
use crate::server::RequestContext;
use crate::sse::{sse_response, SseEvent};

const MESSAGE_ID: &str = "msg_fake0001";

pub(crate) fn handle(context: &RequestContext, body: &Value) -> Response {
    let model = prompt::requested_model(body);
    let system = body
        .get("system")
        .map(prompt::content_text)
        .unwrap_or_default();
    let prompt_text = format!("{system} {}", prompt::messages_text(body.get("messages")));
    let answer = prompt::build_answer(
        &context.config,
        &prompt::user_text(body.get("messages"), context.config.echo),
    );
    let counts = TokenCounts::new(&prompt_text, &answer, &context.config);

    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !streaming {
        return Json(message(&model, &answer, counts)).into_response();
    }

    let events = stream_events(&model, &answer, counts);
    sse_response(events, context.config.chunk_delay, context.stream_mark())
}

/// Builds the `usage` object. Anthropic's `input_tokens` excludes the tokens
/// read from the cache, which it reports apart in `cache_read_input_tokens`.
fn usage(counts: TokenCounts, output_tokens: u64) -> Value {
    json!({
        "input_tokens": counts.input - counts.cached,
        "cache_read_input_tokens": counts.cached,
        "cache_creation_input_tokens": 0,
        "output_tokens": output_tokens,
    })
}

fn message(model: &str, answer: &str, counts: TokenCounts) -> Value {
    json!({
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": usage(counts, counts.output),
    })
}

/// Builds the event sequence of a streamed message: `message_start` with the
/// input usage, one `content_block_delta` per word, and `message_delta` with
/// the final output token count.
fn stream_events(model: &str, answer: &str, counts: TokenCounts) -> Vec<SseEvent> {
    let mut payloads = vec![
        json!({"type": "message_start", "message": {
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": usage(counts, 1),
        }}),
        json!({"type": "content_block_start", "index": 0,
               "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
    ];
    for piece in prompt::split_into_pieces(answer) {
        payloads.push(json!({"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": piece}}));
    }
    payloads.push(json!({"type": "content_block_stop", "index": 0}));
    payloads.push(json!({"type": "message_delta",
                         "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                         "usage": {"output_tokens": counts.output}}));
    payloads.push(json!({"type": "message_stop"}));

    payloads
        .iter()
        .map(|payload| {
            let name = payload["type"]
                .as_str()
                .expect("every payload above has a type");
            SseEvent::named(name, payload)
        })
        .collect()
}
