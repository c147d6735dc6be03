//! REST: `GET /api/v1/projects/{key}/context` of a small and a large project, plain and with
//! `If-None-Match` (answered `304` while nothing changed): latency with one client (nothing
//! queued), then throughput and loaded latency with a few concurrent clients in closed loops,
//! against a static handler returning a body of the same size with the same caching headers. Where the server has no such route yet (404), the variants are reported skipped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH};

use crate::client::PmClient;
use crate::latency::Latencies;
use crate::report::ScenarioResult;
use crate::scenario::{Env, Window, finish_variant, run_limited, settle, skipped};
use crate::server::Endpoint;

pub const NAME: &str = "rest_context";
const BASELINE: &str = "static axum handler, body of the same size, same ETag handling";

/// Connections creating the projects' items at once.
const FILLERS: usize = 8;
/// A realistic description, so the context carries some text per item.
const DESCRIPTION: &str = "As a user I want this card to carry a paragraph of text, so that the context the API returns has the weight of a real backlog item.";

struct Prepared {
    pm: Endpoint,
    token: String,
    /// (item count, project key)
    projects: Vec<(usize, String)>,
}

fn variants(items: usize) -> [String; 2] {
    [
        format!("{items} items"),
        format!("{items} items, If-None-Match"),
    ]
}

pub async fn run(env: &mut Env) -> Vec<ScenarioResult> {
    let sizes = env.plan.rest_items.clone();
    let all_variants = || sizes.iter().flat_map(|&n| variants(n));
    let prepared = match prepare(env).await {
        Ok(Some(prepared)) => prepared,
        Ok(None) => {
            let results = all_variants()
                .map(|v| skipped(NAME, v, BASELINE, "endpoint not available"))
                .collect();
            env.stop_servers().await;
            return results;
        }
        Err(e) => {
            let results = all_variants()
                .map(|v| finish_variant(NAME, v, BASELINE, Err(anyhow::anyhow!("setup: {e:#}"))))
                .collect();
            env.stop_servers().await;
            return results;
        }
    };
    let mut results = Vec::new();
    let base = match env.baseline().await {
        Ok(base) => base,
        Err(e) => {
            return all_variants()
                .map(|v| finish_variant(NAME, v, BASELINE, Err(anyhow::anyhow!("baseline: {e:#}"))))
                .collect();
        }
    };
    for (items, key) in &prepared.projects {
        let [plain, conditional] = variants(*items);
        let outcome = one(env, &prepared, &base, key, false, &plain).await;
        results.push(finish_variant(NAME, plain, BASELINE, outcome));
        let outcome = one(env, &prepared, &base, key, true, &conditional).await;
        results.push(finish_variant(NAME, conditional, BASELINE, outcome));
    }
    env.stop_servers().await;
    results
}

fn context_url(pm: &Endpoint, key: &str) -> String {
    format!("{}/api/v1/projects/{key}/context", pm.http_base)
}

fn bearer(token: &str) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    Ok(headers)
}

/// Starts pm, checks that the endpoint exists, and fills one project per size.
async fn prepare(env: &mut Env) -> anyhow::Result<Option<Prepared>> {
    let pm = env.pm().await?;
    let token = env.token("rest").await?;
    let mut setup = PmClient::connect(&pm.ws_url, &token).await?;
    let http = reqwest::Client::new();
    let mut projects = Vec::new();
    for items in env.plan.rest_items.clone() {
        let project = setup.create_project(&env.new_key("C")).await?;
        if projects.is_empty() {
            let probe = http
                .get(context_url(&pm, &project.key))
                .headers(bearer(&token)?)
                .send()
                .await?;
            if probe.status() == StatusCode::NOT_FOUND {
                // The project exists: a 404 means the route does not.
                return Ok(None);
            }
        }
        let (url, token, id) = (pm.ws_url.clone(), token.clone(), project.id.clone());
        run_limited(FILLERS, FILLERS, move |f| {
            let (url, token, id) = (url.clone(), token.clone(), id.clone());
            async move {
                let mut client = PmClient::connect(&url, &token).await?;
                for i in (f..items).step_by(FILLERS) {
                    client
                        .create_item(&id, &format!("Context item {i}"), DESCRIPTION)
                        .await?;
                }
                Ok(())
            }
        })
        .await?;
        projects.push((items, project.key));
    }
    Ok(Some(Prepared {
        pm,
        token,
        projects,
    }))
}

/// What a closed-loop HTTP load saw.
#[derive(Default)]
struct HttpStats {
    requests: u64,
    statuses: BTreeMap<u16, u64>,
    latencies: Latencies,
    body_bytes: u64,
}

