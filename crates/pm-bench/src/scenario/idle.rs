//! Idle cost: many authenticated connections, each subscribed to one of a hundred projects, doing
//! nothing. The cost is the server's resident memory growth per connection (`VmRSS`: user space;
//! the kernel's socket buffers are not in it) and the CPU it spends keeping them (heartbeats),
//! against the same number of subscribed connections on the baseline server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::baseline::BaseClient;
use crate::client::{self, PmClient};
use crate::report::ScenarioResult;
use crate::scenario::{CONNECT_CONCURRENCY, Env, finish_variant, settle};
use crate::system::{self, Sample, Usage};

pub const NAME: &str = "idle_cost";
const BASELINE: &str = "the same number of subscribed connections on the baseline server";

/// File descriptors this process keeps for itself besides the connections (runtime, logs, HTTP).
const FD_HEADROOM: u64 = 500;
const SETUP_LIMIT: Duration = Duration::from_secs(240);

pub async fn run(env: &mut Env) -> Vec<ScenarioResult> {
    let wanted = env.plan.idle_connections;
    let (n, note) = scale_to_fd_limit(wanted);
    if let Some(note) = &note {
        eprintln!("[pm-bench] {note}");
    }
    let variant = format!("{n} connections, {} projects", env.plan.idle_projects);
    let outcome = one(env, n, &variant).await.map(|mut r| {
        if let Some(note) = note {
            r.note(note);
        }
        r
    });
    let result = finish_variant(NAME, variant, BASELINE, outcome);
    env.stop_servers().await;
    vec![result]
}

/// The connection count this process can hold under its open-file limit (the servers are other
/// processes with limits of their own).
fn scale_to_fd_limit(wanted: usize) -> (usize, Option<String>) {
    let Some(limit) = system::open_file_limit() else {
        return (wanted, None);
    };
    let room = limit.saturating_sub(system::open_files() as u64 + FD_HEADROOM);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    if room >= wanted {
        (wanted, None)
    } else {
        (
            room,
            Some(format!(
                "open-file limit {limit}: idle connections scaled down from {wanted} to {room}"
            )),
        )
    }
}

/// Memory and CPU of one server holding the connections.
struct Held {
    /// The server while the connections came in and settled.
    usage: Usage,
    rss_per_conn_kib: f64,
    anon_per_conn_kib: f64,
    idle_cores: f64,
    setup_s: f64,
    rss_before_kb: u64,
    rss_after_kb: u64,
}

fn held(before: &Sample, after: &Sample, idle_end: &Sample, n: usize, setup_s: f64) -> Held {
    let n = n.max(1) as f64;
    Held {
        usage: Usage::between(before, after),
        rss_per_conn_kib: after.rss_kb.saturating_sub(before.rss_kb) as f64 / n,
        anon_per_conn_kib: after.rss_anon_kb.saturating_sub(before.rss_anon_kb) as f64 / n,
        idle_cores: idle_end.cpu_since(after) / idle_end.wall_since(after).max(f64::EPSILON),
        setup_s,
        rss_before_kb: before.rss_kb,
        rss_after_kb: after.rss_kb,
    }
}

