//! Metrics of the real-time core, as `prometheus-client` metrics: counters are shared atomics,
//! cheap enough for every frame. The server registers them (with its own) in the registry that
//! `/metrics` encodes.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds, in seconds, of the command latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Upper bounds of the write batch size histogram's buckets (commands per commit); the largest
/// batch is [`crate::group_commit::MAX_BATCH`].
pub const BATCH_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// The labels of `pm_commands_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct CommandLabels {
    pub command: &'static str,
    /// "ok" or the error code's name.
    pub outcome: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    pub connections_total: Counter,
    pub connections_refused: Counter,
    pub frames_in: Counter,
    pub frames_out: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub events_delivered: Counter,
    pub queue_overflows: Counter,
    pub resyncs_sent: Counter,
    pub rate_limited: Counter,
    /// Mutations waiting for their tenant's writer, over all tenants.
    pub writes_queued: Gauge,
    /// Mutations refused because their tenant's write queue was full.
    pub writes_refused: Counter,
    /// Commands per committed write transaction (group commit).
    pub write_batch: Histogram,
    commands: Family<CommandLabels, Counter>,
    latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            connections_total: Counter::default(),
            connections_refused: Counter::default(),
            frames_in: Counter::default(),
            frames_out: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            events_delivered: Counter::default(),
            queue_overflows: Counter::default(),
            resyncs_sent: Counter::default(),
            rate_limited: Counter::default(),
            writes_queued: Gauge::default(),
            writes_refused: Counter::default(),
            write_batch: Histogram::new(BATCH_BUCKETS),
            commands: Family::default(),
            latency: Histogram::new(LATENCY_BUCKETS),
        }
    }
}

impl Metrics {
    /// Records one executed command.
    pub fn command(&self, command: &'static str, outcome: &'static str, took: Duration) {
        self.commands
            .get_or_create(&CommandLabels { command, outcome })
            .inc();
        self.latency.observe(took.as_secs_f64());
    }

    /// Adds every metric to `registry` under its exported name (counters get `_total` there).
    pub fn register(&self, registry: &mut Registry) {
        let counters = [
            (
                "pm_connections",
                "WebSocket connections accepted",
                &self.connections_total,
            ),
            (
                "pm_connections_refused",
                "WebSocket connections refused for capacity",
                &self.connections_refused,
            ),
            ("pm_frames_in", "WebSocket frames received", &self.frames_in),
            ("pm_frames_out", "WebSocket frames sent", &self.frames_out),
            (
                "pm_bytes_in",
                "WebSocket payload bytes received",
                &self.bytes_in,
            ),
            (
                "pm_bytes_out",
                "WebSocket payload bytes sent",
                &self.bytes_out,
            ),
            (
                "pm_events_delivered",
                "Events queued for subscribers",
                &self.events_delivered,
            ),
            (
                "pm_queue_overflows",
                "Outbound queues found full (connection told to resync)",
                &self.queue_overflows,
            ),
            (
                "pm_resyncs",
                "ResyncRequired messages sent",
                &self.resyncs_sent,
            ),
            (
                "pm_rate_limited",
                "Commands refused by the rate limit",
                &self.rate_limited,
            ),
            (
                "pm_writes_refused",
                "Mutations refused UNAVAILABLE because their tenant's write queue was full",
                &self.writes_refused,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "pm_commands",
            "Commands executed, by command and outcome",
            self.commands.clone(),
        );
        registry.register(
            "pm_command_duration_seconds",
            "Time to execute a command",
            self.latency.clone(),
        );
        registry.register(
            "pm_writes_queued",
            "Mutations waiting for their tenant's writer",
            self.writes_queued.clone(),
        );
        registry.register(
            "pm_write_batch_commands",
            "Commands committed together in one write transaction",
            self.write_batch.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_counted_by_name_and_outcome_and_timed() {
        let m = Metrics::default();
        m.command("ping", "ok", Duration::from_micros(300));
        m.command("ping", "ok", Duration::from_millis(20));
        m.command("create_project", "conflict", Duration::from_secs(10));
        let mut registry = Registry::default();
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "pm_commands_total{command=\"ping\",outcome=\"ok\"} 2",
            "pm_commands_total{command=\"create_project\",outcome=\"conflict\"} 1",
            "pm_command_duration_seconds_count 3",
            "pm_command_duration_seconds_bucket{le=\"0.0005\"} 1",
            // 10 s is above every bound.
            "pm_command_duration_seconds_bucket{le=\"2.5\"} 2",
            "pm_command_duration_seconds_bucket{le=\"+Inf\"} 3",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
