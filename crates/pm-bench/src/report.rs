//! Results: every scenario variant with its pm figure, its baseline figure and their ratio, the
//! resource use of both servers, the targets checked against them, printed as a Markdown
//! table and written as JSON with the same content.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::plan::Plan;
use crate::system::{Machine, Usage};

/// One figure measured on pm and on its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub name: &'static str,
    pub unit: &'static str,
    pub pm: f64,
    pub baseline: f64,
    /// pm ÷ baseline; absent when the baseline is zero.
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub scenario: &'static str,
    pub variant: String,
    /// "ok", "skipped: <why>" or "failed: <error>".
    pub status: String,
    /// What the baseline is.
    pub baseline: &'static str,
    pub metrics: Vec<Metric>,
    /// The pm server during its measured window.
    pub pm_server: Option<Usage>,
    /// The baseline server (or SQLite process) during its measured window.
    pub baseline_server: Option<Usage>,
    /// This process during pm's measured window: near 1.0 core means the generator, not the
    /// server, may be the limit.
    pub generator: Option<Usage>,
    /// Counts and figures that have no baseline: loss, resyncs, errors, setup times.
    pub details: BTreeMap<&'static str, f64>,
    pub notes: Vec<String>,
    /// One-minute load average when the variant finished (other work on the machine included).
    pub load_average: f64,
}

impl ScenarioResult {
    pub fn new(scenario: &'static str, variant: impl Into<String>, baseline: &'static str) -> Self {
        Self {
            scenario,
            variant: variant.into(),
            status: "ok".to_owned(),
            baseline,
            metrics: Vec::new(),
            pm_server: None,
            baseline_server: None,
            generator: None,
            details: BTreeMap::new(),
            notes: Vec::new(),
            load_average: crate::system::load_average(),
        }
    }

    pub fn metric(&mut self, name: &'static str, unit: &'static str, pm: f64, baseline: f64) {
        let ratio =
            (baseline != 0.0 && pm.is_finite() && baseline.is_finite()).then(|| pm / baseline);
        self.metrics.push(Metric {
            name,
            unit,
            pm,
            baseline,
            ratio,
        });
    }

    pub fn detail(&mut self, name: &'static str, value: f64) {
        self.details.insert(name, value);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }

    /// Adds automatic notes when a process was busy for nearly its whole core.
    pub fn note_saturation(&mut self) {
        let busy = |u: &Option<Usage>| u.is_some_and(|u| u.cores > 0.9);
        if busy(&self.generator) {
            self.note("load generator near 100% of its core: pm may be faster than shown");
        }
        if busy(&self.pm_server) {
            self.note("pm server near 100% of its core: saturated");
        }
    }
}

/// One of the targets, checked.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    /// Absent when the scenario did not run.
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    pub pm_server: String,
    /// Cores the servers and the load generator were pinned to (absent: not pinned).
    pub server_cpu: Option<usize>,
    pub generator_cpu: Option<usize>,
    /// Flags the pm server was started with besides its data directory and address.
    pub serve_flags: Vec<String>,
    pub data_dir: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: String,
    pub started_at_unix_s: u64,
    pub wall_s: f64,
    pub machine: Machine,
    pub setup: Setup,
    pub plan: Plan,
    pub scenarios: Vec<ScenarioResult>,
    pub targets: Vec<TargetCheck>,
    pub notes: Vec<String>,
}

fn find<'a>(
    results: &'a [ScenarioResult],
    scenario: &str,
    variant: &str,
) -> Option<&'a ScenarioResult> {
    results
        .iter()
        .find(|r| r.scenario == scenario && r.variant == variant && r.is_ok())
}

fn check(target: impl Into<String>, measured: Option<(String, bool)>) -> TargetCheck {
    match measured {
        Some((measured, met)) => TargetCheck {
            target: target.into(),
            measured,
            met: Some(met),
        },
        None => TargetCheck {
            target: target.into(),
            measured: "not measured".to_owned(),
            met: None,
        },
    }
}