async fn one(env: &mut Env, n: usize, variant: &str) -> anyhow::Result<ScenarioResult> {
    let mut result = ScenarioResult::new(NAME, variant, BASELINE);
    let projects = env.plan.idle_projects.max(1);

    let pm_held = {
        let pm = env.pm().await?;
        let pid = pm.pid.ok_or_else(|| {
            anyhow::anyhow!("idle cost needs the server's pid (--server-pid with --target)")
        })?;
        let token = env.token("idle").await?;
        let mut setup = PmClient::connect(&pm.ws_url, &token).await?;
        let mut project_ids = Vec::with_capacity(projects);
        for _ in 0..projects {
            project_ids.push(setup.create_project(&env.new_key("I")).await?.id);
        }
        drop(setup);
        settle(Some(pid), &mut result).await;
        let before = Sample::of(pid)?;
        let stop = CancellationToken::new();
        let ready = Arc::new(AtomicUsize::new(0));
        let retried = Arc::new(AtomicUsize::new(0));
        let connecting = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let retried = Arc::clone(&retried);
                let (url, token, project) = (
                    pm.ws_url.clone(),
                    token.clone(),
                    project_ids[i % projects].clone(),
                );
                let (stop, ready, connecting) =
                    (stop.clone(), Arc::clone(&ready), Arc::clone(&connecting));
                tokio::spawn(async move {
                    let mut client = {
                        let _permit = connecting.acquire().await?;
                        let mut client = PmClient::connect(&url, &token).await?;
                        let (_, retries) = client.subscribe(&project, None).await?;
                        retried.fetch_add(retries as usize, Ordering::AcqRel);
                        client
                    };
                    ready.fetch_add(1, Ordering::AcqRel);
                    hold(&mut client.ws, &stop).await
                })
            })
            .collect();
        let setup_s = wait_ready(&ready, n, &handles, &stop).await?;
        settle(Some(pid), &mut result).await;
        let after = Sample::of(pid)?;
        tokio::time::sleep(env.plan.idle_window).await;
        let idle_end = Sample::of(pid)?;
        stop.cancel();
        for h in handles {
            h.await??;
        }
        result.detail("subscribe_retries", retried.load(Ordering::Acquire) as f64);
        held(&before, &after, &idle_end, n, setup_s)
    };
    env.stop_servers().await;

    let base_held = {
        let base = env.baseline().await?;
        let pid = base
            .pid
            .ok_or_else(|| anyhow::anyhow!("baseline without pid"))?;
        settle(Some(pid), &mut result).await;
        let before = Sample::of(pid)?;
        let stop = CancellationToken::new();
        let ready = Arc::new(AtomicUsize::new(0));
        let connecting = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let url = base.ws_url.clone();
                let (stop, ready, connecting) =
                    (stop.clone(), Arc::clone(&ready), Arc::clone(&connecting));
                tokio::spawn(async move {
                    let mut client = {
                        let _permit = connecting.acquire().await?;
                        let mut client = BaseClient::connect(&url).await?;
                        client
                            .subscribe(u32::try_from(i % projects).unwrap_or(0))
                            .await?;
                        client
                    };
                    ready.fetch_add(1, Ordering::AcqRel);
                    hold(&mut client.ws, &stop).await
                })
            })
            .collect();
        let setup_s = wait_ready(&ready, n, &handles, &stop).await?;
        settle(Some(pid), &mut result).await;
        let after = Sample::of(pid)?;
        tokio::time::sleep(env.plan.idle_window).await;
        let idle_end = Sample::of(pid)?;
        stop.cancel();
        for h in handles {
            h.await??;
        }
        held(&before, &after, &idle_end, n, setup_s)
    };

    result.metric(
        "RSS per connection",
        "KiB",
        pm_held.rss_per_conn_kib,
        base_held.rss_per_conn_kib,
    );
    result.metric(
        "anonymous RSS per connection",
        "KiB",
        pm_held.anon_per_conn_kib,
        base_held.anon_per_conn_kib,
    );
    result.metric(
        "idle CPU",
        "% of a core",
        pm_held.idle_cores * 100.0,
        base_held.idle_cores * 100.0,
    );
    result.metric(
        "connect + subscribe all",
        "s",
        pm_held.setup_s,
        base_held.setup_s,
    );
    result.pm_server = Some(pm_held.usage);
    result.baseline_server = Some(base_held.usage);
    result.detail("connections", n as f64);
    result.detail("pm_rss_before_kib", pm_held.rss_before_kb as f64);
    result.detail("pm_rss_after_kib", pm_held.rss_after_kb as f64);
    result.detail("baseline_rss_before_kib", base_held.rss_before_kb as f64);
    result.detail("baseline_rss_after_kib", base_held.rss_after_kb as f64);
    result.note(
        format!(
            "idle CPU measured over {:?} once all are connected; pm pings every connection each heartbeat interval, the baseline does not",
            env.plan.idle_window
        ),
    );
    Ok(result)
}

/// Keeps a connection open, reading (and so answering pings) until `stop`.
async fn hold(ws: &mut client::Ws, stop: &CancellationToken) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            frame = client::next_binary(ws) => {
                if frame?.is_none() {
                    bail!("the server closed an idle connection");
                }
            }
        }
    }
}

/// Waits until `n` connections are ready; returns how long it took.
async fn wait_ready(
    ready: &AtomicUsize,
    n: usize,
    handles: &[JoinHandle<anyhow::Result<()>>],
    stop: &CancellationToken,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    while ready.load(Ordering::Acquire) < n {
        if handles.iter().any(JoinHandle::is_finished) || started.elapsed() > SETUP_LIMIT {
            stop.cancel();
            bail!(
                "only {} of {n} connections subscribed",
                ready.load(Ordering::Acquire)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(started.elapsed().as_secs_f64())
}
