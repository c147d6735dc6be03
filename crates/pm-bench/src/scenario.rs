//! What every scenario shares: the [`Env`] that starts fresh servers and hands out tokens, the
//! measured [`Window`], and running the selected scenarios one after another. Each scenario lives
//! in its own module and returns one result per variant; a variant that fails is reported as
//! failed and the run goes on.

pub mod fan_out;
pub mod idle;
pub mod reconnect;
pub mod rest;
pub mod round_trip;
pub mod snapshot;
pub mod write;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Semaphore;

use crate::plan::Plan;
use crate::report::ScenarioResult;
use crate::server::{self, Endpoint, Launcher, PmSource, Running};
use crate::system::{self, Sample, Usage};

/// The one user every benchmark connection signs in as (a tenant admin). One user keeps presence
/// messages small: their viewer list has one name however many connections watch.
pub const USER: &str = "bench";

/// Connections opened at once while setting a scenario up (the storm itself opens all at once).
pub const CONNECT_CONCURRENCY: usize = 256;

/// How long a server may take to become idle again after a setup step or the previous variant.
pub const SETTLE: Duration = Duration::from_secs(30);

pub struct Env {
    pub plan: Plan,
    pub launcher: Launcher,
    pub source: PmSource,
    /// The pm server's data directory (spawned servers).
    pub data_dir: PathBuf,
    /// Where the SQLite baseline writes: next to `data_dir`, on the same disk.
    pub baseline_dir: PathBuf,
    /// Flags every spawned pm server gets besides `--data-dir` and `--listen`.
    pub serve_flags: Vec<String>,
    /// Start of the run: timestamps carried in titles and payloads count from here.
    pub epoch: Instant,
    run_id: String,
    keys_made: usize,
    pm: Option<Running>,
    baseline: Option<Running>,
    tokens: HashMap<String, String>,
}

impl Env {
    pub fn new(
        plan: Plan,
        launcher: Launcher,
        source: PmSource,
        data_dir: PathBuf,
        baseline_dir: PathBuf,
        serve_flags: Vec<String>,
    ) -> Self {
        // Four base-36 characters from the clock: project keys stay unique across runs against
        // the same (`--target`) server.
        let mut n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut run_id = String::new();
        for _ in 0..4 {
            let digit = u32::try_from(n % 36).unwrap_or(0);
            run_id.push(
                char::from_digit(digit, 36)
                    .unwrap_or('0')
                    .to_ascii_uppercase(),
            );
            n /= 36;
        }
        Self {
            plan,
            launcher,
            source,
            data_dir,
            baseline_dir,
            serve_flags,
            epoch: Instant::now(),
            run_id,
            keys_made: 0,
            pm: None,
            baseline: None,
            tokens: HashMap::new(),
        }
    }

    /// A pm server with nothing running on it: a freshly started process (so that CPU time and
    /// memory belong to this variant alone), or the target.
    pub async fn pm(&mut self) -> anyhow::Result<Endpoint> {
        if let Some(old) = self.pm.take() {
            old.stop().await;
        }
        match &self.source {
            PmSource::Target {
                ws_url,
                http_base,
                pid,
                ..
            } => Ok(Endpoint {
                ws_url: ws_url.clone(),
                http_base: http_base.clone(),
                pid: *pid,
            }),
            PmSource::Spawn { program, prefix } => {
                let mut args = prefix.clone();
                args.push("serve".to_owned());
                args.push("--data-dir".to_owned());
                args.push(self.data_dir.display().to_string());
                args.extend(self.serve_flags.iter().cloned());
                let running = self.launcher.start("pm-server", program, &args).await?;
                let endpoint = running.endpoint();
                self.pm = Some(running);
                Ok(endpoint)
            }
        }
    }

    /// A freshly started baseline server.
    pub async fn baseline(&mut self) -> anyhow::Result<Endpoint> {
        if let Some(old) = self.baseline.take() {
            old.stop().await;
        }
        let running = self.launcher.start_baseline().await?;
        let endpoint = running.endpoint();
        self.baseline = Some(running);
        Ok(endpoint)
    }

    /// Stops both servers (between variants, so neither competes with the other's measurement).
    pub async fn stop_servers(&mut self) {
        if let Some(pm) = self.pm.take() {
            pm.stop().await;
        }
        if let Some(baseline) = self.baseline.take() {
            baseline.stop().await;
        }
    }

    /// Whether scenarios may use tenants of their own (not with `--target`: one token, one
    /// tenant).
    pub fn multi_tenant(&self) -> bool {
        matches!(self.source, PmSource::Spawn { .. })
    }

    /// A token for [`USER`] in `tenant` (with `--target`, the given token whatever the tenant).
    /// Call after [`Env::pm`]: a spawned server creates the signing key on its first start.
    pub async fn token(&mut self, tenant: &str) -> anyhow::Result<String> {
        match &self.source {
            PmSource::Target { token, .. } => Ok(token.clone()),
            PmSource::Spawn { program, prefix } => {
                if let Some(token) = self.tokens.get(tenant) {
                    return Ok(token.clone());
                }
                let token =
                    server::issue_token(program, prefix, &self.data_dir, tenant, USER).await?;
                self.tokens.insert(tenant.to_owned(), token.clone());
                Ok(token)
            }
        }
    }

