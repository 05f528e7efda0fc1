//! Finding token usage in provider responses and turning it into usage records.

mod meter;
mod sse;
mod stream;
mod usage_parser;

pub(crate) use meter::{Meter, MeterContext};
pub(crate) use stream::MeteredStream;
pub(crate) use usage_parser::{usage_from_body, StreamUsageTracker};

/// Token counts of one response, normalized across providers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// All prompt tokens, the cached ones included.
    pub input: u64,
    /// The part of `input` read from the prompt cache.
    pub cached: u64,
    pub output: u64,
}

/// The wire protocol of a metered endpoint, which fixes where usage appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    AnthropicMessages,
    OpenAiChatCompletions,
    OpenAiResponses,
}
