//! Write throughput: many connections renaming work items in closed loops, all in one tenant (one
//! writer: commits are serialised) and spread over many tenants (one writer each), against the
//! raw SQLite loop on one database and on as many databases as tenants.

use std::time::Instant;

use crate::client::PmClient;
use crate::latency::Latencies;
use crate::report::ScenarioResult;
use crate::scenario::round_trip::ROW_BYTES;
use crate::scenario::{
    CONNECT_CONCURRENCY, Env, Window, finish_variant, run_limited, scrape, settle, skipped,
};

pub const NAME: &str = "write_throughput";
const BASELINE: &str = "raw SQLite insert+select transactions, pm's pragmas, same disk";
/// pm's histogram of commands per write transaction (group commit): its sum and count.
const BATCH_SERIES: [&str; 2] = [
    "pm_write_batch_commands_sum",
    "pm_write_batch_commands_count",
];

pub async fn run(env: &mut Env) -> Vec<ScenarioResult> {
    let mut results = Vec::new();
    let conns = env.plan.write_connections;
    let variant = format!("1 tenant, {conns} connections");
    let outcome = one(env, 1, conns, &variant).await;
    results.push(finish_variant(NAME, variant, BASELINE, outcome));
    env.stop_servers().await;

    let tenants = env.plan.write_tenants;
    let variant = format!("{tenants} tenants, 1 connection each");
    if env.multi_tenant() {
        let outcome = one(env, tenants, tenants, &variant).await;
        results.push(finish_variant(NAME, variant, BASELINE, outcome));
    } else {
        results.push(skipped(
            NAME,
            variant,
            BASELINE,
            "needs a token per tenant (--target gives one)",
        ));
    }
    env.stop_servers().await;
    results
}

struct Writer {
    client: PmClient,
    item_id: String,
    version: i64,
}

/// `conns` connections spread round-robin over `tenants` tenants.
async fn one(
    env: &mut Env,
    tenants: usize,
    conns: usize,
    variant: &str,
) -> anyhow::Result<ScenarioResult> {
    let mut result = ScenarioResult::new(NAME, variant, BASELINE);
    let duration = env.plan.duration;
    let pm = env.pm().await?;
    let mut tokens = Vec::with_capacity(tenants);
    for t in 0..tenants {
        tokens.push(env.token(&format!("write{tenants}-{t}")).await?);
    }
    // One project per tenant, made by its first connection.
    let mut projects = Vec::with_capacity(tenants);
    for token in &tokens {
        let mut setup = PmClient::connect(&pm.ws_url, token).await?;
        projects.push(setup.create_project(&env.new_key("W")).await?.id);
    }
    let writers = {
        let (url, tokens, projects) = (pm.ws_url.clone(), tokens.clone(), projects.clone());
        run_limited(conns, CONNECT_CONCURRENCY, move |i| {
            let url = url.clone();
            let token = tokens[i % tokens.len()].clone();
            let project = projects[i % projects.len()].clone();
            async move {
                let mut client = PmClient::connect(&url, &token).await?;
                let created = client
                    .create_item(&project, &format!("Writer {i}"), "")
                    .await?;
                let item = created
                    .response
                    .work_item
                    .ok_or_else(|| anyhow::anyhow!("no item in the reply"))?;
                Ok(Writer {
                    client,
                    item_id: item.id,
                    version: item.version,
                })
            }
        })
        .await?
    };
    settle(pm.pid, &mut result).await;
    let batches_before = scrape(&pm.http_base, &BATCH_SERIES).await;
    let window = Window::start(pm.pid)?;
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = writers
        .into_iter()
        .map(|w| tokio::spawn(write_loop(w, deadline)))
        .collect();
    let mut ops = 0u64;
    let mut latencies = Latencies::new();
    for task in tasks {
        let (n, l) = task.await??;
        ops += n;
        latencies.merge(&l);
    }
    let (server, generator) = window.finish()?;
    let batches_after = scrape(&pm.http_base, &BATCH_SERIES).await;
    env.stop_servers().await;

    let sqlite = env
        .launcher
        .sqlite_baseline(
            &env.baseline_dir.join(format!("write-{tenants}")),
            tenants,
            duration,
            ROW_BYTES,
        )
        .await?;
    let wall = server.map_or(duration.as_secs_f64(), |u| u.wall_s);
    result.metric("writes/s", "1/s", ops as f64 / wall, sqlite.ops_per_sec);
    result.metric("p50", "ms", latencies.quantile_ms(0.5), sqlite.p50_ms);
    result.metric("p99", "ms", latencies.quantile_ms(0.99), sqlite.p99_ms);
    if let Some(u) = server {
        result.metric(
            "server CPU per write",
            "µs",
            u.cpu_s * 1e6 / ops.max(1) as f64,
            sqlite.cpu_s * 1e6 / sqlite.ops.max(1) as f64,
        );
    }
    result.detail("pm_writes", ops as f64);
    if let (Some(before), Some(after)) = (batches_before, batches_after) {
        let delta = |name: &str| {
            after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
        };
        let (commands, commits) = (delta(BATCH_SERIES[0]), delta(BATCH_SERIES[1]));
        if commits > 0.0 {
            result.detail("write_commits", commits);
            result.detail("mean_batch_commands", commands / commits);
        }
    }
    result.detail("sqlite_transactions", sqlite.ops as f64);
    result.pm_server = server;
    result.baseline_server = Some(crate::system::Usage {
        cpu_s: sqlite.cpu_s,
        wall_s: sqlite.wall_s,
        cores: sqlite.cpu_s / sqlite.wall_s.max(f64::EPSILON),
        rss_kb: sqlite.rss_kb,
    });
    result.generator = Some(generator);
    result.note("pm latency includes waiting for the tenant's single writer; the baseline loops one transaction at a time per database");
    result.note_saturation();
    Ok(result)
}

async fn write_loop(mut w: Writer, deadline: Instant) -> anyhow::Result<(u64, Latencies)> {
    let mut latencies = Latencies::new();
    let mut ops = 0u64;
    while Instant::now() < deadline {
        let started = Instant::now();
        let (_, version) = w
            .client
            .rename_item(&w.item_id, w.version, format!("Write {ops}"))
            .await?;
        latencies.record(started.elapsed());
        w.version = version;
        ops += 1;
    }
    Ok((ops, latencies))
}
