//! The servers under test, as child processes: the pm server (the release `pm-server` binary, or
//! this binary's embedded copy of it), the baseline server and the SQLite baseline, each started
//! under `taskset` on the server core when pinning is possible. Also tokens, which come from the
//! server's own `token` subcommand against the data directory it serves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::baseline::sqlite::SqliteResult;

/// How long a freshly started server may take to answer `/health`.
const STARTUP: Duration = Duration::from_secs(60);

/// Where the pm server comes from.
#[derive(Debug, Clone)]
pub enum PmSource {
    /// Start `program` with `prefix` before its subcommand (`serve`, `token`): the release
    /// `pm-server` with no prefix, or this binary with `embedded-server`.
    Spawn {
        program: PathBuf,
        prefix: Vec<String>,
    },
    /// A server someone else started, reached with one token.
    Target {
        ws_url: String,
        http_base: String,
        token: String,
        pid: Option<u32>,
    },
}

impl PmSource {
    pub fn describe(&self) -> String {
        match self {
            Self::Spawn { program, prefix } if prefix.is_empty() => {
                format!("child process: {}", program.display())
            }
            Self::Spawn { program, prefix } => {
                format!("child process: {} {}", program.display(), prefix.join(" "))
            }
            Self::Target { ws_url, pid, .. } => match pid {
                Some(pid) => format!("target {ws_url} (pid {pid})"),
                None => format!("target {ws_url} (no pid: no server CPU or memory figures)"),
            },
        }
    }
}

/// Where a server listens, and its process when the benchmark can see it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub ws_url: String,
    pub http_base: String,
    pub pid: Option<u32>,
}

/// A running child server; killed when stopped or dropped.
pub struct Running {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
}

impl Running {
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            ws_url: format!("ws://{}/ws", self.addr),
            http_base: format!("http://{}", self.addr),
            pid: Some(self.pid),
        }
    }

    /// Kills the process (a benchmark server holds nothing worth a graceful shutdown: SQLite's WAL
    /// survives it) and reaps it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Starts processes, pinned to `server_cpu` when set.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub server_cpu: Option<usize>,
    pub own_exe: PathBuf,
    /// Logs of the child servers go here.
    pub log_dir: PathBuf,
}

impl Launcher {
    fn command(&self, program: &Path, args: &[String]) -> Command {
        let mut command = match self.server_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(program);
                c
            }
            None => Command::new(program),
        };
        command.args(args).kill_on_drop(true).stdin(Stdio::null());
        command
    }

    /// Starts a server on a free loopback port and waits until `/health` answers.
    pub async fn start(
        &self,
        name: &str,
        program: &Path,
        args: &[String],
    ) -> anyhow::Result<Running> {
        let addr = free_port()?;
        let mut args = args.to_vec();
        args.extend(["--listen".to_owned(), addr.to_string()]);
        let log_path = self.log_dir.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot write {}", log_path.display()))?;
        let mut child = self
            .command(program, &args)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", program.display()))?;
        let pid = child.id().context("the child exited at once")?;
        let health = format!("http://{addr}/health");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{name} exited with {status} while starting; see {}",
                    log_path.display()
                );
            }
            if let Ok(response) = http.get(&health).send().await
                && response.status().is_success()
            {
                return Ok(Running { child, pid, addr });
            }
            if Instant::now() > deadline {
                bail!("{name} did not become healthy; see {}", log_path.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The baseline server (this binary's `baseline-server`).
    pub async fn start_baseline(&self) -> anyhow::Result<Running> {
        self.start(
            "baseline-server",
            &self.own_exe,
            &["baseline-server".to_owned()],
        )
        .await
    }

    /// Runs the SQLite baseline in its own pinned process and reads its one-line JSON result.
    pub async fn sqlite_baseline(
        &self,
        dir: &Path,
        databases: usize,
        duration: Duration,
        payload_bytes: usize,
    ) -> anyhow::Result<SqliteResult> {
        let args = [
            "sqlite-baseline".to_owned(),
            "--dir".to_owned(),
            dir.display().to_string(),
            "--databases".to_owned(),
            databases.to_string(),
            "--duration-ms".to_owned(),
            duration.as_millis().to_string(),
            "--payload-bytes".to_owned(),
            payload_bytes.to_string(),
        ];
        let output = self
            .command(&self.own_exe, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "the SQLite baseline failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let stdout = String::from_utf8(output.stdout)?;
        let line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .context("the SQLite baseline printed nothing")?;
        serde_json::from_str(line).context("the SQLite baseline printed no result")
    }
}

/// Signs a token with the server's own `token` subcommand against `data_dir` (the development key
/// the server generated there). Every benchmark user is a tenant admin: admins see every project,
/// so no membership setup is needed.
pub async fn issue_token(
    program: &Path,
    prefix: &[String],
    data_dir: &Path,
    tenant: &str,
    user: &str,
) -> anyhow::Result<String> {
    let output = Command::new(program)
        .args(prefix)
        .arg("token")
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--tenant", tenant, "--user", user, "--role", "admin", "--ttl", "4h",
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {} token", program.display()))?;
    if !output.status.success() {
        bail!(
            "{} token failed: {}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8(output.stdout)?;
    stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
        .context("the token command printed no token")
}

/// A loopback port nobody listens on right now (the child binds it a moment later).
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// Whether `pm-server serve` knows a flag (newer servers gain settings, e.g. the REST API's rate
/// limit): read from its `--help`.
pub async fn serve_supports(program: &Path, prefix: &[String], flag: &str) -> bool {
    Command::new(program)
        .args(prefix)
        .args(["serve", "--help"])
        .stdin(Stdio::null())
        .output()
        .await
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(flag))
}
