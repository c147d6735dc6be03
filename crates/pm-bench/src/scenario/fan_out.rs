//! Fan-out: one writer renaming work items at a paced rate, subscribers receiving each change as an
//! event. Delivery latency runs from the writer sending the command to a subscriber decoding the
//! event (the send time travels in the title). Loss is counted per subscriber against the writer's
//! replies: an event missing on a subscriber that was told to resync is announced loss, one missing
//! without is silent loss.
//!
//! The baseline does the same through the baseline server: same subscriber counts, same offered
//! rate, frames of pm's event size, queues of pm's length.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pm_proto::pb::{self, server_message::Message as Server};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::baseline::{BaseClient, Received};
use crate::client::{self, PmClient, event_item, request_id};
use crate::latency::Latencies;
use crate::report::ScenarioResult;
use crate::scenario::{
    CONNECT_CONCURRENCY, Env, Window, finish_variant, nanos_since, settle, skipped,
};
use crate::system::Usage;

pub const NAME: &str = "fan_out";
const BASELINE: &str =
    "broadcast through the baseline server: same queues, frames of pm's event size";

/// The writer never goes faster than this, whatever the offered delivery rate asks.
const MAX_WRITES_PER_SEC: f64 = 2_000.0;
/// Longest wait for every subscriber to be subscribed.
const SETUP_LIMIT: Duration = Duration::from_secs(240);
/// Subscriptions count as settled once no presence message arrived for this long.
const PRESENCE_QUIET: Duration = Duration::from_millis(300);
/// After the writer stops: stop waiting for the last deliveries once none arrived for this long.
const DRAIN_QUIET: Duration = Duration::from_secs(1);
const DRAIN_LIMIT: Duration = Duration::from_secs(15);

pub async fn run(env: &mut Env) -> Vec<ScenarioResult> {
    let mut variants: Vec<(usize, usize, Viewers)> = env
        .plan
        .fan_out_subscribers
        .iter()
        .map(|&n| (n, 1, Viewers::OneUser))
        .collect();
    variants.push((
        env.plan.fan_out_spread_subscribers,
        env.plan.fan_out_projects,
        Viewers::OneUser,
    ));
    if env.plan.fan_out_user_subscribers > 0 {
        variants.push((env.plan.fan_out_user_subscribers, 1, Viewers::UserEach));
    }
    let mut results = Vec::new();
    for (subscribers, projects, viewers) in variants {
        let variant = format!(
            "{subscribers} subscribers, {projects} {}{}",
            if projects == 1 { "project" } else { "projects" },
            match viewers {
                Viewers::OneUser => "",
                Viewers::UserEach => ", one user each",
            }
        );
        if viewers == Viewers::UserEach && !env.multi_tenant() {
            results.push(skipped(
                NAME,
                variant,
                BASELINE,
                "needs a token per user (--target gives one)",
            ));
            continue;
        }
        let outcome = one(env, subscribers, projects, viewers, &variant).await;
        results.push(finish_variant(NAME, variant, BASELINE, outcome));
        env.stop_servers().await;
    }
    results
}

/// Who the subscribers are signed in as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Viewers {
    /// One user with many connections: presence changes once, however many subscribe.
    OneUser,
    /// A different user per subscriber: every subscription changes the set of viewers, the
    /// worst case for presence.
    UserEach,
}

/// What the subscribers of one side share while running.
#[derive(Default)]
struct Shared {
    subscribed: AtomicUsize,
    delivered: AtomicU64,
    presence: AtomicU64,
    last_presence_nanos: AtomicU64,
    measuring: AtomicBool,
    stop: CancellationToken,
}

/// What one subscriber saw.
struct SubStats {
    project: usize,
    events: u64,
    event_bytes: u64,
    out_of_order: u64,
    resynced: bool,
    setup_resyncs: u64,
    /// Subscriptions refused as busy and asked again.
    subscribe_retries: u64,
    latencies: Latencies,
    last_event: Option<Instant>,
}

impl SubStats {
    fn new(project: usize) -> Self {
        Self {
            project,
            events: 0,
            event_bytes: 0,
            out_of_order: 0,
            resynced: false,
            setup_resyncs: 0,
            subscribe_retries: 0,
            latencies: Latencies::new(),
            last_event: None,
        }
    }
}

