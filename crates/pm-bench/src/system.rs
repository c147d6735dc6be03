//! What the benchmark reads from Linux about itself, the servers and the machine: CPU time and
//! memory of a process from `/proc`, the open-file limit, the machine's description, and core
//! pinning through `taskset` (so no `unsafe` is needed here).

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

/// One reading of a process's resource use.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// User plus system CPU time of every thread, in clock ticks.
    cpu_ticks: u64,
    /// Resident memory (`VmRSS`) and its anonymous part (`RssAnon`: heap and stacks), in KiB.
    pub rss_kb: u64,
    pub rss_anon_kb: u64,
}

impl Sample {
    /// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`.
    pub fn of(pid: u32) -> anyhow::Result<Self> {
        let at = Instant::now();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("process {pid} is gone"))?;
        // The command name (field 2) may contain spaces; the fields after its closing
        // parenthesis are fixed: utime and stime are fields 14 and 15 of the whole line.
        let after_name = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .context("unexpected /proc/<pid>/stat")?;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |i: usize| -> anyhow::Result<u64> {
            fields
                .get(i)
                .context("short /proc/<pid>/stat")?
                .parse()
                .context("non-numeric /proc/<pid>/stat field")
        };
        // `fields[0]` is field 3 (state), so field n is `fields[n - 3]`.
        let cpu_ticks = field(14 - 3)? + field(15 - 3)?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("process {pid} is gone"))?;
        Ok(Self {
            at,
            cpu_ticks,
            rss_kb: status_kb(&status, "VmRSS:").unwrap_or(0),
            rss_anon_kb: status_kb(&status, "RssAnon:").unwrap_or(0),
        })
    }

    /// This process.
    pub fn own() -> anyhow::Result<Self> {
        Self::of(std::process::id())
    }

    /// CPU seconds used since `earlier`.
    pub fn cpu_since(&self, earlier: &Sample) -> f64 {
        self.cpu_ticks.saturating_sub(earlier.cpu_ticks) as f64 / clock_ticks_per_second()
    }

    pub fn wall_since(&self, earlier: &Sample) -> f64 {
        self.at.duration_since(earlier.at).as_secs_f64()
    }
}

fn status_kb(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `sysconf(_SC_CLK_TCK)`, asked of `getconf` once (100 on every common Linux).
fn clock_ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Resource use of one process over a measured window.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    /// CPU seconds (user + system, all threads).
    pub cpu_s: f64,
    pub wall_s: f64,
    /// CPU seconds per wall second: 1.0 is one core fully busy.
    pub cores: f64,
    /// `VmRSS` at the end of the window, KiB.
    pub rss_kb: u64,
}

impl Usage {
    pub fn between(before: &Sample, after: &Sample) -> Self {
        let cpu_s = after.cpu_since(before);
        let wall_s = after.wall_since(before);
        Self {
            cpu_s,
            wall_s,
            cores: if wall_s > 0.0 { cpu_s / wall_s } else { 0.0 },
            rss_kb: after.rss_kb,
        }
    }
}

/// Waits until the process is (nearly) idle: two consecutive quarter-second windows in which it
/// used at most one clock tick of CPU time, or `max` elapsed. Returns whether it settled.
pub async fn settle(pid: u32, max: Duration) -> bool {
    let deadline = Instant::now() + max;
    let window = Duration::from_millis(250);
    let mut quiet = 0;
    let Ok(mut last) = Sample::of(pid) else {
        return false;
    };
    while Instant::now() < deadline {
        tokio::time::sleep(window).await;
        let Ok(now) = Sample::of(pid) else {
            return false;
        };
        if now.cpu_since(&last) <= 1.0 / clock_ticks_per_second() {
            quiet += 1;
            if quiet >= 2 {
                return true;
            }
        } else {
            quiet = 0;
        }
        last = now;
    }
    false
}

/// The soft limit on open files of this process (children inherit it).
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Open file descriptors of this process now.
pub fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Whether `taskset` exists and the machine has at least two CPUs to separate server and load.
pub fn can_pin() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Pins every thread of this process to `cpu`. Call it before the async runtime starts, so that
/// the runtime sizes itself for the one core it has and its threads inherit the mask.
pub fn pin_self(cpu: usize) -> anyhow::Result<()> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .context("running taskset")?;
    if !status.success() {
        bail!("taskset could not pin this process to CPU {cpu}");
    }
    Ok(())
}

/// The one-minute load average, to show how busy the machine was besides the benchmark.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_mib: u64,
    pub kernel: String,
    pub open_file_limit: Option<u64>,
    /// The file system holding the data directories (SQLite's disk).
    pub data_filesystem: String,
    pub load_average_at_start: f64,
}

impl Machine {
    pub fn describe(data_dir: &Path) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_mib = status_kb(&meminfo, "MemTotal:").unwrap_or(0) / 1024;
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
        Self {
            // Counted from cpuinfo: this process may already be pinned to one of them.
            cpus: cpuinfo
                .lines()
                .filter(|l| l.starts_with("processor"))
                .count()
                .max(1),
            cpu_model,
            memory_mib,
            kernel,
            open_file_limit: open_file_limit(),
            data_filesystem: filesystem_of(data_dir),
            load_average_at_start: load_average(),
        }
    }
}

/// "ext4 /dev/vda on /" for the mount holding `path` (the longest mount point that prefixes it).
fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (device, point, fstype) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(point)
                .then(|| (point.len(), format!("{fstype} {device} on {point}")))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown".to_owned(), |(_, d)| d)
}
