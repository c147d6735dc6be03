//! The per-connection command rate limit: a token bucket.

use std::time::{Duration, Instant};

/// Allows `burst` commands at once and `per_second` commands per second sustained. Time is passed
/// in, so the arithmetic is tested without a clock.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(per_second: u32, burst: u32, now: Instant) -> Self {
        let capacity = f64::from(burst.max(1));
        Self {
            capacity,
            per_second: f64::from(per_second.max(1)),
            tokens: capacity,
            last: now,
        }
    }

    /// Takes one token if there is one. Otherwise returns how long until there will be.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_allows_exactly_the_burst_at_once() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5, t0);
        for _ in 0..5 {
            assert!(b.try_take(t0).is_ok());
        }
        assert!(b.try_take(t0).is_err());
    }

    #[test]
    fn the_sustained_rate_refills_one_token_per_interval() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 1, t0);
        assert!(b.try_take(t0).is_ok());
        let wait = b.try_take(t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // Over ten simulated seconds at 10/s exactly 100 commands get through.
        let mut allowed = 0;
        for ms in 1..=10_000 {
            if b.try_take(t0 + Duration::from_millis(ms)).is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 100);
    }

    #[test]
    fn an_idle_bucket_refills_only_up_to_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100, 3, t0);
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(b.try_take(later).is_ok());
        }
        assert!(b.try_take(later).is_err());
    }
}
