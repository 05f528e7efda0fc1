//! Per-API-key rate limiting with a token bucket.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Token-bucket settings: `burst` requests at once, refilled at
/// `per_second` requests per second.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct RateLimitConfig {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig { per_second: 20.0, burst: 100 }
    }
}

/// The outcome of taking one token, with the values of the rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    /// `X-RateLimit-Limit`: the bucket's capacity.
    pub limit: u32,
    /// `X-RateLimit-Remaining`: whole tokens left after this request.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: seconds until the bucket is full again.
    pub reset_secs: u64,
    /// `Retry-After` when refused: seconds until one token is available.
    pub retry_after_secs: u64,
}

struct Bucket {
    tokens: f64,
    refreshed: Instant,
}

/// One bucket per key id.
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        RateLimiter { config, buckets: Mutex::new(HashMap::new()) }
    }

    pub fn check(&self, key_id: &str) -> Decision {
        self.check_at(key_id, Instant::now())
    }

    fn check_at(&self, key_id: &str, now: Instant) -> Decision {
        let capacity = f64::from(self.config.burst.max(1));
        let rate = self.config.per_second.max(f64::MIN_POSITIVE);

        let mut buckets = self.buckets.lock().expect("rate limiter lock poisoned");
        let bucket = buckets
            .entry(key_id.to_string())
            .or_insert(Bucket { tokens: capacity, refreshed: now });
        let elapsed = now.saturating_duration_since(bucket.refreshed).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.refreshed = now;

        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let missing_for_one = (1.0 - bucket.tokens).max(0.0);
        Decision {
            allowed,
            limit: capacity as u32,
            remaining: bucket.tokens.floor() as u32,
            reset_secs: ((capacity - bucket.tokens) / rate).ceil() as u64,
            retry_after_secs: (missing_for_one / rate).ceil().max(1.0) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refuse_then_refill() {
        let limiter = RateLimiter::new(RateLimitConfig { per_second: 2.0, burst: 3 });
        let start = Instant::now();
        for remaining in [2, 1, 0] {
            let decision = limiter.check_at("k", start);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, remaining);
        }
        let refused = limiter.check_at("k", start);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        assert_eq!(refused.reset_secs, 2);

        assert!(limiter.check_at("k", start + Duration::from_millis(500)).allowed);
        assert!(!limiter.check_at("k", start + Duration::from_millis(500)).allowed);
    }

    #[test]
    fn keys_have_separate_buckets() {
        let limiter = RateLimiter::new(RateLimitConfig { per_second: 1.0, burst: 1 });
        let now = Instant::now();
        assert!(limiter.check_at("a", now).allowed);
        assert!(limiter.check_at("b", now).allowed);
        assert!(!limiter.check_at("a", now).allowed);
    }
}
