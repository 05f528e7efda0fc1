use std::time::Duration;

/// Behaviour of a [`crate::FakeProvider`].
/// The user message an answer repeats after the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Echo {
    #[default]
    LastUserMessage,
    /// The first user message: for clients that append their own context
    /// as a later user message (OpenClaw 2026.9.6 does), so the answer
    /// repeats the caller's prompt.
    FirstUserMessage,
}

#[derive(Debug, Clone)]
pub struct FakeProviderConfig {
    /// API key that requests must carry (`Authorization: Bearer` on OpenAI
    /// routes, `x-api-key` on Anthropic routes). `None` accepts any request.
    pub expected_api_key: Option<String>,
    /// Text put before the last user message to form the answer.
    pub answer_prefix: String,
    /// Which user message the answer echoes.
    pub echo: Echo,
    /// Input tokens reported as served from the prompt cache, capped at the
    /// prompt's own token count.
    pub cached_tokens: u64,
    /// Pause between two SSE events of a streamed answer.
    pub chunk_delay: Duration,
    /// Pause before the response headers are sent, to simulate a slow provider.
    pub response_delay: Duration,
    /// Model ids listed by `GET /v1/models`.
    pub model_ids: Vec<String>,
}

impl Default for FakeProviderConfig {
    fn default() -> Self {
        Self {
            expected_api_key: None,
            answer_prefix: "fake answer:".to_owned(),
            echo: Echo::LastUserMessage,
            cached_tokens: 0,
            chunk_delay: Duration::ZERO,
            response_delay: Duration::ZERO,
            model_ids: vec![
                "gpt-4o".to_owned(),
                "gpt-4.1".to_owned(),
                "claude-sonnet-4-6".to_owned(),
            ],
        }
    }
}