/// One side's measurement.
struct Side {
    setup_s: f64,
    usage: Option<Usage>,
    generator: Usage,
    writes_per_sec: f64,
    /// Presence messages the subscribers received while subscribing.
    presence: u64,
    tally: Tally,
}

/// The subscribers summed up against what the writer wrote per project.
struct Tally {
    delivered: u64,
    expected: u64,
    /// Missing on subscribers never told to resync.
    silent_loss: u64,
    /// Missing on subscribers told to resync.
    resync_loss: u64,
    resyncs: u64,
    setup_resyncs: u64,
    subscribe_retries: u64,
    out_of_order: u64,
    latencies: Latencies,
    /// From the first write to the last delivery.
    delivery_s: f64,
    mean_event_bytes: usize,
}

impl Tally {
    fn of(stats: &[SubStats], writes_per_project: &[u64], started: Instant) -> Self {
        let mut t = Self {
            delivered: 0,
            expected: 0,
            silent_loss: 0,
            resync_loss: 0,
            resyncs: 0,
            setup_resyncs: 0,
            subscribe_retries: 0,
            out_of_order: 0,
            latencies: Latencies::new(),
            delivery_s: 0.0,
            mean_event_bytes: 0,
        };
        let mut bytes = 0;
        let mut last = started;
        for s in stats {
            let want = writes_per_project.get(s.project).copied().unwrap_or(0);
            t.delivered += s.events;
            t.expected += want;
            let missing = want.saturating_sub(s.events);
            if s.resynced {
                t.resync_loss += missing;
                t.resyncs += 1;
            } else {
                t.silent_loss += missing;
            }
            t.setup_resyncs += s.setup_resyncs;
            t.subscribe_retries += s.subscribe_retries;
            t.out_of_order += s.out_of_order;
            bytes += s.event_bytes;
            t.latencies.merge(&s.latencies);
            if let Some(at) = s.last_event {
                last = last.max(at);
            }
        }
        t.delivery_s = last.duration_since(started).as_secs_f64();
        t.mean_event_bytes = usize::try_from(bytes / t.delivered.max(1)).unwrap_or(0);
        t
    }
}

