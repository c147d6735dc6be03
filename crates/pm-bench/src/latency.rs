//! Latency recording: an HDR histogram of microseconds per task, merged at the end of a run, so
//! recording never takes a lock.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Highest latency recorded exactly: one minute (longer values are clamped to it).
const MAX_MICROS: u64 = 60_000_000;

#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    pub fn new() -> Self {
        // Three significant digits between 1 µs and a minute.
        Self(Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds"))
    }

    pub fn record(&mut self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(MAX_MICROS);
        self.0.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    pub fn merge(&mut self, other: &Latencies) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// The value at `quantile` (0.5, 0.99, …) in milliseconds; 0 when nothing was recorded.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.max() as f64 / 1000.0
    }
}