    /// Tokens for `n` different users (`viewer-0`, `viewer-1`, …) of `tenant`, all tenant admins,
    /// signed here with the development key the spawned server made in its data directory (a
    /// process per token would take minutes for thousands). `None` against a `--target` server,
    /// whose key this tool does not have. Call after [`Env::pm`], which makes the key.
    pub async fn user_tokens(
        &mut self,
        tenant: &str,
        n: usize,
    ) -> anyhow::Result<Option<Vec<String>>> {
        if matches!(self.source, PmSource::Target { .. }) {
            return Ok(None);
        }
        // Raw random bytes, as pm-server's `keys` module writes and reads them.
        let path = self.data_dir.join(pm_server::keys::DEV_KEY_FILE);
        let secret = std::fs::read(&path)
            .with_context(|| format!("reading the development key {}", path.display()))?;
        let signer = pm_auth::Signer::new(&pm_auth::KeyConfig::Hs256 { secret })?;
        let tenant = pm_core::TenantId::parse(tenant)?;
        (0..n)
            .map(|i| {
                let user = pm_core::UserId::parse(&format!("viewer-{i}"))?;
                Ok(signer.issue(
                    &tenant,
                    &user,
                    pm_core::TenantRole::Admin,
                    Duration::from_secs(4 * 3600),
                )?)
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map(Some)
    }

    /// A project key never used before in this run, nor (through the run id) in recent runs:
    /// `prefix` (one letter), the run id, a counter.
    pub fn new_key(&mut self, prefix: &str) -> String {
        self.keys_made += 1;
        format!("{prefix}{}{}", self.run_id, self.keys_made)
    }
}

/// Nanoseconds since `epoch` (the run's start), as carried in titles and payloads.
pub fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A measured window: CPU and memory of the server under test and of this process.
pub struct Window {
    server: Option<(u32, Sample)>,
    own: Sample,
}

impl Window {
    pub fn start(server_pid: Option<u32>) -> anyhow::Result<Self> {
        let server = match server_pid {
            Some(pid) => Some((pid, Sample::of(pid)?)),
            None => None,
        };
        Ok(Self {
            server,
            own: Sample::own()?,
        })
    }

    /// Server usage (when its pid is known) and this process's usage since the start.
    pub fn finish(&self) -> anyhow::Result<(Option<Usage>, Usage)> {
        let server = match &self.server {
            Some((pid, before)) => Some(Usage::between(before, &Sample::of(*pid)?)),
            None => None,
        };
        Ok((server, Usage::between(&self.own, &Sample::own()?)))
    }
}

/// Waits for the server to go idle (when its pid is known); notes on `result` if it did not.
pub async fn settle(pid: Option<u32>, result: &mut ScenarioResult) {
    if let Some(pid) = pid
        && !system::settle(pid, SETTLE).await
    {
        result.note("server still busy after setup; measured anyway");
    }
}

/// Runs `make(i)` for `0..n` with at most `concurrency` in flight; returns the results in order.
pub async fn run_limited<T, F, Fut>(n: usize, concurrency: usize, make: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let permits = Arc::clone(&permits);
        let fut = make(i);
        handles.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await?;
            fut.await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.context("a task panicked")??);
    }
    Ok(out)
}

/// Runs the scenarios named in `only` (all when empty), in the issue's order.
pub async fn run_all(env: &mut Env, only: &[String]) -> Vec<ScenarioResult> {
    let selected = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let mut results = Vec::new();
    if selected(round_trip::NAME) {
        results.extend(round_trip::run(env).await);
    }
    if selected(fan_out::NAME) {
        results.extend(fan_out::run(env).await);
    }
    if selected(write::NAME) {
        results.extend(write::run(env).await);
    }
    if selected(idle::NAME) {
        results.extend(idle::run(env).await);
    }
    if selected(rest::NAME) {
        results.extend(rest::run(env).await);
    }
    if selected(snapshot::NAME) {
        results.extend(snapshot::run(env).await);
    }
    if selected(reconnect::NAME) {
        results.extend(reconnect::run(env).await);
    }
    env.stop_servers().await;
    results
}

/// The result of a variant, or a failed one naming the error; printed as it completes.
pub fn finish_variant(
    scenario: &'static str,
    variant: String,
    baseline: &'static str,
    outcome: anyhow::Result<ScenarioResult>,
) -> ScenarioResult {
    let result = outcome.unwrap_or_else(|e| {
        let mut r = ScenarioResult::new(scenario, variant, baseline);
        r.status = format!("failed: {e:#}");
        r
    });
    let headline = result.metrics.first().map_or_else(String::new, |m| {
        format!(
            "{} {:.3} vs {:.3} {} (×{})",
            m.name,
            m.pm,
            m.baseline,
            m.unit,
            m.ratio
                .map_or_else(|| "–".to_owned(), |r| format!("{r:.2}"))
        )
    });
    eprintln!(
        "[pm-bench] {} / {}: {} {}",
        result.scenario, result.variant, result.status, headline
    );
    result
}

/// A skipped variant.
pub fn skipped(
    scenario: &'static str,
    variant: String,
    baseline: &'static str,
    why: &str,
) -> ScenarioResult {
    let mut r = ScenarioResult::new(scenario, variant, baseline);
    r.status = format!("skipped: {why}");
    eprintln!("[pm-bench] {} / {}: {}", r.scenario, r.variant, r.status);
    r
}

/// The sum of every sample of each named metric family in the server's `/metrics` (all label
/// sets together), or `None` when the endpoint cannot be read. A family the server does not have
/// is absent from the map.
pub async fn scrape(http_base: &str, names: &[&str]) -> Option<HashMap<String, f64>> {
    let text = reqwest::get(format!("{http_base}/metrics"))
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .text()
        .await
        .ok()?;
    let mut found = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let family = series.split('{').next().unwrap_or(series);
        if names.contains(&family)
            && let Ok(v) = value.parse::<f64>()
        {
            *found.entry(family.to_owned()).or_insert(0.0) += v;
        }
    }
    Some(found)
}
