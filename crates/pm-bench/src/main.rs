//! `pm-bench`: measures pm against what this machine can do, in one run.
//!
//! It starts a pm server (the release `pm-server` next to this binary, or pm embedded in this
//! binary) or targets a running one on the loopback interface, opens real WebSocket connections
//! speaking the protocol and runs seven scenarios with bounded durations and counts: command round
//! trip, fan-out, write throughput, idle cost, the REST context endpoint, the snapshot (initial
//! load) and a reconnect storm.
//! Every figure stands next to a baseline measured by this binary in the same run (a minimal
//! WebSocket/HTTP server on the same stack, a raw SQLite loop on the same disk) and their ratio.
//! Servers run pinned to one core and the generator to another when the machine allows, and the
//! servers' CPU time and memory come from `/proc`, so results read per core.
//!
//! This binary is tooling: it may know every pm crate, but it sends traffic to 127.0.0.1 only and
//! every load loop ends by count or time. The hidden subcommands are its own child processes.

mod baseline;
mod client;
mod latency;
mod plan;
mod report;
mod scenario;
mod server;
mod system;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};
use pm_core::{TenantId, TenantRole, UserId};
use pm_server::config::{Config, ConfigArgs};
use tokio_util::sync::CancellationToken;

use crate::plan::{Plan, SCENARIOS};
use crate::report::{Report, Setup};
use crate::scenario::Env;
use crate::server::{Launcher, PmSource};

/// Measures pm against the physical limits of this machine, in one run.
///
/// Starts a pm server (or targets one with --target and --token), runs the seven scenarios of the
/// benchmark (round_trip, fan_out, write_throughput, idle_cost, rest_context, snapshot,
/// reconnect_storm),
/// each next to a baseline measured in the same run, prints a Markdown table and writes the same
/// results as JSON with --out. The full run takes about five minutes on two cores; --smoke runs
/// every scenario with tiny sizes in well under a minute.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    internal: Option<Internal>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Run only these scenarios (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(SCENARIOS))]
    only: Vec<String>,
    /// Tiny sizes and sub-second windows: proves every scenario runs; measures nothing.
    #[arg(long)]
    smoke: bool,
    /// Seconds per measured window [default: 5].
    #[arg(long, value_name = "SECS")]
    duration_secs: Option<f64>,
    /// Connection counts of the round-trip variants [default: 1,10,100].
    #[arg(long, value_delimiter = ',', value_name = "N,..")]
    round_trip_connections: Option<Vec<usize>>,
    /// Subscriber counts of the one-project fan-out variants [default: 100,1000,5000].
    #[arg(long, value_delimiter = ',', value_name = "N,..")]
    fan_out_subscribers: Option<Vec<usize>>,
    /// Subscribers of the fan-out variant where each is a different user [default: 5000].
    #[arg(long, value_name = "N")]
    fan_out_user_subscribers: Option<usize>,
    /// Work items of the snapshot scenario's project [default: 200].
    #[arg(long, value_name = "N")]
    snapshot_items: Option<usize>,
    /// Deliveries per second offered in fan-out, to pm and the baseline alike [default: 50000].
    #[arg(long, value_name = "N")]
    fan_out_rate: Option<u64>,
    /// Connections writing to one tenant [default: 32].
    #[arg(long, value_name = "N")]
    write_connections: Option<usize>,
    /// Tenants written at once, one connection each [default: 100].
    #[arg(long, value_name = "N")]
    write_tenants: Option<usize>,
    /// Idle subscribed connections [default: 10000; scaled down to the open-file limit].
    #[arg(long, value_name = "N")]
    idle_connections: Option<usize>,
    /// Work items of the REST context projects [default: 200,10000].
    #[arg(long, value_delimiter = ',', value_name = "N,..")]
    rest_items: Option<Vec<usize>>,
    /// Clients of the reconnect storm [default: 5000].
    #[arg(long, value_name = "N")]
    storm_clients: Option<usize>,
    /// The pm-server binary to start [default: pm-server next to this binary, else embedded].
    #[arg(long, value_name = "FILE")]
    server_bin: Option<PathBuf>,
    /// Run pm from this binary (the pm-server library) instead of a pm-server binary.
    #[arg(long, conflicts_with_all = ["server_bin", "target"])]
    embedded_server: bool,
    /// Benchmark a running server instead, e.g. ws://127.0.0.1:8080 (loopback only). One token
    /// means one tenant: the many-tenant variant is skipped.
    #[arg(
        long,
        value_name = "URL",
        requires = "token",
        conflicts_with = "server_bin"
    )]
    target: Option<String>,
    /// Token (tenant admin) for --target.
    #[arg(long, env = "PM_BENCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Process id of the --target server, for its CPU time and memory.
    #[arg(long, value_name = "PID", requires = "target")]
    server_pid: Option<u32>,
    /// Directory for the servers' data and logs [default: a new temporary directory].
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Keep the work directory (databases and server logs) after the run.
    #[arg(long)]
    keep: bool,
    /// Do not pin the servers and the load generator to separate cores.
    #[arg(long)]
    no_pin: bool,
}

