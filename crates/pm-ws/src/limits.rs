use std::time::Duration;

/// The limits of the real-time core. Defaults are sized for a small server; each is a setting.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted inbound frame; a larger one closes the connection with 1009.
    pub max_frame_bytes: usize,
    /// Sustained commands per second per connection.
    pub commands_per_second: u32,
    /// Commands a connection may send at once before the sustained rate applies.
    pub command_burst: u32,
    /// How often the server pings each connection.
    pub heartbeat_interval: Duration,
    /// A connection from which nothing arrived for this long is closed.
    pub idle_timeout: Duration,
    /// Frames queued for one connection before it is told to resync.
    pub outbound_queue: usize,
    /// A single write that does not complete within this time closes the connection: the client
    /// stopped reading.
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_tenant: usize,
    /// Change-log entries read per batch when replaying a resume.
    pub replay_batch: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 1024 * 1024,
            commands_per_second: 50,
            command_burst: 100,
            // Under the 60 s idle timeout of common proxies and load balancers, and rare enough
            // that 10,000 idle connections cost under 1% of a core.
            heartbeat_interval: Duration::from_secs(30),
            // Two missed heartbeats and a margin for a slow pong.
            idle_timeout: Duration::from_secs(75),
            outbound_queue: 1024,
            write_timeout: Duration::from_secs(10),
            // Leaves headroom under a 20,000 open-file limit for tenant databases and logs.
            max_connections: 15_000,
            max_connections_per_tenant: 5_000,
            replay_batch: 500,
        }
    }
}
