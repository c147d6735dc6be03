//! Command round trip: connections each creating and renaming work items in a closed loop (send,
//! wait for the reply, send the next), against the same number of connections echoing frames of
//! the same sizes through the baseline server.

use std::time::{Duration, Instant};

use crate::baseline::BaseClient;
use crate::baseline::sqlite::SqliteResult;
use crate::client::PmClient;
use crate::latency::Latencies;
use crate::report::ScenarioResult;
use crate::scenario::{
    CONNECT_CONCURRENCY, Env, Usage, Window, finish_variant, run_limited, settle,
};

pub const NAME: &str = "round_trip";
const BASELINE: &str = "WebSocket echo on the same stack, request and reply of pm's sizes";

/// Size of the row the raw-insert reference writes: about a work item's.
pub const ROW_BYTES: usize = 400;

/// What one closed loop did.
#[derive(Default)]
pub struct LoopStats {
    pub ops: u64,
    pub latencies: Latencies,
    pub request_bytes: u64,
    pub reply_bytes: u64,
}

impl LoopStats {
    pub fn merge(&mut self, other: &LoopStats) {
        self.ops += other.ops;
        self.latencies.merge(&other.latencies);
        self.request_bytes += other.request_bytes;
        self.reply_bytes += other.reply_bytes;
    }

    /// The average request frame, in bytes.
    pub fn mean_request_len(&self) -> usize {
        usize::try_from(self.request_bytes / self.ops.max(1)).unwrap_or(0)
    }

    /// The average reply frame, in bytes.
    pub fn mean_reply_len(&self) -> usize {
        usize::try_from(self.reply_bytes / self.ops.max(1)).unwrap_or(0)
    }
}

pub async fn run(env: &mut Env) -> Vec<ScenarioResult> {
    // The targets compare with "echo + one raw SQLite insert" and with a raw transaction's CPU:
    // measure the raw transaction loop once.
    let insert = env
        .launcher
        .sqlite_baseline(
            &env.baseline_dir.join("round-trip"),
            1,
            env.plan.duration.min(Duration::from_secs(2)),
            ROW_BYTES,
        )
        .await;
    let mut results = Vec::new();
    for conns in env.plan.round_trip_connections.clone() {
        let variant = format!(
            "{conns} {}",
            if conns == 1 {
                "connection"
            } else {
                "connections"
            }
        );
        let outcome = match &insert {
            Ok(raw) => one(env, conns, raw, &variant).await,
            Err(e) => Err(anyhow::anyhow!("raw SQLite insert reference failed: {e:#}")),
        };
        results.push(finish_variant(NAME, variant, BASELINE, outcome));
        env.stop_servers().await;
    }
    results
}

async fn one(
    env: &mut Env,
    conns: usize,
    insert: &SqliteResult,
    variant: &str,
) -> anyhow::Result<ScenarioResult> {
    let mut result = ScenarioResult::new(NAME, variant, BASELINE);
    let duration = env.plan.duration;

    let pm = env.pm().await?;
    let token = env.token(&format!("rt{conns}")).await?;
    let mut setup = PmClient::connect(&pm.ws_url, &token).await?;
    let project = setup.create_project(&env.new_key("R")).await?;
    let clients = {
        let (url, token) = (pm.ws_url.clone(), token.clone());
        run_limited(conns, CONNECT_CONCURRENCY, move |_| {
            let (url, token) = (url.clone(), token.clone());
            async move { PmClient::connect(&url, &token).await }
        })
        .await?
    };
    settle(pm.pid, &mut result).await;
    let window = Window::start(pm.pid)?;
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(pm_loop(client, project.id.clone(), deadline)))
        .collect();
    let mut pm_stats = LoopStats::default();
    for task in tasks {
        pm_stats.merge(&task.await??);
    }
    let (server, generator) = window.finish()?;
    drop(setup);

    let (base_stats, base_server) = echo_baseline(env, conns, &pm_stats, &mut result).await?;

    let pm_wall = server.map_or(duration.as_secs_f64(), |u| u.wall_s);
    let base_wall = base_server.map_or(duration.as_secs_f64(), |u| u.wall_s);
    result.metric(
        "commands/s",
        "1/s",
        pm_stats.ops as f64 / pm_wall,
        base_stats.ops as f64 / base_wall,
    );
    for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
        result.metric(
            name,
            "ms",
            pm_stats.latencies.quantile_ms(q),
            base_stats.latencies.quantile_ms(q),
        );
    }
    result.metric(
        "max",
        "ms",
        pm_stats.latencies.max_ms(),
        base_stats.latencies.max_ms(),
    );
    if let (Some(pm_u), Some(base_u)) = (server, base_server) {
        result.metric(
            "server CPU per command",
            "µs",
            pm_u.cpu_s * 1e6 / pm_stats.ops.max(1) as f64,
            base_u.cpu_s * 1e6 / base_stats.ops.max(1) as f64,
        );
    }
    result.detail("sqlite_insert_p50_ms", insert.p50_ms);
    result.detail("sqlite_insert_p99_ms", insert.p99_ms);
    result.detail(
        "sqlite_cpu_per_tx_us",
        insert.cpu_s * 1e6 / insert.ops.max(1) as f64,
    );
    result.detail("request_bytes", pm_stats.mean_request_len() as f64);
    result.detail("reply_bytes", pm_stats.mean_reply_len() as f64);
    result.pm_server = server;
    result.baseline_server = base_server;
    result.generator = Some(generator);
    result.note_saturation();
    Ok(result)
}

