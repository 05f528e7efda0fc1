//! Text extraction and deterministic token counting shared by the protocols.

use serde_json::Value;

use crate::config::{Echo, FakeProviderConfig};

/// Token counts of one answer, as the fake provider reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenCounts {
    /// All prompt tokens, cached ones included.
    pub input: u64,
    /// The part of `input` reported as read from the prompt cache.
    pub cached: u64,
    pub output: u64,
}

impl TokenCounts {
    pub(crate) fn new(prompt: &str, answer: &str, config: &FakeProviderConfig) -> Self {
        let input = count_words(prompt);
        Self {
            input,
            cached: config.cached_tokens.min(input),
            output: count_words(answer),
        }
    }
}

/// Counts whitespace-separated words, the fake provider's unit of one token.
pub(crate) fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Builds the answer to a prompt whose last user message is `last_user_text`.
pub(crate) fn build_answer(config: &FakeProviderConfig, last_user_text: &str) -> String {
    let prefix = config.answer_prefix.trim();
    let message = last_user_text.trim();
    match (prefix.is_empty(), message.is_empty()) {
        (true, _) => message.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix} {message}"),
    }
}

/// Extracts the text of a message `content` field in any of the shapes the
/// protocols use: a string, an array of parts with a `text` field (`text`,
/// `input_text`, `output_text` parts), or a single such part. Other parts,
/// such as images or tool calls, contribute no text.
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(content_text)
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        Value::Object(part) => {
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                return text.to_owned();
            }
            // Tool results carry their text in `content` (Anthropic) or `output` (Responses).
            part.get("content")
                .or_else(|| part.get("output"))
                .map(content_text)
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// Returns the text of every message in a `messages` array, joined by spaces.
pub(crate) fn messages_text(messages: Option<&Value>) -> String {
    let Some(Value::Array(messages)) = messages else {
        return String::new();
    };
    messages
        .iter()
        .filter_map(|message| message.get("content"))
        .map(content_text)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Returns the text of the last message with role `user` in a `messages` array.
pub(crate) fn last_user_text(messages: Option<&Value>) -> String {
    user_text(messages, Echo::LastUserMessage)
}

/// Returns the text of the user message that `echo` selects.
pub(crate) fn user_text(messages: Option<&Value>, echo: Echo) -> String {
    let Some(Value::Array(messages)) = messages else {
        return String::new();
    };
    let is_user = |message: &&Value| message.get("role").and_then(Value::as_str) == Some("user");
    let chosen = match echo {
        Echo::LastUserMessage => messages.iter().rev().find(is_user),
        Echo::FirstUserMessage => messages.iter().find(is_user),
    };
    chosen.and_then(|message| message.get("content")).map(content_text).unwrap_or_default()
}

/// Returns the `model` field of a request body, or `"unknown"`.
pub(crate) fn requested_model(body: &Value) -> String {
    body.get("model")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned()
}

/// Splits an answer into stream pieces of one word each, keeping the spaces,
/// so that concatenating the pieces gives the answer back.
pub(crate) fn split_into_pieces(answer: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    for (index, word) in answer.split(' ').enumerate() {
        if index == 0 {
            pieces.push(word.to_owned());
        } else {
            pieces.push(format!(" {word}"));
        }
    }
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_text_reads_parts() {
        let content = json!([
            {"type": "text", "text": "hello"},
            {"type": "image_url", "image_url": {"url": "data:"}},
            {"type": "input_text", "text": "world"}
        ]);
        assert_eq!(content_text(&content), "hello world");
    }

    #[test]
    fn last_user_text_skips_assistant() {
        let messages = json!([
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "second question"},
            {"role": "assistant", "content": null}
        ]);
        assert_eq!(last_user_text(Some(&messages)), "second question");
        assert_eq!(user_text(Some(&messages), Echo::FirstUserMessage), "first question");
    }

    #[test]
    fn pieces_rebuild_answer() {
        let answer = "fake answer: two  spaces here";
        assert_eq!(split_into_pieces(answer).concat(), answer);
    }

    #[test]
    fn cached_tokens_capped_at_input() {
        let config = FakeProviderConfig {
            cached_tokens: 10,
            ..FakeProviderConfig::default()
        };
        let counts = TokenCounts::new("three word prompt", "two words", &config);
        assert_eq!(counts.input, 3);
        assert_eq!(counts.cached, 3);
        assert_eq!(counts.output, 2);
    }
}