#[derive(Debug, Subcommand)]
enum Internal {
    /// The baseline WebSocket/HTTP server (started by pm-bench itself).
    #[command(hide = true)]
    BaselineServer {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// The raw SQLite loop (started by pm-bench itself); prints one JSON line.
    #[command(hide = true)]
    SqliteBaseline {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        databases: usize,
        #[arg(long)]
        duration_ms: u64,
        #[arg(long)]
        payload_bytes: usize,
    },
    /// pm itself, from the pm-server library, with pm-server's `serve` and `token` options.
    #[command(hide = true, subcommand)]
    EmbeddedServer(Embedded),
}

#[derive(Debug, Subcommand)]
enum Embedded {
    Serve {
        #[command(flatten)]
        common: ConfigArgs,
    },
    Token {
        #[command(flatten)]
        common: ConfigArgs,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "admin")]
        role: String,
        /// Lifetime in hours, as `4h`.
        #[arg(long, default_value = "4h")]
        ttl: String,
    },
}

/// The cores servers and generator use when the machine has two or more.
const SERVER_CPU: usize = 0;
const GENERATOR_CPU: usize = 1;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.internal {
        Some(Internal::BaselineServer { listen }) => {
            runtime()?.block_on(baseline::server::serve(listen))
        }
        Some(Internal::SqliteBaseline {
            dir,
            databases,
            duration_ms,
            payload_bytes,
        }) => {
            let result = runtime()?.block_on(baseline::sqlite::run(
                dir,
                databases,
                Duration::from_millis(duration_ms),
                payload_bytes,
            ))?;
            println!("{}", serde_json::to_string(&result)?);
            Ok(())
        }
        Some(Internal::EmbeddedServer(embedded)) => embedded_server(embedded),
        None => bench(cli.run),
    }
}

fn embedded_server(command: Embedded) -> anyhow::Result<()> {
    let secret = std::env::var("PM_JWT_SECRET").ok();
    match command {
        Embedded::Serve { common } => {
            let config = Config::resolve(&common, secret)?;
            runtime()?.block_on(async {
                let listener = tokio::net::TcpListener::bind(config.listen.0)
                    .await
                    .with_context(|| format!("cannot bind {}", config.listen.0))?;
                // Stopped by its parent with a kill; nothing cancels this.
                pm_server::run(config, listener, CancellationToken::new()).await
            })
        }
        Embedded::Token {
            common,
            tenant,
            user,
            role,
            ttl,
        } => {
            let config = Config::resolve(&common, secret)?;
            let keys = pm_server::keys::load(&config)?;
            let signer = pm_auth::Signer::new(&keys).context("the configured keys cannot sign")?;
            let tenant = TenantId::parse(&tenant).map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
            let user = UserId::parse(&user).map_err(|e| anyhow::anyhow!("--user: {e}"))?;
            let role = TenantRole::parse(&role).map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let hours: u64 = ttl
                .strip_suffix('h')
                .and_then(|h| h.parse().ok())
                .context("--ttl: hours, as 4h")?;
            let token = signer.issue(&tenant, &user, role, Duration::from_secs(hours * 3600))?;
            println!("{token}");
            Ok(())
        }
    }
}