impl HttpStats {
    fn merge(&mut self, other: &HttpStats) {
        self.requests += other.requests;
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_default() += n;
        }
        self.latencies.merge(&other.latencies);
        self.body_bytes += other.body_bytes;
    }
}

async fn load(
    http: &reqwest::Client,
    url: &str,
    headers: &HeaderMap,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<HttpStats> {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, url, headers) = (http.clone(), url.to_owned(), headers.clone());
            tokio::spawn(async move {
                let mut stats = HttpStats::default();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    let response = http.get(&url).headers(headers.clone()).send().await?;
                    let status = response.status().as_u16();
                    let body = response.bytes().await?;
                    stats.latencies.record(started.elapsed());
                    stats.requests += 1;
                    stats.body_bytes += body.len() as u64;
                    *stats.statuses.entry(status).or_default() += 1;
                }
                anyhow::Ok(stats)
            })
        })
        .collect();
    let mut total = HttpStats::default();
    for task in tasks {
        total.merge(&task.await??);
    }
    Ok(total)
}

async fn one(
    env: &mut Env,
    prepared: &Prepared,
    base: &Endpoint,
    key: &str,
    conditional: bool,
    variant: &str,
) -> anyhow::Result<ScenarioResult> {
    let mut result = ScenarioResult::new(NAME, variant, BASELINE);
    let (duration, concurrency) = (env.plan.duration, env.plan.rest_concurrency);
    let http = reqwest::Client::new();
    let url = context_url(&prepared.pm, key);
    let mut headers = bearer(&prepared.token)?;
    let first = http.get(&url).headers(headers.clone()).send().await?;
    if first.status() != StatusCode::OK {
        bail!("GET {url} answered {}", first.status());
    }
    let etag = first.headers().get(ETAG).cloned();
    let body_len = first.bytes().await?.len();
    let expected = if conditional {
        let Some(etag) = etag else {
            bail!("the context response carries no ETag");
        };
        headers.insert(IF_NONE_MATCH, etag);
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    settle(prepared.pm.pid, &mut result).await;
    // Latency unloaded first (one client: no queueing), then throughput (several clients).
    let pm_single = load(&http, &url, &headers, 1, duration / 2).await?;
    let window = Window::start(prepared.pm.pid)?;
    let pm_stats = load(&http, &url, &headers, concurrency, duration).await?;
    let (pm_usage, generator) = window.finish()?;

    let base_url = format!("{}/static?bytes={body_len}", base.http_base);
    let mut base_headers = HeaderMap::new();
    if conditional {
        base_headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"static\""));
    }
    settle(base.pid, &mut result).await;
    let base_single = load(&http, &base_url, &base_headers, 1, duration / 2).await?;
    let window = Window::start(base.pid)?;
    let base_stats = load(&http, &base_url, &base_headers, concurrency, duration).await?;
    let (base_usage, _) = window.finish()?;

    let wall = |u: Option<crate::system::Usage>| u.map_or(duration.as_secs_f64(), |u| u.wall_s);
    result.metric(
        "requests/s",
        "1/s",
        pm_stats.requests as f64 / wall(pm_usage),
        base_stats.requests as f64 / wall(base_usage),
    );
    for (name, q) in [("p50, 1 client", 0.5), ("p99, 1 client", 0.99)] {
        result.metric(
            name,
            "ms",
            pm_single.latencies.quantile_ms(q),
            base_single.latencies.quantile_ms(q),
        );
    }
    for (name, q) in [("p50, loaded", 0.5), ("p99, loaded", 0.99)] {
        result.metric(
            name,
            "ms",
            pm_stats.latencies.quantile_ms(q),
            base_stats.latencies.quantile_ms(q),
        );
    }
    if let (Some(pu), Some(bu)) = (pm_usage, base_usage) {
        result.metric(
            "server CPU per request",
            "µs",
            pu.cpu_s * 1e6 / pm_stats.requests.max(1) as f64,
            bu.cpu_s * 1e6 / base_stats.requests.max(1) as f64,
        );
    }
    result.detail("body_bytes", body_len as f64);
    result.detail(
        "mean_response_body_bytes",
        pm_stats.body_bytes as f64 / pm_stats.requests.max(1) as f64,
    );
    result.detail("concurrency", concurrency as f64);
    let unexpected: u64 = pm_stats
        .statuses
        .iter()
        .chain(&pm_single.statuses)
        .filter(|(s, _)| **s != expected.as_u16())
        .map(|(_, n)| n)
        .sum();
    result.detail("unexpected_status", unexpected as f64);
    if unexpected > 0 {
        result.note(format!(
            "pm answered {:?} (status: count)",
            pm_stats.statuses
        ));
    }
    result.pm_server = pm_usage;
    result.baseline_server = base_usage;
    result.generator = Some(generator);
    result.note_saturation();
    Ok(result)
}
