//! The LLM gateway: the only place where provider API keys are used.
//!
//! Agent runtimes call the gateway with a per-agent gateway token instead of a
//! provider key. For each request the gateway resolves the token to the
//! agent's credentials ([`TokenResolver`]), swaps in the real provider key,
//! forwards the request to the provider, streams the response back as it
//! arrives, and hands one [`UsageRecord`] with tokens and cost to a
//! [`UsageSink`].
//!
//! Routes, one base URL per provider:
//!
//! | route | upstream protocol |
//! |---|---|
//! | `/anthropic/v1/messages`, `GET /anthropic/v1/models` | Anthropic Messages |
//! | `/openai/v1/chat/completions`, `/openai/v1/responses`, `GET /openai/v1/models` | OpenAI |
//! | `/openrouter/v1/chat/completions`, `/openrouter/v1/responses`, `GET /openrouter/v1/models` | OpenRouter (OpenAI-compatible) |
//! | `/compat/{name}/v1/chat/completions`, `.../v1/responses`, `GET .../v1/models` | any OpenAI-compatible upstream configured under `name` |
//!
//! Every route accepts the gateway token in `Authorization: Bearer` or in
//! `x-api-key`. Errors use GoPilot's format `{"error":{"type","code","message"}}`.
//! The crate has no dependency on the API or store layers. The binary
//! implements the two traits and mounts [`Gateway::router`] on its listener.

mod auth;
mod config;
mod credentials;
mod endpoint;
mod error;
mod gateway;
mod headers;
mod metering;
mod outgoing;
mod pricing;
mod proxy;
mod request_id;
mod usage;

pub use config::{GatewayConfig, BUILTIN_PROVIDERS};
pub use credentials::{AgentCredentials, InMemoryTokenResolver, TokenResolver, TokenResolverError};
pub use error::{GatewayBuildError, GatewayError};
pub use gateway::Gateway;
pub use metering::TokenUsage;
pub use pricing::{ModelPrice, PriceTable, PriceTableError};
pub use usage::{InMemoryUsageSink, UsageRecord, UsageSink, UsageSinkError};
