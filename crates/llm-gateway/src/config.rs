use std::collections::HashMap;
use std::time::Duration;

use url::Url;

use crate::pricing::PriceTable;

/// Providers with their own route prefix. Any other upstream name is an
/// OpenAI-compatible provider served under `/compat/{name}`.
pub const BUILTIN_PROVIDERS: [&str; 3] = ["anthropic", "openai", "openrouter"];

/// Settings of the gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Upstream base URL per provider name, without the `/v1` segment (a
    /// trailing `/v1` is accepted and not doubled). The names are also the
    /// keys of [`crate::AgentCredentials::provider_keys`].
    pub upstreams: HashMap<String, Url>,
    /// Prices used to compute `cost_usd`.
    pub price_table: PriceTable,
    /// Time allowed for the upstream to send its response headers and, for a
    /// response that is not SSE, its whole body. Exceeding it gives 504.
    pub request_timeout: Duration,
    /// Time allowed between two chunks of a streamed response. Exceeding it
    /// ends the stream, because the status line has already been sent.
    pub stream_idle_timeout: Duration,
    /// Time allowed to open the TCP (and TLS) connection to the upstream.
    pub connect_timeout: Duration,
    /// Maximum request body accepted from a runtime, in bytes.
    pub max_request_body_bytes: usize,
}

impl GatewayConfig {
    /// Returns the default upstream base URLs: the providers' public APIs.
    pub fn default_upstreams() -> HashMap<String, Url> {
        let defaults = [
            ("anthropic", "https://api.anthropic.com"),
            ("openai", "https://api.openai.com"),
            ("openrouter", "https://openrouter.ai/api"),
        ];
        defaults
            .into_iter()
            .map(|(name, url)| {
                let url = Url::parse(url).expect("built-in upstream URLs are valid");
                (name.to_owned(), url)
            })
            .collect()
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            upstreams: Self::default_upstreams(),
            price_table: PriceTable::builtin(),
            // Non-streamed responses of large models can take minutes.
            request_timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_request_body_bytes: 10 * 1024 * 1024,
        }
    }
}
