//! OpenAI Chat Completions: `POST /v1/chat/completions`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::prompt::{self, TokenCounts};
use crate::server::RequestContext;
use crate::sse::{sse_response, SseEvent};

const COMPLETION_ID: &str = "chatcmpl-fake0001";

pub(crate) fn handle(context: &RequestContext, body: &Value) -> Response {
    let model = prompt::requested_model(body);
    let prompt_text = prompt::messages_text(body.get("messages"));
    let answer = prompt::build_answer(
        &context.config,
        &prompt::user_text(body.get("messages"), context.config.echo),
    );
    let counts = TokenCounts::new(&prompt_text, &answer, &context.config);

    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !streaming {
        return Json(completion(&model, &answer, counts, context.created)).into_response();
    }

    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let events = stream_events(&model, &answer, counts, include_usage, context.created);
    sse_response(events, context.config.chunk_delay, context.stream_mark())
}

fn usage(counts: TokenCounts) -> Value {
    json!({
        "prompt_tokens": counts.input,
        "completion_tokens": counts.output,
        "total_tokens": counts.input + counts.output,
        "prompt_tokens_details": {"cached_tokens": counts.cached},
        "completion_tokens_details": {"reasoning_tokens": 0},
    })
}

fn completion(model: &str, answer: &str, counts: TokenCounts, created: u64) -> Value {
    json!({
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": usage(counts),
    })
}

/// Builds the chunks of a streamed completion: a role chunk, one chunk per
/// word, a `finish_reason` chunk, the usage chunk when `include_usage` is
/// set (with empty `choices`, as OpenAI sends it), and `[DONE]`.
fn stream_events(
    model: &str,
    answer: &str,
    counts: TokenCounts,
    include_usage: bool,
    created: u64,
) -> Vec<SseEvent> {
    let chunk = |choices: Value, usage: Value| {
        let mut chunk = json!({
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
        });
        if include_usage {
            chunk["usage"] = usage;
        }
        SseEvent::data(chunk.to_string())
    };

    let mut events = vec![chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
        Value::Null,
    )];
    for piece in prompt::split_into_pieces(answer) {
        events.push(chunk(
            json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}]),
            Value::Null,
        ));
    }
    events.push(chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        Value::Null,
    ));
    if include_usage {
        events.push(chunk(json!([]), usage(counts)));
    }
    events.push(SseEvent::data("[DONE]"));
    events
}
