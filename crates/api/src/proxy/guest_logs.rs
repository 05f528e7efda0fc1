//! Reads runtime output from the guest's `GET /v1/logs`, as a list or as
//! its server-sent event stream.

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use gopilot_control::GuestEndpoint;
use gopilot_guest_api::LogLine;

use super::sse::SseDecoder;
use super::{ProxyError, RuntimeProxy};

const TARGET: &str = "guest";

/// One item of the guest's follow stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestLogItem {
    Line(LogLine),
    /// The guest dropped this many lines because this reader fell behind.
    Lagged(u64),
}

/// Live items from the guest, ending when the guest closes the stream.
pub type GuestLogStream = BoxStream<'static, Result<GuestLogItem, ProxyError>>;

impl RuntimeProxy {
    /// Returns at most `tail` recent lines, only those after `since` (RFC
    /// 3339) when given, oldest first.
    pub async fn fetch_guest_logs(
        &self,
        agent_id: &str,
        guest: &GuestEndpoint,
        tail: usize,
        since: Option<&str>,
    ) -> Result<Vec<LogLine>, ProxyError> {
        let timeout = self.config.guest_timeout;
        let transport = |err| ProxyError::from_transport(agent_id, TARGET, timeout, err);

        let mut query = vec![("tail", tail.to_string())];
        if let Some(since) = since {
            query.push(("since", since.to_string()));
        }
        let response = self
            .client
            .get(logs_url(guest))
            .bearer_auth(&guest.token)
            .query(&query)
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;

        if !status.is_success() {
            return Err(ProxyError::bad_status(agent_id, TARGET, status.as_u16(), &body));
        }
        serde_json::from_slice(&body).map_err(|err| ProxyError::InvalidAnswer {
            agent_id: agent_id.to_string(),
            target: TARGET,
            detail: format!("log lines are not a JSON array of {{ts, stream, line}}: {err}"),
        })
    }

    /// Opens the guest's follow stream without a backlog: it yields only
    /// lines the runtime writes from now on. The stream has no idle timeout,
    /// because a quiet runtime is normal and the guest sends keep-alives.
    pub async fn follow_guest_logs(&self, agent_id: &str, guest: &GuestEndpoint) -> Result<GuestLogStream, ProxyError> {
        let timeout = self.config.guest_timeout;
        let transport = |err| ProxyError::from_transport(agent_id, TARGET, timeout, err);

        let request = self
            .client
            .get(logs_url(guest))
            .bearer_auth(&guest.token)
            .query(&[("follow", "true"), ("tail", "0")])
            .send();
        let response = match tokio::time::timeout(timeout, request).await {
            Ok(result) => result.map_err(transport)?,
            Err(_elapsed) => return Err(ProxyError::Timeout { agent_id: agent_id.to_string(), target: TARGET, timeout }),
        };
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let body = tokio::time::timeout(timeout, response.bytes()).await.ok().and_then(Result::ok);
            return Err(ProxyError::bad_status(agent_id, TARGET, status, &body.unwrap_or_default()));
        }

        Ok(decode_follow_stream(agent_id.to_string(), response.bytes_stream().boxed()))
    }
}

fn logs_url(guest: &GuestEndpoint) -> String {
    format!("{}/v1/logs", guest.base_url.trim_end_matches('/'))
}

/// State of a decoded follow stream.
struct FollowState {
    agent_id: String,
    upstream: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    decoder: SseDecoder,
    ready: std::collections::VecDeque<Result<GuestLogItem, ProxyError>>,
}

fn decode_follow_stream(agent_id: String, upstream: BoxStream<'static, reqwest::Result<Bytes>>) -> GuestLogStream {
    let state = FollowState {
        agent_id,
        upstream: Some(upstream),
        decoder: SseDecoder::default(),
        ready: Default::default(),
    };

    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.ready.pop_front() {
                return Some((item, state));
            }
            let upstream = state.upstream.as_mut()?;
            match upstream.next().await {
                None => return None,
                Some(Err(err)) => {
                    // The guest's idle gaps are unbounded, so any timeout here
                    // is a connection failure rather than slowness.
                    let failure = ProxyError::Unavailable { agent_id: state.agent_id.clone(), target: TARGET, source: err };
                    state.upstream = None;
                    return Some((Err(failure), state));
                }
                Some(Ok(chunk)) => {
                    for event in state.decoder.push(&chunk) {
                        if let Some(item) = parse_event(&state.agent_id, &event.name, &event.data) {
                            state.ready.push_back(item);
                        }
                    }
                }
            }
        }
    })
    .boxed()
}

/// Parses a `log` or `lagged` event; other event names are ignored so a
/// newer guest can add events.
fn parse_event(agent_id: &str, name: &str, data: &str) -> Option<Result<GuestLogItem, ProxyError>> {
    let invalid = |detail: String| ProxyError::InvalidAnswer { agent_id: agent_id.to_string(), target: TARGET, detail };
    match name {
        "log" => Some(
            serde_json::from_str::<LogLine>(data)
                .map(GuestLogItem::Line)
                .map_err(|err| invalid(format!("log event is not a {{ts, stream, line}} object: {err}"))),
        ),
        "lagged" => Some(
            data.trim()
                .parse::<u64>()
                .map(GuestLogItem::Lagged)
                .map_err(|_| invalid(format!("lagged event has no line count: {data:?}"))),
        ),
        _ => None,
    }
}
