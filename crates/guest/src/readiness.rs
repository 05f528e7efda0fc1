//! The runtime's readiness check: an HTTP GET to the configured URL, cached
//! briefly so frequent status calls do not flood the runtime.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gopilot_guest_api::{ReadinessConfig, ReadinessExpect, RuntimeState};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::supervisor::SharedStatus;

/// How long a check result is reused.
const CACHE_TTL: Duration = Duration::from_millis(500);

/// How often the runtime is checked while it is `starting`, to move it to `running`.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// Largest response body read for a `json_field` check, in bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Result of one check. `Err` contains the reason the runtime is not ready.
pub type Verdict = Result<(), String>;

struct Cached {
    at: Instant,
    pid: u32,
    verdict: Verdict,
}

/// Readiness of the supervised runtime.
pub struct Readiness {
    config: Option<ReadinessConfig>,
    status: SharedStatus,
    /// Held during a check, so concurrent callers share one request.
    cache: Mutex<Option<Cached>>,
}

impl Readiness {
    pub fn new(config: Option<ReadinessConfig>, status: SharedStatus) -> Self {
        Self {
            config,
            status,
            cache: Mutex::new(None),
        }
    }

    /// Returns whether the runtime is ready, checking it when the cached result is stale.
    pub async fn check(&self) -> Verdict {
        let runtime = self.status.borrow().clone();
        let Some(pid) = runtime.pid.filter(|_| {
            matches!(
                runtime.state,
                RuntimeState::Starting | RuntimeState::Running
            )
        }) else {
            return Err(format!(
                "runtime is not running (state {})",
                state_name(runtime.state)
            ));
        };
        let Some(config) = &self.config else {
            return Ok(());
        };

        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref() {
            if cached.pid == pid && cached.at.elapsed() < CACHE_TTL {
                return cached.verdict.clone();
            }
        }

        let verdict = probe(config).await;
        if verdict.is_ok() {
            self.mark_running(pid);
        }
        *cache = Some(Cached {
            at: Instant::now(),
            pid,
            verdict: verdict.clone(),
        });
        verdict
    }

    /// Checks the runtime every [`WATCH_INTERVAL`] while it is `starting`, so
    /// `/v1/status` turns to `running` without anyone calling `/v1/ready`.
    pub async fn watch(&self) {
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            if self.status.borrow().state == RuntimeState::Starting {
                let _ = self.check().await;
            }
        }
    }

    fn mark_running(&self, pid: u32) {
        let changed = self.status.send_if_modified(|status| {
            let promote = status.state == RuntimeState::Starting && status.pid == Some(pid);
            if promote {
                status.state = RuntimeState::Running;
            }
            promote
        });
        if changed {
            tracing::info!(pid, "runtime passed its readiness check");
        }
    }
}

fn state_name(state: RuntimeState) -> &'static str {
    match state {
        RuntimeState::Starting => "starting",
        RuntimeState::Running => "running",
        RuntimeState::Backoff => "backoff",
        RuntimeState::Stopping => "stopping",
        RuntimeState::Exited => "exited",
    }
}

/// Sends one GET to the readiness URL and applies the expectation.
async fn probe(config: &ReadinessConfig) -> Verdict {
    let timeout = Duration::from_millis(config.timeout_ms);
    match tokio::time::timeout(timeout, request(config)).await {
        Ok(verdict) => verdict,
        Err(_) => Err(format!(
            "GET {} timed out after {} ms",
            config.url, config.timeout_ms
        )),
    }
}

async fn request(config: &ReadinessConfig) -> Verdict {
    let url = &config.url;
    let uri: Uri = url
        .parse()
        .map_err(|error| format!("readiness URL {url} is invalid: {error}"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| format!("readiness URL {url} has no host"))?;
    let address = format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(80)
    );

    let stream = TcpStream::connect(&address)
        .await
        .map_err(|error| format!("connecting to {address} failed: {error}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("HTTP handshake with {address} failed: {error}"))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "readiness connection closed with an error");
        }
    });

    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, authority.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|error| format!("building readiness request for {url} failed: {error}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| format!("GET {url} failed: {error}"))?;

    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url} returned {status}"));
    }

    let ReadinessExpect::JsonField { pointer, equals } = &config.expect else {
        return Ok(());
    };
    let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|error| format!("reading the body of {url} failed: {error}"))?
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|error| format!("body of {url} is not JSON: {error}"))?;

    match json.pointer(pointer) {
        Some(value) if value == equals => Ok(()),
        Some(value) => Err(format!(
            "{url} returned {pointer} = {value}, expected {equals}"
        )),
        None => Err(format!("{url} returned JSON without {pointer}")),
    }
}