/// Creates an item, renames it, creates the next, … until `deadline`.
async fn pm_loop(
    mut client: PmClient,
    project_id: String,
    deadline: Instant,
) -> anyhow::Result<LoopStats> {
    let mut stats = LoopStats::default();
    let mut n = 0u64;
    while Instant::now() < deadline {
        let started = Instant::now();
        let created = client
            .create_item(&project_id, &format!("Round trip {n}"), "")
            .await?;
        stats.latencies.record(started.elapsed());
        stats.ops += 1;
        stats.request_bytes += created.request_bytes as u64;
        stats.reply_bytes += created.reply_bytes as u64;
        let Some(item) = created.response.work_item else {
            anyhow::bail!("create_work_item replied without the item");
        };
        if Instant::now() >= deadline {
            break;
        }
        let started = Instant::now();
        let (renamed, _) = client
            .rename_item(&item.id, item.version, format!("Round trip {n} renamed"))
            .await?;
        stats.latencies.record(started.elapsed());
        stats.ops += 1;
        stats.request_bytes += renamed.request_bytes as u64;
        stats.reply_bytes += renamed.reply_bytes as u64;
        n += 1;
    }
    Ok(stats)
}

/// The echo baseline of a closed-loop scenario: `conns` baseline connections echoing frames of
/// the average sizes `pm` sent and received, for the plan's window. Returns their statistics and
/// the baseline server's CPU over the window.
pub async fn echo_baseline(
    env: &mut Env,
    conns: usize,
    pm: &LoopStats,
    result: &mut ScenarioResult,
) -> anyhow::Result<(LoopStats, Option<Usage>)> {
    let (request_len, reply_len) = (pm.mean_request_len(), pm.mean_reply_len());
    let base = env.baseline().await?;
    let clients = {
        let url = base.ws_url.clone();
        run_limited(conns, CONNECT_CONCURRENCY, move |_| {
            let url = url.clone();
            async move { BaseClient::connect(&url).await }
        })
        .await?
    };
    settle(base.pid, result).await;
    let window = Window::start(base.pid)?;
    let deadline = Instant::now() + env.plan.duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(echo_loop(client, request_len, reply_len, deadline)))
        .collect();
    let mut stats = LoopStats::default();
    for task in tasks {
        stats.merge(&task.await??);
    }
    let (server, _) = window.finish()?;
    Ok((stats, server))
}

/// Echoes a request of `request_len` bytes answered by `reply_len` bytes, again and again until
/// `deadline`: the baseline of every request/reply scenario.
pub async fn echo_loop(
    mut client: BaseClient,
    request_len: usize,
    reply_len: usize,
    deadline: Instant,
) -> anyhow::Result<LoopStats> {
    let mut stats = LoopStats::default();
    while Instant::now() < deadline {
        let started = Instant::now();
        client.echo(request_len, reply_len).await?;
        stats.latencies.record(started.elapsed());
        stats.ops += 1;
    }
    Ok(stats)
}
