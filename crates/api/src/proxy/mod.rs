//! HTTP client side of the API: forwards chat requests to an agent's runtime
//! and reads runtime output from the in-sandbox guest.
//!
//! Only the runtime's own bearer token goes upstream. The caller's API key
//! and headers never leave the platform.

mod chat;
mod error;
mod guest_logs;
pub mod redact;
mod sse;

use std::time::Duration;

pub use error::ProxyError;
pub use guest_logs::{GuestLogItem, GuestLogStream};

/// Timeouts of requests to runtimes and guests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Time to open a TCP connection to a runtime or guest. A runtime that
    /// cannot be reached within it is reported as unavailable (502).
    pub connect_timeout: Duration,
    /// Whole non-streamed chat request, from connecting until the last byte
    /// of the response (504 when exceeded).
    pub chat_timeout: Duration,
    /// Maximum silence of a streamed chat response: before the headers
    /// and between two chunks. A stream that goes quiet for longer ends with
    /// an error event.
    pub stream_idle_timeout: Duration,
    /// Whole request for recent log lines from the guest.
    pub guest_timeout: Duration,
}

impl Default for ProxyConfig {
    fn default() -> ProxyConfig {
        ProxyConfig {
            connect_timeout: Duration::from_secs(10),
            chat_timeout: Duration::from_secs(300),
            stream_idle_timeout: Duration::from_secs(120),
            guest_timeout: Duration::from_secs(15),
        }
    }
}

/// The HTTP client for runtimes and guests, with its timeouts.
#[derive(Debug, Clone)]
pub struct RuntimeProxy {
    client: reqwest::Client,
    config: ProxyConfig,
}

impl RuntimeProxy {
    pub fn new(config: ProxyConfig) -> RuntimeProxy {
        // Runtimes and guests live on the host's own sandbox network, so a
        // system-wide HTTP proxy from the environment must not apply.
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            .build()
            .expect("an HTTP client without TLS settings builds");
        RuntimeProxy { client, config }
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }
}

impl Default for RuntimeProxy {
    fn default() -> RuntimeProxy {
        RuntimeProxy::new(ProxyConfig::default())
    }
}
