//! Counters of the real-time core. Plain atomics, cheap enough for every frame; exported by the
//! server's `/metrics` endpoint.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

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
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
