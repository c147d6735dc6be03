//! Reconnect storm: clients subscribed across projects all lose their connection, changes happen
//! while they are away, then every one reconnects at the same moment and resumes with `since` (its
//! last applied sequence number). A client is caught up once its subscription is back and it has
//! received every change of its project it missed, in order. Measured: time from the storm's start
//! until the last client is caught up, and each client's catch-up time.
//!
//! The baseline: the same clients reconnect at once to the baseline server, subscribe, and get as
//! many replayed frames (of pm's event size) as pm replays to them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use pm_proto::pb::{self, server_message::Message as Server};
use tokio::time::timeout_at;

use crate::baseline::{BaseClient, Received};
use crate::client::{self, PmClient, request_id};
use crate::latency::Latencies;
use crate::report::ScenarioResult;
use crate::scenario::{CONNECT_CONCURRENCY, Env, Window, finish_variant, run_limited, settle};
use crate::system::Usage;

pub const NAME: &str = "reconnect_storm";
const BASELINE: &str =
    "the same clients reconnecting at once to the baseline server, replaying as many frames";

/// Connection attempts per client during the storm (a refused or failed connect is retried with
/// a growing, jittered delay, as a client would).
const MAX_ATTEMPTS: u32 = 20;

pub async fn run(env: &mut Env) -> Vec<ScenarioResult> {
    let (clients, projects) = (env.plan.storm_clients, env.plan.storm_projects.max(1));
    let variant = format!("{clients} clients, {projects} projects");
    let outcome = one(env, clients, projects, &variant).await;
    let result = finish_variant(NAME, variant, BASELINE, outcome);
    env.stop_servers().await;
    vec![result]
}

/// How one client's resume went.
#[derive(Default)]
struct ClientOutcome {
    caught_up_after: Option<Duration>,
    retries: u64,
    resyncs: u64,
    /// Changes of its project skipped without a resync.
    gaps: u64,
    replayed: u64,
    duplicates: u64,
}

struct Storm {
    usage: Option<Usage>,
    generator: Usage,
    catch_up: Latencies,
    all_caught_up_s: f64,
    not_caught_up: u64,
    retries: u64,
    resyncs: u64,
    gaps: u64,
    replayed: u64,
    duplicates: u64,
}

impl Storm {
    fn of(outcomes: &[ClientOutcome], window: (Option<Usage>, Usage)) -> Self {
        let mut s = Storm {
            usage: window.0,
            generator: window.1,
            catch_up: Latencies::new(),
            all_caught_up_s: 0.0,
            not_caught_up: 0,
            retries: 0,
            resyncs: 0,
            gaps: 0,
            replayed: 0,
            duplicates: 0,
        };
        for o in outcomes {
            match o.caught_up_after {
                Some(d) => {
                    s.catch_up.record(d);
                    s.all_caught_up_s = s.all_caught_up_s.max(d.as_secs_f64());
                }
                None => s.not_caught_up += 1,
            }
            s.retries += o.retries;
            s.resyncs += o.resyncs;
            s.gaps += o.gaps;
            s.replayed += o.replayed;
            s.duplicates += o.duplicates;
        }
        s
    }
}

