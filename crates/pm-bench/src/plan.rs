//! How big and how long each scenario is: the full run's defaults (the sizes), the smoke
//! run's tiny ones, and the flags that override either.

use std::time::Duration;

use serde::Serialize;

/// The scenarios, by the names used in `--only`, the table and the JSON.
pub const SCENARIOS: [&str; 7] = [
    "round_trip",
    "fan_out",
    "write_throughput",
    "idle_cost",
    "rest_context",
    "reconnect_storm",
    "snapshot",
];

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Length of each measured window.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Connections of the command round trip, one variant each.
    pub round_trip_connections: Vec<usize>,
    /// Subscribers of one project, one fan-out variant each.
    pub fan_out_subscribers: Vec<usize>,
    /// The filtered variant: this many subscribers, each watching one of `fan_out_projects`.
    pub fan_out_spread_subscribers: usize,
    pub fan_out_projects: usize,
    /// The presence variant: this many subscribers of one project, each signed in as a different
    /// user, so every subscription changes the set of viewers.
    pub fan_out_user_subscribers: usize,
    /// Offered deliveries per second (the writer's rate is this divided by the subscribers per
    /// project), the same for pm and the baseline so their latencies compare at equal load.
    pub fan_out_deliveries_per_sec: u64,
    /// Connections writing to one tenant.
    pub write_connections: usize,
    /// Tenants written at once (one connection each).
    pub write_tenants: usize,
    /// Idle subscribed connections, spread over `idle_projects` projects.
    pub idle_connections: usize,
    pub idle_projects: usize,
    /// How long the server's CPU is watched once the idle connections are all in: what holding
    /// them costs (heartbeats).
    #[serde(serialize_with = "secs")]
    pub idle_window: Duration,
    /// Work items of the projects whose context is fetched, one variant each.
    pub rest_items: Vec<usize>,
    /// Concurrent HTTP clients in the REST scenario.
    pub rest_concurrency: usize,
    /// Work items of the project whose snapshot is fetched, and the connections fetching it.
    pub snapshot_items: usize,
    pub snapshot_connections: usize,
    /// Clients of the reconnect storm, spread over `storm_projects` projects.
    pub storm_clients: usize,
    pub storm_projects: usize,
    /// Changes made while the storm's clients are away, which they then resume.
    pub storm_changes: usize,
    /// How long the storm may take before the stragglers are reported as not caught up.
    #[serde(serialize_with = "secs")]
    pub storm_deadline: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Plan {
    /// The sizes, with windows short enough for the whole run to stay near ten minutes on
    /// two cores.
    pub fn full() -> Self {
        Self {
            duration: Duration::from_secs(5),
            round_trip_connections: vec![1, 10, 100],
            fan_out_subscribers: vec![100, 1_000, 5_000],
            fan_out_spread_subscribers: 1_000,
            fan_out_projects: 10,
            fan_out_user_subscribers: 5_000,
            fan_out_deliveries_per_sec: 50_000,
            write_connections: 32,
            write_tenants: 100,
            idle_connections: 10_000,
            idle_projects: 100,
            // Longer than pm's heartbeat interval (30 s), so every connection is pinged in it.
            idle_window: Duration::from_secs(31),
            rest_items: vec![200, 10_000],
            rest_concurrency: 8,
            snapshot_items: 200,
            snapshot_connections: 4,
            storm_clients: 5_000,
            storm_projects: 50,
            storm_changes: 200,
            storm_deadline: Duration::from_secs(60),
        }
    }

    /// A few connections and about a second per window: proves every scenario still runs end to
    /// end, measures nothing worth reading.
    pub fn smoke() -> Self {
        Self {
            duration: Duration::from_millis(700),
            round_trip_connections: vec![1, 3],
            fan_out_subscribers: vec![4],
            fan_out_spread_subscribers: 6,
            fan_out_projects: 2,
            fan_out_user_subscribers: 5,
            fan_out_deliveries_per_sec: 400,
            write_connections: 3,
            write_tenants: 3,
            // Enough that the memory growth is many pages, not allocator noise.
            idle_connections: 200,
            idle_projects: 2,
            idle_window: Duration::from_millis(500),
            rest_items: vec![5, 20],
            rest_concurrency: 2,
            snapshot_items: 20,
            snapshot_connections: 2,
            storm_clients: 12,
            storm_projects: 3,
            storm_changes: 6,
            storm_deadline: Duration::from_secs(20),
        }
    }
}
