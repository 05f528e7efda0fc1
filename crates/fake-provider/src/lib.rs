//! A local stand-in for LLM providers, for tests.
//!
//! It speaks three wire protocols on 127.0.0.1: OpenAI Chat Completions,
//! OpenAI Responses and Anthropic Messages, each non-streaming and as SSE,
//! plus `GET /v1/models`. Every route is served both with and without the
//! `/v1` prefix, so one server can stand in for any provider base URL.
//!
//! Answers and token counts are deterministic: the answer is
//! [`FakeProviderConfig::answer_prefix`] followed by the last user message,
//! input tokens are the whitespace-separated words of the whole prompt, and
//! output tokens are the words of the answer. Every request is recorded with
//! its headers and body so tests can assert on what arrived.

// Handlers return early with a ready `Response` as the error value; its size
// does not matter in a test server.
#![allow(clippy::result_large_err)]

mod anthropic;
mod auth;
mod config;
mod models;
mod openai_chat;
mod openai_responses;
mod prompt;
mod recording;
mod server;
mod sse;

pub use config::{Echo, FakeProviderConfig};
pub use recording::RecordedRequest;
pub use server::{FakeProvider, FakeProviderError, FakeProviderHandle};