/// The plan from `--smoke` or the defaults, then each flag given.
fn plan(args: &RunArgs) -> Plan {
    let mut plan = if args.smoke {
        Plan::smoke()
    } else {
        Plan::full()
    };
    if let Some(secs) = args.duration_secs {
        plan.duration = Duration::from_secs_f64(secs.clamp(0.1, 600.0));
    }
    if let Some(v) = &args.round_trip_connections {
        plan.round_trip_connections = v.clone();
    }
    if let Some(v) = &args.fan_out_subscribers {
        plan.fan_out_subscribers = v.clone();
    }
    if let Some(v) = args.fan_out_user_subscribers {
        plan.fan_out_user_subscribers = v;
    }
    if let Some(v) = args.snapshot_items {
        plan.snapshot_items = v.max(1);
    }
    if let Some(v) = args.fan_out_rate {
        plan.fan_out_deliveries_per_sec = v.max(1);
    }
    if let Some(v) = args.write_connections {
        plan.write_connections = v.max(1);
    }
    if let Some(v) = args.write_tenants {
        plan.write_tenants = v.max(1);
    }
    if let Some(v) = args.idle_connections {
        plan.idle_connections = v.max(1);
    }
    if let Some(v) = &args.rest_items {
        plan.rest_items = v.clone();
    }
    if let Some(v) = args.storm_clients {
        plan.storm_clients = v.max(1);
    }
    plan
}

/// `ws://127.0.0.1:8080`, `http://localhost:8080/ws`, … → the WebSocket URL and the HTTP base.
/// Anything but a loopback host is refused: this tool sends load.
fn target_urls(target: &str) -> anyhow::Result<(String, String)> {
    let rest = ["ws://", "http://"]
        .iter()
        .find_map(|scheme| target.strip_prefix(scheme))
        .context("--target: use ws:// or http:// (no TLS)")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("--target: only loopback addresses (127.0.0.1, localhost, ::1) are allowed");
    }
    Ok((
        format!("ws://{authority}/ws"),
        format!("http://{authority}"),
    ))
}