async fn one(
    env: &mut Env,
    subscribers: usize,
    projects: usize,
    viewers: Viewers,
    variant: &str,
) -> anyhow::Result<ScenarioResult> {
    let mut result = ScenarioResult::new(NAME, variant, BASELINE);
    let per_project = (subscribers / projects).max(1);
    let writes_per_sec = (env.plan.fan_out_deliveries_per_sec as f64 / per_project as f64)
        .clamp(1.0, MAX_WRITES_PER_SEC);
    let pm = pm_side(
        env,
        subscribers,
        projects,
        viewers,
        writes_per_sec,
        &mut result,
    )
    .await?;
    env.stop_servers().await;
    let base = base_side(
        env,
        subscribers,
        projects,
        writes_per_sec,
        pm.tally.mean_event_bytes,
    )
    .await?;

    let (p, b) = (&pm.tally, &base.tally);
    result.metric(
        "deliveries/s",
        "1/s",
        p.delivered as f64 / p.delivery_s.max(f64::EPSILON),
        b.delivered as f64 / b.delivery_s.max(f64::EPSILON),
    );
    if let (Some(pu), Some(bu)) = (pm.usage, base.usage) {
        result.metric(
            "deliveries per server CPU-s",
            "1/s",
            p.delivered as f64 / pu.cpu_s.max(0.01),
            b.delivered as f64 / bu.cpu_s.max(0.01),
        );
    }
    result.metric(
        "delivery p50",
        "ms",
        p.latencies.quantile_ms(0.5),
        b.latencies.quantile_ms(0.5),
    );
    result.metric(
        "delivery p99",
        "ms",
        p.latencies.quantile_ms(0.99),
        b.latencies.quantile_ms(0.99),
    );
    result.metric(
        "delivery max",
        "ms",
        p.latencies.max_ms(),
        b.latencies.max_ms(),
    );
    result.metric("connect + subscribe all", "s", pm.setup_s, base.setup_s);
    result.detail("subscribers", subscribers as f64);
    result.detail("writes_per_sec_offered", writes_per_sec);
    result.detail("writes_per_sec_achieved", pm.writes_per_sec);
    result.detail("delivered", p.delivered as f64);
    result.detail("expected", p.expected as f64);
    result.detail("silent_loss", p.silent_loss as f64);
    result.detail("lost_after_resync", p.resync_loss as f64);
    result.detail("resyncs", p.resyncs as f64);
    result.detail("setup_resyncs", p.setup_resyncs as f64);
    result.detail("subscribe_retries", p.subscribe_retries as f64);
    result.detail("out_of_order", p.out_of_order as f64);
    result.detail("presence_frames_during_setup", pm.presence as f64);
    result.detail("event_bytes", p.mean_event_bytes as f64);
    result.detail("baseline_silent_loss", b.silent_loss as f64);
    result.detail("baseline_resyncs", b.resyncs as f64);
    if pm.writes_per_sec < 0.9 * writes_per_sec {
        result.note(format!(
            "the writer (one closed loop: each write waits for its reply) reached {:.0} of {:.0} writes/s",
            pm.writes_per_sec, writes_per_sec
        ));
    }
    if p.subscribe_retries > 0 {
        result.note(format!(
            "{} subscriptions refused as busy (UNAVAILABLE) while subscribing, retried",
            p.subscribe_retries
        ));
    }
    if p.setup_resyncs > 0 {
        result.note(format!(
            "{} queue overflows while subscribing (presence storm); those subscribers resubscribed before measuring",
            p.setup_resyncs
        ));
    }
    result.pm_server = pm.usage;
    result.baseline_server = base.usage;
    result.generator = Some(pm.generator);
    result.note_saturation();
    Ok(result)
}