/// The targets of the performance issue against the results (which were measured with the
/// server on one core when pinning was possible). Every target is a ratio to a baseline of the
/// same run, except the context's size and latency bounds.
pub fn evaluate(results: &[ScenarioResult], plan: &Plan) -> Vec<TargetCheck> {
    let mut targets = Vec::new();
    let one = find(results, "round_trip", "1 connection");
    targets.push(check(
        "commands: server CPU per command (1 connection) ≤ 3× a raw SQLite transaction's CPU",
        one.and_then(|r| {
            let cpu = r.get("server CPU per command")?.pm;
            let raw = *r.details.get("sqlite_cpu_per_tx_us")?;
            Some((
                format!(
                    "{cpu:.0} µs vs {raw:.0} µs: {:.2}×",
                    cpu / raw.max(f64::EPSILON)
                ),
                cpu <= 3.0 * raw,
            ))
        }),
    ));
    targets.push(check(
        "commands: p50 (1 connection) ≤ 3× (echo + raw insert)",
        one.and_then(|r| {
            let p50 = r.get("p50")?;
            let insert = *r.details.get("sqlite_insert_p50_ms")?;
            let bound = 3.0 * (p50.baseline + insert);
            Some((
                format!(
                    "{:.3} ms vs 3 × ({:.3} echo + {:.3} insert) = {bound:.3} ms",
                    p50.pm, p50.baseline, insert
                ),
                p50.pm <= bound,
            ))
        }),
    ));
    targets.push(check(
        "commands: p99 (1 connection) ≤ 10× (echo p99 + raw insert p99)",
        one.and_then(|r| {
            let p99 = r.get("p99")?;
            let insert = *r.details.get("sqlite_insert_p99_ms")?;
            let bound = 10.0 * (p99.baseline + insert);
            Some((
                format!(
                    "{:.3} ms vs 10 × ({:.3} echo + {:.3} insert) = {bound:.3} ms",
                    p99.pm, p99.baseline, insert
                ),
                p99.pm <= bound,
            ))
        }),
    ));
    for (variant, share) in [
        (
            format!("1 tenant, {} connections", plan.write_connections),
            0.5,
        ),
        (
            format!("{} tenants, 1 connection each", plan.write_tenants),
            0.4,
        ),
    ] {
        targets.push(check(
            format!(
                "commands: writes/s with {variant} ≥ {:.0}% of the raw SQLite loop's",
                share * 100.0
            ),
            find(results, "write_throughput", &variant).and_then(|r| {
                let m = r.get("writes/s")?;
                let ratio = m.ratio?;
                let batch = r
                    .details
                    .get("mean_batch_commands")
                    .map_or_else(String::new, |b| format!(", {b:.1} commands per commit"));
                Some((
                    format!(
                        "{:.0}/s vs {:.0}/s: {:.0}%{batch}",
                        m.pm,
                        m.baseline,
                        ratio * 100.0
                    ),
                    ratio >= share,
                ))
            }),
        ));
    }
    let users = plan.fan_out_user_subscribers;
    for variant in [
        format!("{users} subscribers, 1 project, one user each"),
        format!(
            "{} subscribers, 1 project",
            plan.fan_out_subscribers.iter().max().copied().unwrap_or(0)
        ),
    ] {
        targets.push(check(
            format!(
                "presence: connect + subscribe {variant} ≤ 3× the baseline's time, no refusals"
            ),
            find(results, "fan_out", &variant).and_then(|r| {
                let m = r.get("connect + subscribe all")?;
                let ratio = m.ratio?;
                let refused = r.details.get("subscribe_retries").copied().unwrap_or(0.0);
                Some((
                    format!(
                        "{:.2} s vs {:.2} s: {ratio:.2}×, {refused:.0} refused",
                        m.pm, m.baseline
                    ),
                    ratio <= 3.0 && refused == 0.0,
                ))
            }),
        ));
    }
    let idle = results
        .iter()
        .find(|r| r.scenario == "idle_cost" && r.is_ok());
    targets.push(check(
        "idle connections: RSS per connection ≤ 1.3× the baseline's",
        idle.and_then(|r| {
            let m = r.get("RSS per connection")?;
            let ratio = m.ratio?;
            Some((
                format!("{:.1} KiB vs {:.1} KiB: {ratio:.2}×", m.pm, m.baseline),
                ratio <= 1.3,
            ))
        }),
    ));
    targets.push(check(
        "idle connections: idle CPU ≤ 1% of a core",
        idle.and_then(|r| {
            let m = r.get("idle CPU")?;
            Some((format!("{:.2}% ({})", m.pm, r.variant), m.pm <= 1.0))
        }),
    ));
    for subscribers in [1_000, 5_000] {
        let fan = find(
            results,
            "fan_out",
            &format!("{subscribers} subscribers, 1 project"),
        );
        targets.push(check(
            format!(
                "fan-out at {subscribers} subscribers: ≥ 90% of the baseline's deliveries per server CPU-second"
            ),
            fan.and_then(|r| {
                let m = r.get("deliveries per server CPU-s")?;
                let ratio = m.ratio?;
                Some((
                    format!("{:.0} vs {:.0}: {:.0}%", m.pm, m.baseline, ratio * 100.0),
                    ratio >= 0.9,
                ))
            }),
        ));
        targets.push(check(
            format!("fan-out at {subscribers} subscribers: delivery p99 ≤ 1.5× the baseline's"),
            fan.and_then(|r| {
                let m = r.get("delivery p99")?;
                let ratio = m.ratio?;
                Some((
                    format!("{:.2} ms vs {:.2} ms: {ratio:.2}×", m.pm, m.baseline),
                    ratio <= 1.5,
                ))
            }),
        ));
    }
    let lossy: Vec<&ScenarioResult> = results
        .iter()
        .filter(|r| r.is_ok() && r.details.contains_key("silent_loss"))
        .collect();
    let silent: f64 = lossy.iter().map(|r| r.details["silent_loss"]).sum();
    let resyncs: f64 = lossy
        .iter()
        .map(|r| r.details.get("resyncs").copied().unwrap_or(0.0))
        .sum();
    targets.push(check(
        "zero silent loss below saturation (fan-out and reconnect storm)",
        (!lossy.is_empty()).then(|| {
            (
                format!(
                    "{silent:.0} events missing without a resync; {resyncs:.0} resyncs announced"
                ),
                silent == 0.0,
            )
        }),
    ));
    let small = plan.rest_items.iter().min().copied().unwrap_or(200);
    let large = plan.rest_items.iter().max().copied().unwrap_or(10_000);
    targets.push(check(
        "REST: 304 responses ≥ 50% of the static baseline's rate",
        find(
            results,
            "rest_context",
            &format!("{small} items, If-None-Match"),
        )
        .and_then(|r| {
            let m = r.get("requests/s")?;
            let ratio = m.ratio?;
            Some((
                format!(
                    "{:.0}/s vs {:.0}/s: {:.0}%",
                    m.pm,
                    m.baseline,
                    ratio * 100.0
                ),
                ratio >= 0.5,
            ))
        }),
    ));
    let big = find(results, "rest_context", &format!("{large} items"));
    targets.push(check(
        format!("REST: the default context of a {large}-item project ≤ 256 KB"),
        big.and_then(|r| {
            let bytes = *r.details.get("body_bytes")?;
            Some((format!("{:.0} KB", bytes / 1000.0), bytes <= 256_000.0))
        }),
    ));
    targets.push(check(
        format!("REST: the default context of a {large}-item project: p99 ≤ 20 ms for one client"),
        big.and_then(|r| {
            let m = r.get("p99, 1 client")?;
            Some((format!("{:.2} ms", m.pm), m.pm <= 20.0))
        }),
    ));
    targets.push(check(
        format!(
            "reconnect storm of {} clients caught up within 5 s",
            plan.storm_clients
        ),
        results
            .iter()
            .find(|r| r.scenario == "reconnect_storm" && r.is_ok())
            .and_then(|r| {
                let m = r.get("all caught up")?;
                let all = r.details.get("not_caught_up").copied().unwrap_or(0.0) == 0.0;
                Some((
                    format!(
                        "{:.2} s{}",
                        m.pm,
                        if all { "" } else { " (some never caught up)" }
                    ),
                    all && m.pm <= 5.0,
                ))
            }),
    ));
    targets
}

