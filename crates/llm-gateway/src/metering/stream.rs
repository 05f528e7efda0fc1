//! A response body that forwards upstream SSE chunks as they arrive and
//! meters them on the side.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use super::{Meter, StreamUsageTracker};

/// Streams upstream chunks unchanged. When the upstream ends, fails, stays
/// silent longer than the idle timeout, or the client goes away, the usage
/// seen so far is recorded once.
pub(crate) struct MeteredStream {
    upstream: BoxStream<'static, reqwest::Result<Bytes>>,
    tracker: StreamUsageTracker,
    /// `None` once the record has been sent.
    meter: Option<Meter>,
    status_code: u16,
    idle_timeout: Duration,
    idle_deadline: Pin<Box<Sleep>>,
    done: bool,
}

impl MeteredStream {
    pub(crate) fn new(
        upstream: BoxStream<'static, reqwest::Result<Bytes>>,
        tracker: StreamUsageTracker,
        meter: Meter,
        status_code: u16,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            upstream,
            tracker,
            meter: Some(meter),
            status_code,
            idle_timeout,
            idle_deadline: Box::pin(tokio::time::sleep(idle_timeout)),
            done: false,
        }
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(meter) = self.meter.take() {
            let usage = self.tracker.finish();
            meter.finish_in_background(usage, self.status_code, true);
        }
    }

    fn request_id(&self) -> &str {
        self.meter
            .as_ref()
            .map(|meter| meter.context.request_id.as_str())
            .unwrap_or_default()
    }
}

impl Stream for MeteredStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }

        match self.upstream.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.tracker.observe(&chunk);
                let deadline = Instant::now() + self.idle_timeout;
                self.idle_deadline.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(error))) => {
                tracing::warn!(request_id = %self.request_id(), %error, "upstream stream failed; ending the response");
                self.finish();
                Poll::Ready(Some(Err(std::io::Error::other(error))))
            }
            Poll::Ready(None) => {
                self.finish();
                Poll::Ready(None)
            }
            Poll::Pending => {
                if self.idle_deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let timeout_ms = self.idle_timeout.as_millis();
                tracing::warn!(request_id = %self.request_id(), timeout_ms, "upstream stream idle too long; ending the response");
                self.finish();
                let error = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "upstream stream idle timeout",
                );
                Poll::Ready(Some(Err(error)))
            }
        }
    }
}

impl Drop for MeteredStream {
    fn drop(&mut self) {
        if self.meter.is_some() {
            tracing::info!(request_id = %self.request_id(), "client closed the stream before it ended");
            self.finish();
        }
    }
}
