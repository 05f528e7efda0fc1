//! OpenAI Responses: `POST /v1/responses`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::prompt::{self, TokenCounts};
use crate::server::RequestContext;
use crate::sse::{sse_response, SseEvent};

const RESPONSE_ID: &str = "resp_fake0001";
const MESSAGE_ID: &str = "msg_fake0001";

pub(crate) fn handle(context: &RequestContext, body: &Value) -> Response {
    let model = prompt::requested_model(body);
    let answer = prompt::build_answer(&context.config, &last_user_input(body.get("input")));
    let counts = TokenCounts::new(&prompt_text(body), &answer, &context.config);

    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let completed = response_object(&model, &answer, counts, context.created, "completed");
    if !streaming {
        return Json(completed).into_response();
    }

    let events = stream_events(&model, &answer, completed, context.created);
    sse_response(events, context.config.chunk_delay, context.stream_mark())
}

/// Returns the text of `instructions` and every `input` item.
fn prompt_text(body: &Value) -> String {
    let instructions = body
        .get("instructions")
        .map(prompt::content_text)
        .unwrap_or_default();
    let input = match body.get("input") {
        Some(Value::Array(items)) => items
            .iter()
            .map(prompt::content_text)
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => prompt::content_text(other),
        None => String::new(),
    };
    format!("{instructions} {input}")
}

/// Returns the text of the last user item of `input`, which is either a plain
/// string or an array of items.
fn last_user_input(input: Option<&Value>) -> String {
    match input {
        Some(Value::String(text)) => text.clone(),
        Some(items @ Value::Array(_)) => prompt::last_user_text(Some(items)),
        _ => String::new(),
    }
}

fn output_message(answer: &str, status: &str) -> Value {
    json!({
        "type": "message",
        "id": MESSAGE_ID,
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": answer, "annotations": []}],
    })
}

fn response_object(
    model: &str,
    answer: &str,
    counts: TokenCounts,
    created: u64,
    status: &str,
) -> Value {
    json!({
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": created,
        "status": status,
        "model": model,
        "output": [output_message(answer, "completed")],
        "usage": {
            "input_tokens": counts.input,
            "input_tokens_details": {"cached_tokens": counts.cached},
            "output_tokens": counts.output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": counts.input + counts.output,
        },
    })
}

/// Builds the event sequence of a streamed response, ending with
/// `response.completed` whose `response.usage` carries the token counts.
fn stream_events(model: &str, answer: &str, completed: Value, created: u64) -> Vec<SseEvent> {
    let mut in_progress = json!({
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "model": model,
        "output": [],
        "usage": null,
    });
    let mut payloads = vec![
        ("response.created", json!({"response": in_progress.take()})),
        (
            "response.output_item.added",
            json!({"output_index": 0, "item": {
                "type": "message", "id": MESSAGE_ID, "status": "in_progress",
                "role": "assistant", "content": []
            }}),
        ),
        (
            "response.content_part.added",
            json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        ),
    ];
    for piece in prompt::split_into_pieces(answer) {
        payloads.push((
            "response.output_text.delta",
            json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0, "delta": piece}),
        ));
    }
    payloads.push((
        "response.output_text.done",
        json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0, "text": answer}),
    ));
    payloads.push((
        "response.content_part.done",
        json!({"item_id": MESSAGE_ID, "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": answer, "annotations": []}}),
    ));
    payloads.push((
        "response.output_item.done",
        json!({"output_index": 0, "item": output_message(answer, "completed")}),
    ));
    payloads.push(("response.completed", json!({"response": completed})));

    payloads
        .into_iter()
        .enumerate()
        .map(|(sequence_number, (name, mut payload))| {
            payload["type"] = json!(name);
            payload["sequence_number"] = json!(sequence_number);
            SseEvent::named(name, &payload)
        })
        .collect()
}
