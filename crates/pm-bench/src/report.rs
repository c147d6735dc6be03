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

/// The targets against the results (which were measured with the server on one core
/// when pinning was possible).
pub fn evaluate(results: &[ScenarioResult], plan: &Plan) -> Vec<TargetCheck> {
    let mut targets = Vec::new();
    for r in results
        .iter()
        .filter(|r| r.scenario == "round_trip" && r.is_ok())
    {
        let measured = (|| {
            let p50 = r.get("p50")?;
            let insert = *r.details.get("sqlite_insert_p50_ms")?;
            let bound = 3.0 * (p50.baseline + insert);
            Some((
                format!(
                    "p50 {:.3} ms vs 3 × ({:.3} echo + {:.3} insert) = {:.3} ms",
                    p50.pm, p50.baseline, insert, bound
                ),
                p50.pm <= bound,
            ))
        })();
        targets.push(check(
            format!(
                "round trip, {}: p50 within 3× of (echo baseline + one raw SQLite insert)",
                r.variant
            ),
            measured,
        ));
    }
    let fan = find(results, "fan_out", "1000 subscribers, 1 project");
    targets.push(check(
        "fan-out at 1,000 subscribers: ≥ 70% of the baseline's deliveries per server-CPU-second",
        fan.and_then(|r| {
            let m = r.get("deliveries per server CPU-s")?;
            let ratio = m.ratio?;
            Some((
                format!("{:.0} vs {:.0}: {:.0}%", m.pm, m.baseline, ratio * 100.0),
                ratio >= 0.7,
            ))
        }),
    ));
    targets.push(check(
        "fan-out at 1,000 subscribers: delivery p99 within 2× of the baseline's",
        fan.and_then(|r| {
            let m = r.get("delivery p99")?;
            let ratio = m.ratio?;
            Some((
                format!("{:.2} ms vs {:.2} ms: {:.2}×", m.pm, m.baseline, ratio),
                ratio <= 2.0,
            ))
        }),
    ));
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
    targets.push(check(
        "idle memory ≤ 10 KiB per connection in user space",
        results
            .iter()
            .find(|r| r.scenario == "idle_cost" && r.is_ok())
            .and_then(|r| {
                let m = r.get("RSS per connection")?;
                Some((format!("{:.1} KiB ({})", m.pm, r.variant), m.pm <= 10.0))
            }),
    ));
    let small = plan.rest_items.iter().min().copied().unwrap_or(200);
    targets.push(check(
        format!("REST context of a {small}-item project: p99 ≤ 10 ms"),
        find(results, "rest_context", &format!("{small} items")).and_then(|r| {
            let m = r.get("p99, 1 client")?;
            Some((format!("{:.2} ms (one client)", m.pm), m.pm <= 10.0))
        }),
    ));
    targets.push(check(
        "REST 304 responses ≥ 50% of the static baseline's rate",
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
            .find(|t| t.target.starts_with("round trip"))
            .and_then(|t| t.met);
        assert_eq!(met, Some(true), "0.5 ms is within 3 × (0.1 + 0.1) ms");
    }
}