async fn one(
    env: &mut Env,
    clients: usize,
    projects: usize,
    variant: &str,
) -> anyhow::Result<ScenarioResult> {
    let mut result = ScenarioResult::new(NAME, variant, BASELINE);
    let deadline_after = env.plan.storm_deadline;

    // pm: connect and subscribe everyone, remember where each one is.
    let pm = env.pm().await?;
    let token = env.token("storm").await?;
    let mut setup = PmClient::connect(&pm.ws_url, &token).await?;
    let mut project_ids = Vec::new();
    let mut items = Vec::new();
    for _ in 0..projects {
        let project = setup.create_project(&env.new_key("S")).await?;
        let item = setup
            .create_item(&project.id, "Storm", "")
            .await?
            .response
            .work_item
            .context("no item in the reply")?;
        project_ids.push(project.id);
        items.push((item.id, item.version));
    }
    let sinces: Vec<u64> = {
        let (url, token, ids) = (pm.ws_url.clone(), token.clone(), project_ids.clone());
        let connected = run_limited(clients, CONNECT_CONCURRENCY, move |i| {
            let (url, token, project) = (url.clone(), token.clone(), ids[i % ids.len()].clone());
            async move {
                let mut client = PmClient::connect(&url, &token).await?;
                let (subscribed, _) = client.subscribe(&project, None).await?;
                Ok((client, subscribed.head_seq))
            }
        })
        .await?;
        // Everyone drops off at once.
        connected.into_iter().map(|(_, since)| since).collect()
    };
    drop(setup);
    settle(pm.pid, &mut result).await;

    // Changes while they are away, by a connection opened now (an idle one would have been
    // closed by the server's idle timeout during a long setup).
    let mut writer = PmClient::connect(&pm.ws_url, &token).await?;
    let mut missed: Vec<Vec<u64>> = vec![Vec::new(); projects];
    let mut event_bytes = Vec::new();
    for c in 0..env.plan.storm_changes {
        let p = c % projects;
        let (called, version) = writer
            .rename_item(&items[p].0, items[p].1, format!("Storm change {c}"))
            .await?;
        items[p].1 = version;
        missed[p].extend(called.events.iter().map(|e| e.seq));
        event_bytes.extend(called.events.into_iter().map(|e| {
            pm_proto::encode(&pb::ServerMessage {
                message: Some(Server::Event(e)),
            })
            .len()
        }));
    }
    // The baseline replays frames of the size pm's replayed events have.
    let replay_len = event_bytes.iter().sum::<usize>() / event_bytes.len().max(1);
    drop(writer);
    settle(pm.pid, &mut result).await;
    let missed: Vec<Arc<Vec<u64>>> = missed.into_iter().map(Arc::new).collect();

    // The storm.
    let window = Window::start(pm.pid)?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + deadline_after);
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let p = i % projects;
            tokio::spawn(pm_resume(
                pm.ws_url.clone(),
                token.clone(),
                project_ids[p].clone(),
                sinces[i],
                Arc::clone(&missed[p]),
                started,
                deadline,
                i,
            ))
        })
        .collect();
    let mut outcomes = Vec::with_capacity(clients);
    for h in handles {
        outcomes.push(h.await.context("a client panicked")?);
    }
    let pm_storm = Storm::of(&outcomes, window.finish()?);
    env.stop_servers().await;

    // Baseline: same clients, same topics, same number of frames to replay.
    let base = env.baseline().await?;
    {
        let url = base.ws_url.clone();
        let connected = run_limited(clients, CONNECT_CONCURRENCY, move |i| {
            let url = url.clone();
            async move {
                let mut client = BaseClient::connect(&url).await?;
                client
                    .subscribe(u32::try_from(i % projects).unwrap_or(0))
                    .await?;
                Ok(client)
            }
        })
        .await?;
        drop(connected);
    }
    settle(base.pid, &mut result).await;
    let window = Window::start(base.pid)?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + deadline_after);
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let p = i % projects;
            tokio::spawn(base_resume(
                base.ws_url.clone(),
                u32::try_from(p).unwrap_or(0),
                u32::try_from(missed[p].len()).unwrap_or(0),
                u32::try_from(replay_len).unwrap_or(u32::MAX),
                started,
                deadline,
                i,
            ))
        })
        .collect();
    let mut outcomes = Vec::with_capacity(clients);
    for h in handles {
        outcomes.push(h.await.context("a client panicked")?);
    }
    let base_storm = Storm::of(&outcomes, window.finish()?);

    result.metric(
        "all caught up",
        "s",
        pm_storm.all_caught_up_s,
        base_storm.all_caught_up_s,
    );
    result.metric(
        "catch-up p50",
        "ms",
        pm_storm.catch_up.quantile_ms(0.5),
        base_storm.catch_up.quantile_ms(0.5),
    );
    result.metric(
        "catch-up p99",
        "ms",
        pm_storm.catch_up.quantile_ms(0.99),
        base_storm.catch_up.quantile_ms(0.99),
    );
    if let (Some(pu), Some(bu)) = (pm_storm.usage, base_storm.usage) {
        result.metric("server CPU for the storm", "s", pu.cpu_s, bu.cpu_s);
    }
    result.detail("clients", clients as f64);
    result.detail("changes_missed", env.plan.storm_changes as f64);
    result.detail("not_caught_up", pm_storm.not_caught_up as f64);
    result.detail("connect_retries", pm_storm.retries as f64);
    result.detail("resyncs", pm_storm.resyncs as f64);
    result.detail("silent_loss", pm_storm.gaps as f64);
    result.detail("replayed_events", pm_storm.replayed as f64);
    result.detail("duplicates", pm_storm.duplicates as f64);
    result.detail("baseline_not_caught_up", base_storm.not_caught_up as f64);
    result.detail("baseline_connect_retries", base_storm.retries as f64);
    if pm_storm.not_caught_up > 0 {
        result.note(format!(
            "{} clients not caught up within {deadline_after:?}",
            pm_storm.not_caught_up
        ));
    }
    result.pm_server = pm_storm.usage;
    result.baseline_server = base_storm.usage;
    result.generator = Some(pm_storm.generator);
    result.note_saturation();
    Ok(result)
}

