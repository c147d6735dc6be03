//! Counters of the real-time core. Plain atomics (and one briefly held map for per-command
//! counts), cheap enough for every frame; rendered by the server's `/metrics` endpoint.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds, of the command latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_open: AtomicI64,
    pub connections_total: AtomicU64,
    pub connections_refused: AtomicU64,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub events_delivered: AtomicU64,
    pub queue_overflows: AtomicU64,
    pub resyncs_sent: AtomicU64,
    pub commands_ok: AtomicU64,
    pub commands_failed: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Commands by (name, outcome): "ok" or the error code's name.
    commands: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    latency: Histogram,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Cumulative counts are computed when rendering; each slot counts its own bucket, the last
    /// one everything above the largest bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Records one executed command.
    pub fn command(&self, name: &'static str, outcome: &'static str, took: Duration) {
        *self
            .commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((name, outcome))
            .or_default() += 1;
        let secs = took.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.latency.sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.latency.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Commands by (name, outcome).
    pub fn commands(&self) -> BTreeMap<(&'static str, &'static str), u64> {
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The latency histogram: cumulative counts per bucket bound, the sum in seconds, the count.
    pub fn latency(&self) -> (Vec<(f64, u64)>, f64, u64) {
        let mut cumulative = 0;
        let buckets = LATENCY_BUCKETS
            .iter()
            .zip(&self.latency.buckets)
            .map(|(bound, n)| {
                cumulative += n.load(Ordering::Relaxed);
                (*bound, cumulative)
            })
            .collect();
        let sum = self.latency.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        (buckets, sum, self.latency.count.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_cumulative_buckets() {
        let m = Metrics::default();
        m.command("ping", "ok", Duration::from_micros(300));
        m.command("ping", "ok", Duration::from_millis(20));
        m.command("create_project", "conflict", Duration::from_secs(10));
        let (buckets, sum, count) = m.latency();
        assert_eq!(count, 3);
        assert_eq!(buckets[0], (0.000_5, 1));
        assert_eq!(
            buckets.last().copied(),
            Some((2.5, 2)),
            "10 s is above every bound"
        );
        assert!((sum - 10.0203).abs() < 1e-6);
        assert_eq!(m.commands()[&("ping", "ok")], 2);
    }
}