fn bench(args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let started_at_unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut notes = Vec::new();
    // Pinning first: the runtime sizes itself for the cores this process may use.
    let pinned = !args.no_pin && system::can_pin();
    let (server_cpu, generator_cpu) = if pinned {
        match system::pin_self(GENERATOR_CPU) {
            Ok(()) => (Some(SERVER_CPU), Some(GENERATOR_CPU)),
            Err(e) => {
                notes.push(format!("not pinned: {e:#}"));
                (None, None)
            }
        }
    } else {
        notes.push("not pinned: servers and generator share all cores".to_owned());
        (None, None)
    };
    runtime()?.block_on(async move {
        let plan = plan(&args);
        let own_exe = std::env::current_exe()?;
        let (work_dir, temp) = match &args.work_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                (dir.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new().prefix("pm-bench-").tempdir()?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let data_dir = work_dir.join("pm-data");
        let baseline_dir = work_dir.join("sqlite-baseline");
        std::fs::create_dir_all(&data_dir)?;
        let source = if let Some(target) = &args.target {
            let (ws_url, http_base) = target_urls(target)?;
            PmSource::Target {
                ws_url,
                http_base,
                token: args.token.clone().context("--target needs --token")?,
                pid: args.server_pid,
            }
        } else if args.embedded_server {
            PmSource::Spawn {
                program: own_exe.clone(),
                prefix: vec!["embedded-server".to_owned()],
            }
        } else {
            let sibling = own_exe.with_file_name("pm-server");
            match &args.server_bin {
                Some(bin) => PmSource::Spawn {
                    program: bin.clone(),
                    prefix: Vec::new(),
                },
                None if sibling.is_file() => PmSource::Spawn {
                    program: sibling,
                    prefix: Vec::new(),
                },
                None => {
                    notes.push(format!(
                        "no pm-server next to {}: pm runs embedded in pm-bench",
                        own_exe.display()
                    ));
                    PmSource::Spawn {
                        program: own_exe.clone(),
                        prefix: vec!["embedded-server".to_owned()],
                    }
                }
            }
        };
        let serve_flags = match &source {
            PmSource::Spawn { program, prefix } => serve_flags(program, prefix, &plan).await,
            PmSource::Target { .. } => Vec::new(),
        };
        let machine = system::Machine::describe(&work_dir);
        let launcher = Launcher {
            server_cpu,
            own_exe,
            log_dir: work_dir.clone(),
        };
        let setup = Setup {
            pm_server: source.describe(),
            server_cpu,
            generator_cpu,
            serve_flags: serve_flags.clone(),
            data_dir: data_dir.display().to_string(),
        };
        eprintln!(
            "[pm-bench] pm: {}; servers on CPU {:?}, generator on CPU {:?}; work dir {}",
            setup.pm_server,
            server_cpu,
            generator_cpu,
            work_dir.display()
        );
        let mut env = Env::new(
            plan.clone(),
            launcher,
            source,
            data_dir,
            baseline_dir,
            serve_flags,
        );
        let scenarios = scenario::run_all(&mut env, &args.only).await;
        let targets = report::evaluate(&scenarios, &plan);
        notes.push(format!(
            "load average {:.2} at start, {:.2} at the end (other work on the machine included)",
            machine.load_average_at_start,
            system::load_average()
        ));
        let failed = scenarios
            .iter()
            .filter(|s| s.status.starts_with("failed"))
            .count();
        let report = Report {
            tool: format!("pm-bench {}", env!("CARGO_PKG_VERSION")),
            started_at_unix_s,
            wall_s: started.elapsed().as_secs_f64(),
            machine,
            setup,
            plan,
            scenarios,
            targets,
            notes,
        };
        println!("{}", report.to_markdown());
        for note in &report.notes {
            println!("- {note}");
        }
        if let Some(out) = &args.out {
            std::fs::write(out, serde_json::to_string_pretty(&report)?)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("[pm-bench] results written to {}", out.display());
        }
        match temp {
            Some(temp) if args.keep => {
                let kept = temp.keep();
                eprintln!("[pm-bench] kept {}", kept.display());
            }
            _ => {}
        }
        if failed > 0 {
            bail!("{failed} scenario variant(s) failed");
        }
        Ok(())
    })
}

/// What every spawned pm server is started with: no per-connection rate limit (the benchmark
/// measures the server, not its throttle), connection caps above the largest scenario, and the
/// REST API's rate limit lifted when the server has one.
async fn serve_flags(program: &std::path::Path, prefix: &[String], plan: &Plan) -> Vec<String> {
    let largest = [
        plan.idle_connections,
        plan.storm_clients,
        plan.fan_out_spread_subscribers,
        plan.fan_out_user_subscribers,
    ]
    .into_iter()
    .chain(plan.fan_out_subscribers.iter().copied())
    .max()
    .unwrap_or(0);
    let connections = (largest + 100).to_string();
    let mut flags: Vec<String> = [
        "--commands-per-second",
        "1000000",
        "--command-burst",
        "1000000",
        "--max-connections",
        &connections,
        "--max-connections-per-tenant",
        &connections,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for (flag, value) in [
        ("--api-requests-per-second", "1000000"),
        ("--api-request-burst", "1000000"),
    ] {
        if server::serve_supports(program, prefix, flag).await {
            flags.extend([flag.to_owned(), value.to_owned()]);
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::target_urls;

    #[test]
    fn a_loopback_target_gives_the_websocket_url_and_the_http_base() {
        let expected = (
            "ws://127.0.0.1:8080/ws".to_owned(),
            "http://127.0.0.1:8080".to_owned(),
        );
        assert_eq!(target_urls("ws://127.0.0.1:8080").unwrap(), expected);
        assert_eq!(target_urls("http://127.0.0.1:8080/ws").unwrap(), expected);
        assert!(target_urls("ws://localhost:9000").is_ok());
        assert!(target_urls("ws://[::1]:9000").is_ok());
    }

    #[test]
    fn a_target_off_this_machine_is_refused() {
        assert!(target_urls("ws://10.0.0.5:8080").is_err());
        assert!(target_urls("ws://example.com:8080").is_err());
        assert!(target_urls("wss://127.0.0.1:8080").is_err());
    }
}