/// The delay before connection attempt `attempt` (≥ 2): doubling from 50 ms up to 1 s, with a
/// per-client jitter so retries do not come back as one wave.
fn backoff(attempt: u32, client: usize) -> Duration {
    let base = 50u64 << attempt.min(5);
    let jitter = (client as u64).wrapping_mul(2_654_435_761) % base.max(1);
    Duration::from_millis((base + jitter).min(1_000))
}

#[expect(
    clippy::too_many_arguments,
    reason = "one client's whole brief, spawned as a task"
)]
async fn pm_resume(
    url: String,
    token: String,
    project_id: String,
    since: u64,
    missed: Arc<Vec<u64>>,
    started: Instant,
    deadline: tokio::time::Instant,
    client_index: usize,
) -> ClientOutcome {
    let mut outcome = ClientOutcome::default();
    let mut attempt = 0;
    let mut client = loop {
        attempt += 1;
        match timeout_at(deadline, PmClient::connect(&url, &token)).await {
            Ok(Ok(client)) => break client,
            Ok(Err(_)) if attempt < MAX_ATTEMPTS => {
                outcome.retries += 1;
                tokio::time::sleep(backoff(attempt, client_index)).await;
            }
            _ => return outcome,
        }
    };
    let epoch = client.history_epoch.clone();
    let subscribe = |since: u64| pb::Subscribe {
        project_id: project_id.clone(),
        since: Some(since),
        history_epoch: epoch.clone(),
    };
    let mut pending = request_id();
    if client.send(&pending, subscribe(since)).await.is_err() {
        return outcome;
    }
    let mut subscribed = false;
    let mut applied = since;
    let mut next = 0;
    loop {
        if subscribed && next >= missed.len() {
            outcome.caught_up_after = Some(started.elapsed());
            return outcome;
        }
        let Ok(Ok(Some(frame))) = timeout_at(deadline, client::next_binary(&mut client.ws)).await
        else {
            return outcome;
        };
        let Ok(message) = pm_proto::decode_server(&frame) else {
            return outcome;
        };
        match message.message {
            Some(Server::Reply(reply)) if reply.request_id == pending => match reply.result {
                Some(pb::reply::Result::Subscribed(_)) => subscribed = true,
                Some(pb::reply::Result::Error(e)) => {
                    // Busy: wait as told and ask again, as a client would.
                    let Some(wait) = client::retry_after(&e) else {
                        return outcome;
                    };
                    outcome.retries += 1;
                    tokio::time::sleep(wait).await;
                    pending = request_id();
                    if client.send(&pending, subscribe(applied)).await.is_err() {
                        return outcome;
                    }
                }
                _ => return outcome,
            },
            Some(Server::Event(event)) => {
                if event.seq <= applied {
                    outcome.duplicates += 1;
                    continue;
                }
                outcome.replayed += 1;
                // Every missed change up to this one must have come first.
                while next < missed.len() && missed[next] < event.seq {
                    outcome.gaps += 1;
                    next += 1;
                }
                if missed.get(next) == Some(&event.seq) {
                    next += 1;
                }
                applied = event.seq;
            }
            Some(Server::ResyncRequired(_)) => {
                outcome.resyncs += 1;
                subscribed = false;
                pending = request_id();
                if client.send(&pending, subscribe(applied)).await.is_err() {
                    return outcome;
                }
            }
            _ => {}
        }
    }
}

async fn base_resume(
    url: String,
    topic: u32,
    replay_count: u32,
    replay_len: u32,
    started: Instant,
    deadline: tokio::time::Instant,
    client_index: usize,
) -> ClientOutcome {
    let mut outcome = ClientOutcome::default();
    let mut attempt = 0;
    let mut client = loop {
        attempt += 1;
        match timeout_at(deadline, BaseClient::connect(&url)).await {
            Ok(Ok(client)) => break client,
            Ok(Err(_)) if attempt < MAX_ATTEMPTS => {
                outcome.retries += 1;
                tokio::time::sleep(backoff(attempt, client_index)).await;
            }
            _ => return outcome,
        }
    };
    if client
        .send_subscribe(topic, replay_count, replay_len)
        .await
        .is_err()
    {
        return outcome;
    }
    let mut acked = false;
    let mut replayed = 0;
    loop {
        if acked && replayed >= replay_count {
            outcome.caught_up_after = Some(started.elapsed());
            outcome.replayed = u64::from(replayed);
            return outcome;
        }
        match timeout_at(deadline, client.recv()).await {
            Ok(Ok(Received::Ack)) => acked = true,
            Ok(Ok(Received::Replayed)) => replayed += 1,
            Ok(Ok(_)) => {}
            _ => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_but_never_wait_more_than_a_second() {
        for client in [0, 1, 4_999] {
            assert!(backoff(2, client) >= Duration::from_millis(200));
            for attempt in 2..MAX_ATTEMPTS {
                assert!(backoff(attempt, client) <= Duration::from_secs(1));
            }
        }
    }
}
