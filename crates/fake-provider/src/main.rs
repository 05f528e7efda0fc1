//! `gopilot-fake-provider`: a local LLM provider stand-in for manual tests.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use gopilot_fake_provider::{FakeProvider, FakeProviderConfig};

/// Serves OpenAI Chat Completions, OpenAI Responses and Anthropic Messages
/// with deterministic answers on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "gopilot-fake-provider", version)]
struct Args {
    /// TCP port to listen on (127.0.0.1 only); 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// API key that requests must carry; without it any key is accepted.
    #[arg(long, env = "GOPILOT_FAKE_PROVIDER_API_KEY")]
    api_key: Option<String>,

    /// Text put before the last user message to form the answer.
    #[arg(long, default_value = "fake answer:")]
    answer_prefix: String,

    /// Input tokens reported as read from the prompt cache.
    #[arg(long, default_value_t = 0)]
    cached_tokens: u64,

    /// Pause between two events of a streamed answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,

    /// Pause before each response's headers, in milliseconds.
    #[arg(long, default_value_t = 0)]
    response_delay_ms: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();

    let config = FakeProviderConfig {
        expected_api_key: args.api_key,
        answer_prefix: args.answer_prefix,
        cached_tokens: args.cached_tokens,
        chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        response_delay: Duration::from_millis(args.response_delay_ms),
        ..FakeProviderConfig::default()
    };
    let handle =
        FakeProvider::start_on(config, SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    // The base URL goes to stdout so scripts can read the chosen port.
    println!("{}", handle.base_url);

    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping fake provider");
    handle.shutdown().await;
    Ok(())
}
