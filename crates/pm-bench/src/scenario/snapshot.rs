//! Initial load: connections fetching the snapshot of one project (`get_snapshot`: the project, its
//! items, sprints, members and the head sequence number) in closed loops, against the same number
//! of connections echoing frames of the snapshot's request and reply sizes through the baseline
//! server. The ratio of server CPU per snapshot is what building the snapshot costs on top of
//! moving its bytes.

use std::time::Instant;

use pm_proto::pb;

use crate::client::PmClient;
use crate::report::ScenarioResult;
use crate::scenario::round_trip::{LoopStats, echo_baseline};
use crate::scenario::{CONNECT_CONCURRENCY, Env, Window, finish_variant, run_limited, settle};

pub const NAME: &str = "snapshot";
const BASELINE: &str =
    "WebSocket echo on the same stack, request and reply of the snapshot's sizes";

pub async fn run(env: &mut Env) -> Vec<ScenarioResult> {
    let items = env.plan.snapshot_items;
    let conns = env.plan.snapshot_connections;
    let variant = format!("{items} items, {conns} connections");
    let outcome = one(env, items, conns, &variant).await;
    let results = vec![finish_variant(NAME, variant, BASELINE, outcome)];
    env.stop_servers().await;
    results
}

async fn one(
    env: &mut Env,
    items: usize,
    conns: usize,
    variant: &str,
) -> anyhow::Result<ScenarioResult> {
    let mut result = ScenarioResult::new(NAME, variant, BASELINE);
    let duration = env.plan.duration;

    let pm = env.pm().await?;
    let token = env.token(&format!("snap{items}")).await?;
    let mut setup = PmClient::connect(&pm.ws_url, &token).await?;
    let project = setup.create_project(&env.new_key("S")).await?;
    for i in 0..items {
        let body = format!("Acceptance criteria for item {i}: it loads with the board.");
        setup
            .create_item(&project.id, &format!("Snapshot item {i}"), &body)
            .await?;
    }
    let clients = {
        let (url, token) = (pm.ws_url.clone(), token.clone());
        run_limited(conns, CONNECT_CONCURRENCY, move |_| {
            let (url, token) = (url.clone(), token.clone());
            async move { PmClient::connect(&url, &token).await }
        })
        .await?
    };
    // Every client checks once that the snapshot holds every item, outside the window.
    let mut checked = Vec::with_capacity(clients.len());
    for mut client in clients {
        let got = client.call(snapshot_request(&project.id)).await?;
        let n = got.response.work_items.len();
        anyhow::ensure!(n == items, "the snapshot held {n} of {items} items");
        checked.push(client);
    }
    settle(pm.pid, &mut result).await;
    let window = Window::start(pm.pid)?;
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = checked
        .into_iter()
        .map(|client| tokio::spawn(pm_loop(client, project.id.clone(), deadline)))
        .collect();
    let mut pm_stats = LoopStats::default();
    for task in tasks {
        pm_stats.merge(&task.await??);
    }
    let (server, generator) = window.finish()?;
    drop(setup);
    env.stop_servers().await;

    let (base_stats, base_server) = echo_baseline(env, conns, &pm_stats, &mut result).await?;

    let pm_wall = server.map_or(duration.as_secs_f64(), |u| u.wall_s);
    let base_wall = base_server.map_or(duration.as_secs_f64(), |u| u.wall_s);
    result.metric(
        "snapshots/s",
        "1/s",
        pm_stats.ops as f64 / pm_wall,
        base_stats.ops as f64 / base_wall,
    );
    if let (Some(pm_u), Some(base_u)) = (server, base_server) {
        result.metric(
            "server CPU per snapshot",
            "µs",
            pm_u.cpu_s * 1e6 / pm_stats.ops.max(1) as f64,
            base_u.cpu_s * 1e6 / base_stats.ops.max(1) as f64,
        );
    }
    for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
        result.metric(
            name,
            "ms",
            pm_stats.latencies.quantile_ms(q),
            base_stats.latencies.quantile_ms(q),
        );
    }
    result.detail("items", items as f64);
    result.detail("request_bytes", pm_stats.mean_request_len() as f64);
    result.detail("reply_bytes", pm_stats.mean_reply_len() as f64);
    result.pm_server = server;
    result.baseline_server = base_server;
    result.generator = Some(generator);
    result.note_saturation();
    Ok(result)
}

fn snapshot_request(project_id: &str) -> pb::GetSnapshot {
    pb::GetSnapshot {
        project_id: project_id.to_owned(),
    }
}

async fn pm_loop(
    mut client: PmClient,
    project_id: String,
    deadline: Instant,
) -> anyhow::Result<LoopStats> {
    let mut stats = LoopStats::default();
    while Instant::now() < deadline {
        let started = Instant::now();
        let got = client.call(snapshot_request(&project_id)).await?;
        stats.latencies.record(started.elapsed());
        stats.ops += 1;
        stats.request_bytes += got.request_bytes as u64;
        stats.reply_bytes += got.reply_bytes as u64;
    }
    Ok(stats)
}