/// A number with sensible precision for a table.
fn num(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "–".to_owned()
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn usage(u: &Option<Usage>) -> String {
    u.map_or_else(
        || "–".to_owned(),
        |u| format!("{:.2} s ({:.0}%)", u.cpu_s, u.cores * 100.0),
    )
}

impl Report {
    /// The results as Markdown tables (readable in a terminal, pasteable into the docs).
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| Scenario | Variant | Metric | pm | Baseline | pm ÷ baseline | Server CPU pm / baseline (share of a core) |"
        );
        let _ = writeln!(out, "|---|---|---|---:|---:|---:|---|");
        for r in &self.scenarios {
            if !r.is_ok() {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | | | | |",
                    r.scenario, r.variant, r.status
                );
                continue;
            }
            for (i, m) in r.metrics.iter().enumerate() {
                let (scenario, variant, cpu) = if i == 0 {
                    (
                        r.scenario,
                        r.variant.as_str(),
                        format!("{} / {}", usage(&r.pm_server), usage(&r.baseline_server)),
                    )
                } else {
                    ("", "", String::new())
                };
                let _ = writeln!(
                    out,
                    "| {scenario} | {variant} | {} ({}) | {} | {} | {} | {cpu} |",
                    m.name,
                    m.unit,
                    num(m.pm),
                    num(m.baseline),
                    m.ratio
                        .map_or_else(|| "–".to_owned(), |r| format!("{r:.2}")),
                );
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "| Scenario | Variant | Details | Notes |");
        let _ = writeln!(out, "|---|---|---|---|");
        for r in &self.scenarios {
            let details: Vec<String> = r
                .details
                .iter()
                .map(|(k, v)| format!("{k} {}", num(*v)))
                .collect();
            let mut notes = r.notes.clone();
            if let Some(g) = r.generator {
                notes.push(format!("generator {:.0}% of its core", g.cores * 100.0));
            }
            notes.push(format!("load {:.2}", r.load_average));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.scenario,
                r.variant,
                details.join(", "),
                notes.join("; ")
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "| Target | Measured | Met |");
        let _ = writeln!(out, "|---|---|---|");
        for t in &self.targets {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "no",
                None => "–",
            };
            let _ = writeln!(out, "| {} | {} | {met} |", t.target, t.measured);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_is_pm_over_the_baseline_and_absent_for_a_zero_baseline() {
        let mut r = ScenarioResult::new("round_trip", "1 connection", "echo");
        r.metric("p50", "ms", 0.5, 0.25);
        r.metric("idle CPU", "%", 0.0, 0.0);
        assert_eq!(r.get("p50").unwrap().ratio, Some(2.0));
        assert_eq!(r.get("idle CPU").unwrap().ratio, None);
    }

    #[test]
    fn targets_of_scenarios_that_did_not_run_are_not_measured_rather_than_missed() {
        let targets = evaluate(&[], &Plan::smoke());
        assert!(!targets.is_empty());
        assert!(targets.iter().all(|t| t.met.is_none()));
    }

    #[test]
    fn the_round_trip_target_adds_the_raw_insert_to_the_echo() {
        let mut r = ScenarioResult::new("round_trip", "1 connection", "echo");
        r.metric("p50", "ms", 0.5, 0.1);
        r.detail("sqlite_insert_p50_ms", 0.1);
        let met = evaluate(&[r], &Plan::smoke())
            .into_iter()
            .find(|t| t.target.starts_with("commands: p50"))
            .and_then(|t| t.met);
        assert_eq!(met, Some(true), "0.5 ms is within 3 × (0.1 + 0.1) ms");
    }

    #[test]
    fn the_command_cpu_target_compares_with_a_raw_transactions_cpu() {
        let evaluate_with = |pm_us: f64| {
            let mut r = ScenarioResult::new("round_trip", "1 connection", "echo");
            r.metric("server CPU per command", "µs", pm_us, 20.0);
            r.detail("sqlite_cpu_per_tx_us", 50.0);
            evaluate(&[r], &Plan::smoke())
                .into_iter()
                .find(|t| t.target.starts_with("commands: server CPU"))
                .and_then(|t| t.met)
        };
        assert_eq!(evaluate_with(150.0), Some(true), "150 µs ≤ 3 × 50 µs");
        assert_eq!(evaluate_with(151.0), Some(false), "151 µs > 3 × 50 µs");
    }
}
