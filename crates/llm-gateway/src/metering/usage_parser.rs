//! Reads token usage from provider responses.
//!
//! Where usage appears, per protocol:
//! - Anthropic Messages: `usage` of the body, or of `message_start.message`
//!   (input and cache tokens) and `message_delta` (cumulative output tokens)
//!   when streamed. `input_tokens` there excludes cache reads and writes.
//! - OpenAI Chat Completions: `usage` of the body, or of the last chunk when
//!   streamed with `stream_options.include_usage`.
//! - OpenAI Responses: `usage` of the body, or `response.usage` of the
//!   `response.completed` (or `.incomplete`, `.failed`) event.

use serde_json::Value;

use super::sse::{SseDecoder, SseMessage};
use super::{Protocol, TokenUsage};

/// Reads the usage of a non-streamed response. Returns `None` when the body
/// is not JSON or carries no `usage` object.
pub(crate) fn usage_from_body(protocol: Protocol, body: &[u8]) -> Option<TokenUsage> {
    let body: Value = serde_json::from_slice(body).ok()?;
    let usage = body.get("usage").filter(|usage| usage.is_object())?;
    let mut tokens = TokenUsage::default();
    match protocol {
        Protocol::AnthropicMessages => apply_anthropic_usage(usage, &mut tokens),
        Protocol::OpenAiChatCompletions => apply_chat_usage(usage, &mut tokens),
        Protocol::OpenAiResponses => apply_responses_usage(usage, &mut tokens),
    }
    Some(tokens)
}

/// Follows a streamed response chunk by chunk and keeps the latest usage seen.
#[derive(Debug)]
pub(crate) struct StreamUsageTracker {
    protocol: Protocol,
    decoder: SseDecoder,
    usage: TokenUsage,
    found: bool,
}

impl StreamUsageTracker {
    pub(crate) fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            decoder: SseDecoder::default(),
            usage: TokenUsage::default(),
            found: false,
        }
    }

    pub(crate) fn observe(&mut self, chunk: &[u8]) {
        for message in self.decoder.push(chunk) {
            self.observe_message(&message);
        }
    }

    /// Ends the stream and returns the usage found, if any.
    pub(crate) fn finish(&mut self) -> Option<TokenUsage> {
        if let Some(message) = self.decoder.finish() {
            self.observe_message(&message);
        }
        self.found.then_some(self.usage)
    }

    fn observe_message(&mut self, message: &SseMessage) {
        if message.data == "[DONE]" {
            return;
        }
        let Ok(data) = serde_json::from_str::<Value>(&message.data) else {
            return;
        };
        let event_type = data.get("type").and_then(Value::as_str).unwrap_or_default();

        match self.protocol {
            Protocol::AnthropicMessages => {
                let usage = match event_type {
                    "message_start" => data.pointer("/message/usage"),
                    "message_delta" => data.get("usage"),
                    _ => None,
                };
                if let Some(usage) = usage.filter(|usage| usage.is_object()) {
                    apply_anthropic_usage(usage, &mut self.usage);
                    self.found = true;
                }
            }
            Protocol::OpenAiChatCompletions => {
                if let Some(usage) = data.get("usage").filter(|usage| usage.is_object()) {
                    apply_chat_usage(usage, &mut self.usage);
                    self.found = true;
                }
            }
            Protocol::OpenAiResponses => {
                let final_event = matches!(
                    event_type,
                    "response.completed" | "response.incomplete" | "response.failed"
                );
                let usage = data
                    .pointer("/response/usage")
                    .filter(|usage| usage.is_object());
                if let (true, Some(usage)) = (final_event, usage) {
                    apply_responses_usage(usage, &mut self.usage);
                    self.found = true;
                }
            }
        }
    }
}

fn field(usage: &Value, pointer: &str) -> Option<u64> {
    usage.pointer(pointer).and_then(Value::as_u64)
}

/// Applies the fields present in an Anthropic `usage` object. A
/// `message_delta` may carry only `output_tokens`, so absent input fields
/// keep the values from `message_start`.
fn apply_anthropic_usage(usage: &Value, tokens: &mut TokenUsage) {
    let uncached = field(usage, "/input_tokens");
    let cache_read = field(usage, "/cache_read_input_tokens");
    let cache_creation = field(usage, "/cache_creation_input_tokens");
    if uncached.is_some() || cache_read.is_some() || cache_creation.is_some() {
        // NOTE: cache writes count as plain input here, but Anthropic bills
        // them above the input price.
        let cache_read = cache_read.unwrap_or(0);
        tokens.input = uncached.unwrap_or(0) + cache_read + cache_creation.unwrap_or(0);
        tokens.cached = cache_read;
    }
    if let Some(output) = field(usage, "/output_tokens") {
        tokens.output = output;
    }
}

fn apply_chat_usage(usage: &Value, tokens: &mut TokenUsage) {
    tokens.input = field(usage, "/prompt_tokens").unwrap_or(0);
    tokens.cached = field(usage, "/prompt_tokens_details/cached_tokens").unwrap_or(0);
    tokens.output = field(usage, "/completion_tokens").unwrap_or(0);
}

fn apply_responses_usage(usage: &Value, tokens: &mut TokenUsage) {
    tokens.input = field(usage, "/input_tokens").unwrap_or(0);
    tokens.cached = field(usage, "/input_tokens_details/cached_tokens").unwrap_or(0);
    tokens.output = field(usage, "/output_tokens").unwrap_or(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_stream_combines_events() {
        let mut tracker = StreamUsageTracker::new(Protocol::AnthropicMessages);
        tracker.observe(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":7,\"cache_read_input_tokens\":3,\"cache_creation_input_tokens\":2,\"output_tokens\":1}}}\n\n");
        tracker.observe(b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n");
        let usage = tracker.finish().unwrap();
        assert_eq!(
            usage,
            TokenUsage {
                input: 12,
                cached: 3,
                output: 42
            }
        );
    }

    #[test]
    fn chat_stream_reads_usage_chunk() {
        let mut tracker = StreamUsageTracker::new(Protocol::OpenAiChatCompletions);
        tracker
            .observe(b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n");
        tracker.observe(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"prompt_tokens_details\":{\"cached_tokens\":5}}}\n\ndata: [DONE]\n\n");
        assert_eq!(
            tracker.finish(),
            Some(TokenUsage {
                input: 9,
                cached: 5,
                output: 4
            })
        );
    }

    #[test]
    fn stream_without_usage_gives_none() {
        let mut tracker = StreamUsageTracker::new(Protocol::OpenAiChatCompletions);
        tracker
            .observe(b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n");
        assert_eq!(tracker.finish(), None);
    }

    #[test]
    fn responses_body_usage() {
        let body = br#"{"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":6}}"#;
        let usage = usage_from_body(Protocol::OpenAiResponses, body);
        assert_eq!(
            usage,
            Some(TokenUsage {
                input: 10,
                cached: 4,
                output: 6
            })
        );
    }
}
