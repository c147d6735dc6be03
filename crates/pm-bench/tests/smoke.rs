//! The benchmark's smoke run: every scenario with tiny sizes against pm embedded in the pm-bench
//! binary (the test can only rely on its own crate's binaries). It proves that the benchmark
//! still runs end to end and that its results are complete; it asserts no timing at all, because
//! a test machine's speed proves nothing.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

const SCENARIOS: [&str; 7] = [
    "round_trip",
    "fan_out",
    "write_throughput",
    "idle_cost",
    "rest_context",
    "reconnect_storm",
    "snapshot",
];

fn number(value: &Value, what: &str) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"))
}

#[test]
fn every_scenario_runs_and_reports_pm_its_baseline_and_their_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let output = Command::new(env!("CARGO_BIN_EXE_pm-bench"))
        .args(["--smoke", "--embedded-server", "--work-dir"])
        .arg(dir.path().join("work"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("pm-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pm-bench failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("| Scenario | Variant | Metric | pm | Baseline | pm ÷ baseline |"),
        "the table is printed: {stdout}"
    );

    let report: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let scenarios = report["scenarios"].as_array().expect("a scenario list");
    let names: BTreeSet<&str> = scenarios
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(names, SCENARIOS.into_iter().collect(), "every scenario ran");

    for s in scenarios {
        let name = format!("{} / {}", s["scenario"], s["variant"]);
        let status = s["status"].as_str().unwrap();
        if status.starts_with("skipped") {
            assert_eq!(
                (s["scenario"].as_str(), status),
                (Some("rest_context"), "skipped: endpoint not available"),
                "{name}: only the REST scenario may be skipped, and only without its endpoint"
            );
            continue;
        }
        assert_eq!(status, "ok", "{name}");
        assert!(
            s["baseline"].as_str().is_some_and(|b| !b.is_empty()),
            "{name}: baseline named"
        );
        let metrics = s["metrics"].as_array().unwrap();
        assert!(!metrics.is_empty(), "{name}: has metrics");
        for m in metrics {
            for side in ["pm", "baseline"] {
                let v = number(&m[side], &format!("{name} {} {side}", m["name"]));
                assert!(
                    v.is_finite() && v >= 0.0,
                    "{name} {}: {side} = {v}",
                    m["name"]
                );
            }
        }
        let headline = &metrics[0];
        let ratio = number(&headline["ratio"], &format!("{name} headline ratio"));
        assert!(ratio.is_finite() && ratio > 0.0, "{name}: ratio {ratio}");
        for process in ["pm_server", "baseline_server"] {
            assert!(
                s[process]["cpu_s"].is_number(),
                "{name}: {process} CPU time reported"
            );
        }
    }

    // Tiny loads are far below saturation: nothing may be lost, silently or announced.
    for s in scenarios
        .iter()
        .filter(|s| matches!(s["scenario"].as_str(), Some("fan_out" | "reconnect_storm")))
    {
        let name = format!("{} / {}", s["scenario"], s["variant"]);
        let d = &s["details"];
        assert_eq!(number(&d["silent_loss"], "silent_loss"), 0.0, "{name}");
        assert_eq!(number(&d["resyncs"], "resyncs"), 0.0, "{name}");
        if s["scenario"] == "fan_out" {
            assert_eq!(
                d["delivered"], d["expected"],
                "{name}: every event delivered"
            );
            assert!(number(&d["delivered"], "delivered") > 0.0, "{name}");
            assert_eq!(
                number(&d["baseline_silent_loss"], "baseline loss"),
                0.0,
                "{name}"
            );
        } else {
            assert_eq!(number(&d["not_caught_up"], "not_caught_up"), 0.0, "{name}");
        }
    }

    let targets = report["targets"].as_array().unwrap();
    assert!(!targets.is_empty(), "the targets are checked");
    for key in ["cpus", "cpu_model", "kernel", "memory_mib"] {
        assert!(!report["machine"][key].is_null(), "machine.{key} reported");
    }
}