/// Waits until `shared.subscribed` reaches `n`, failing early if a subscriber task ended.
async fn wait_subscribed<T>(
    shared: &Shared,
    n: usize,
    handles: &[JoinHandle<anyhow::Result<T>>],
) -> anyhow::Result<()> {
    let deadline = Instant::now() + SETUP_LIMIT;
    while shared.subscribed.load(Ordering::Acquire) < n {
        if handles.iter().any(JoinHandle::is_finished) {
            bail!("a subscriber failed while subscribing");
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} subscribed within {SETUP_LIMIT:?}",
                shared.subscribed.load(Ordering::Acquire)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Waits until no presence message arrived for [`PRESENCE_QUIET`] (bounded by the setup limit).
async fn wait_presence_quiet(shared: &Shared, epoch: Instant) {
    let deadline = Instant::now() + SETUP_LIMIT;
    let quiet = u64::try_from(PRESENCE_QUIET.as_nanos()).unwrap_or(u64::MAX);
    while Instant::now() < deadline {
        let last = shared.last_presence_nanos.load(Ordering::Acquire);
        if nanos_since(epoch).saturating_sub(last) > quiet {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every expected delivery arrived, or none arrived for [`DRAIN_QUIET`].
async fn drain(shared: &Shared, expected: u64) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    let mut last = shared.delivered.load(Ordering::Acquire);
    let mut last_change = Instant::now();
    while Instant::now() < deadline {
        let now = shared.delivered.load(Ordering::Acquire);
        if now >= expected {
            return;
        }
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() > DRAIN_QUIET {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn collect(
    handles: Vec<JoinHandle<anyhow::Result<SubStats>>>,
) -> anyhow::Result<Vec<SubStats>> {
    let mut stats = Vec::with_capacity(handles.len());
    for h in handles {
        stats.push(h.await.context("a subscriber panicked")??);
    }
    Ok(stats)
}

fn subscribers_of(project: usize, subscribers: usize, projects: usize) -> u64 {
    (0..subscribers).filter(|i| i % projects == project).count() as u64
}

async fn pm_side(
    env: &mut Env,
    subscribers: usize,
    projects: usize,
    viewers: Viewers,
    writes_per_sec: f64,
    result: &mut ScenarioResult,
) -> anyhow::Result<Side> {
    let epoch = env.epoch;
    let pm = env.pm().await?;
    let tenant = format!("fan{subscribers}-{projects}");
    let token = env.token(&tenant).await?;
    let viewer_tokens = match viewers {
        Viewers::OneUser => None,
        Viewers::UserEach => Some(
            env.user_tokens(&tenant, subscribers)
                .await?
                .context("per-user tokens need a spawned server")?,
        ),
    };
    let mut setup = PmClient::connect(&pm.ws_url, &token).await?;
    let mut project_ids = Vec::new();
    let mut items = Vec::new();
    for _ in 0..projects {
        let project = setup.create_project(&env.new_key("F")).await?;
        let item = setup
            .create_item(&project.id, "Fan-out", "")
            .await?
            .response
            .work_item
            .context("no item in the reply")?;
        project_ids.push(project.id);
        items.push((item.id, item.version));
    }

    let shared = Arc::new(Shared::default());
    let connecting = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let setup_started = Instant::now();
    let handles: Vec<_> = (0..subscribers)
        .map(|i| {
            tokio::spawn(pm_subscriber(
                pm.ws_url.clone(),
                viewer_tokens
                    .as_ref()
                    .map_or_else(|| token.clone(), |t| t[i].clone()),
                project_ids[i % projects].clone(),
                i % projects,
                Arc::clone(&shared),
                Arc::clone(&connecting),
                epoch,
            ))
        })
        .collect();
    if let Err(e) = wait_subscribed(&shared, subscribers, &handles).await {
        shared.stop.cancel();
        for h in handles {
            if let Ok(Err(task_error)) = h.await {
                return Err(e.context(task_error));
            }
        }
        return Err(e);
    }
    let setup_s = setup_started.elapsed().as_secs_f64();
    wait_presence_quiet(&shared, epoch).await;
    settle(pm.pid, result).await;
    // Connected only now: an idle connection is closed after the server's idle timeout, and
    // setting up thousands of subscribers can take longer than that.
    drop(setup);
    let mut writer = PmClient::connect(&pm.ws_url, &token).await?;

    shared.measuring.store(true, Ordering::Release);
    let window = Window::start(pm.pid)?;
    let started = Instant::now();
    let deadline = started + env.plan.duration;
    let mut writes_per_project = vec![0u64; projects];
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / writes_per_sec));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut writes = 0u64;
    while Instant::now() < deadline {
        interval.tick().await;
        let p = usize::try_from(writes).unwrap_or(0) % projects;
        let title = format!("Fan-out {}", nanos_since(epoch));
        let (called, version) = writer.rename_item(&items[p].0, items[p].1, title).await?;
        items[p].1 = version;
        writes_per_project[p] += called.events.len() as u64;
        writes += 1;
    }
    let writing_s = started.elapsed().as_secs_f64();
    let expected: u64 = (0..projects)
        .map(|p| writes_per_project[p] * subscribers_of(p, subscribers, projects))
        .sum();
    drain(&shared, expected).await;
    let (usage, generator) = window.finish()?;
    shared.stop.cancel();
    let stats = collect(handles).await?;
    Ok(Side {
        setup_s,
        usage,
        generator,
        writes_per_sec: writes as f64 / writing_s,
        presence: shared.presence.load(Ordering::Acquire),
        tally: Tally::of(&stats, &writes_per_project, started),
    })
}

async fn pm_subscriber(
    url: String,
    token: String,
    project_id: String,
    project: usize,
    shared: Arc<Shared>,
    connecting: Arc<Semaphore>,
    epoch: Instant,
) -> anyhow::Result<SubStats> {
    let mut client = {
        let _permit = connecting.acquire().await?;
        PmClient::connect(&url, &token)
            .await
            .context("subscriber connecting")?
    };
    let mut stats = SubStats::new(project);
    let subscribe = || pb::Subscribe {
        project_id: project_id.clone(),
        since: None,
        history_epoch: String::new(),
    };
    let mut pending = request_id();
    client
        .send(&pending, subscribe())
        .await
        .context("subscriber sending its subscription")?;
    let mut subscribed = false;
    let mut last_seq = 0;
    loop {
        let frame = tokio::select! {
            () = shared.stop.cancelled() => break,
            frame = client::next_binary(&mut client.ws) => frame.with_context(|| {
                format!("subscriber reading (subscribed: {subscribed}, events: {})", stats.events)
            })?,
        };
        let Some(frame) = frame else {
            bail!("the server closed a subscriber's connection")
        };
        match pm_proto::decode_server(&frame)?.message {
            Some(Server::Reply(reply)) if reply.request_id == pending => match reply.result {
                Some(pb::reply::Result::Subscribed(_)) => {
                    if !subscribed {
                        subscribed = true;
                        shared.subscribed.fetch_add(1, Ordering::AcqRel);
                    }
                }
                Some(pb::reply::Result::Error(e)) if client::retry_after(&e).is_some() => {
                    // Busy (the presence storm keeps the server's core and readers occupied):
                    // wait as told and ask again, as a client would. Frames arriving meanwhile
                    // wait in the socket.
                    stats.subscribe_retries += 1;
                    if stats.subscribe_retries > u64::from(client::MAX_RETRIES) {
                        bail!("subscribe refused {} times: {e:?}", stats.subscribe_retries);
                    }
                    tokio::time::sleep(client::retry_after(&e).unwrap_or_default()).await;
                    pending = request_id();
                    client
                        .send(&pending, subscribe())
                        .await
                        .context("subscriber retrying its subscription")?;
                }
                other => bail!("subscribe refused: {other:?}"),
            },
            Some(Server::Event(event)) => {
                let now = nanos_since(epoch);
                stats.events += 1;
                stats.event_bytes += frame.len() as u64;
                if event.seq <= last_seq {
                    stats.out_of_order += 1;
                }
                last_seq = event.seq;
                if let Some(sent) = event_item(&event).and_then(|w| sent_nanos(&w.title)) {
                    stats
                        .latencies
                        .record(Duration::from_nanos(now.saturating_sub(sent)));
                }
                stats.last_event = Some(Instant::now());
                shared.delivered.fetch_add(1, Ordering::AcqRel);
            }
            Some(Server::Presence(_)) => {
                shared.presence.fetch_add(1, Ordering::Relaxed);
                shared
                    .last_presence_nanos
                    .store(nanos_since(epoch), Ordering::Release);
            }
            Some(Server::ResyncRequired(_)) => {
                if shared.measuring.load(Ordering::Acquire) {
                    stats.resynced = true;
                } else {
                    // Lost the subscription while the others were still subscribing: take it
                    // again, as a client would, before the measurement starts.
                    stats.setup_resyncs += 1;
                    if subscribed {
                        subscribed = false;
                        shared.subscribed.fetch_sub(1, Ordering::AcqRel);
                    }
                    pending = request_id();
                    client
                        .send(&pending, subscribe())
                        .await
                        .context("subscriber resubscribing after a resync")?;
                }
            }
            _ => {}
        }
    }
    Ok(stats)
}

/// The send time a fan-out title carries ("Fan-out <nanos>").
fn sent_nanos(title: &str) -> Option<u64> {
    title.strip_prefix("Fan-out ")?.parse().ok()
}

async fn base_side(
    env: &mut Env,
    subscribers: usize,
    projects: usize,
    writes_per_sec: f64,
    frame_bytes: usize,
) -> anyhow::Result<Side> {
    let epoch = env.epoch;
    let base = env.baseline().await?;
    let shared = Arc::new(Shared::default());
    let connecting = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let setup_started = Instant::now();
    let handles: Vec<_> = (0..subscribers)
        .map(|i| {
            tokio::spawn(base_subscriber(
                base.ws_url.clone(),
                i % projects,
                Arc::clone(&shared),
                Arc::clone(&connecting),
                epoch,
            ))
        })
        .collect();
    if let Err(e) = wait_subscribed(&shared, subscribers, &handles).await {
        shared.stop.cancel();
        return Err(e);
    }
    let setup_s = setup_started.elapsed().as_secs_f64();
    let mut ignored = ScenarioResult::new(NAME, "", BASELINE);
    settle(base.pid, &mut ignored).await;
    let mut writer = BaseClient::connect(&base.ws_url).await?;

    shared.measuring.store(true, Ordering::Release);
    let window = Window::start(base.pid)?;
    let started = Instant::now();
    let deadline = started + env.plan.duration;
    let mut writes_per_project = vec![0u64; projects];
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / writes_per_sec));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut writes = 0u64;
    while Instant::now() < deadline {
        interval.tick().await;
        let p = usize::try_from(writes).unwrap_or(0) % projects;
        writes += 1;
        let topic = u32::try_from(p).unwrap_or(0);
        writer
            .publish(topic, writes, nanos_since(epoch), frame_bytes)
            .await?;
        writes_per_project[p] += 1;
    }
    let writing_s = started.elapsed().as_secs_f64();
    let expected: u64 = (0..projects)
        .map(|p| writes_per_project[p] * subscribers_of(p, subscribers, projects))
        .sum();
    drain(&shared, expected).await;
    let (usage, generator) = window.finish()?;
    shared.stop.cancel();
    let stats = collect(handles).await?;
    Ok(Side {
        setup_s,
        usage,
        generator,
        writes_per_sec: writes as f64 / writing_s,
        presence: 0,
        tally: Tally::of(&stats, &writes_per_project, started),
    })
}

async fn base_subscriber(
    url: String,
    project: usize,
    shared: Arc<Shared>,
    connecting: Arc<Semaphore>,
    epoch: Instant,
) -> anyhow::Result<SubStats> {
    let mut client = {
        let _permit = connecting.acquire().await?;
        BaseClient::connect(&url).await?
    };
    let topic = u32::try_from(project).unwrap_or(0);
    client.send_subscribe(topic, 0, 0).await?;
    let mut stats = SubStats::new(project);
    let mut last_seq = 0;
    loop {
        let frame = tokio::select! {
            () = shared.stop.cancelled() => break,
            frame = client::next_binary(&mut client.ws) => frame?,
        };
        let Some(frame) = frame else {
            bail!("the baseline server closed a subscriber's connection")
        };
        match crate::baseline::parse(&frame)? {
            Received::Ack => {
                shared.subscribed.fetch_add(1, Ordering::AcqRel);
            }
            Received::Event {
                seq, sent_nanos, ..
            } => {
                let now = nanos_since(epoch);
                stats.events += 1;
                stats.event_bytes += frame.len() as u64;
                if seq <= last_seq {
                    stats.out_of_order += 1;
                }
                last_seq = seq;
                stats
                    .latencies
                    .record(Duration::from_nanos(now.saturating_sub(sent_nanos)));
                stats.last_event = Some(Instant::now());
                shared.delivered.fetch_add(1, Ordering::AcqRel);
            }
            Received::Resync => {
                if shared.measuring.load(Ordering::Acquire) {
                    stats.resynced = true;
                } else {
                    stats.setup_resyncs += 1;
                    shared.subscribed.fetch_sub(1, Ordering::AcqRel);
                    client.send_subscribe(topic, 0, 0).await?;
                }
            }
            Received::Echoed | Received::Replayed => {}
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriber(project: usize, events: u64, resynced: bool) -> SubStats {
        let mut s = SubStats::new(project);
        s.events = events;
        s.resynced = resynced;
        s
    }

    #[test]
    fn missing_events_count_as_silent_loss_unless_the_subscriber_was_told_to_resync() {
        let started = Instant::now();
        let stats = [
            subscriber(0, 10, false),
            subscriber(0, 7, false),
            subscriber(1, 2, true),
        ];
        let t = Tally::of(&stats, &[10, 5], started);
        assert_eq!((t.delivered, t.expected), (19, 25));
        assert_eq!(t.silent_loss, 3);
        assert_eq!(t.resync_loss, 3);
        assert_eq!(t.resyncs, 1);
    }

    #[test]
    fn the_send_time_travels_in_the_title() {
        assert_eq!(sent_nanos("Fan-out 123456"), Some(123_456));
        assert_eq!(sent_nanos("Something else"), None);
    }
}
