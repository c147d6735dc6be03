use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pm_core::{TenantId, TenantRole, UserId};
use pm_server::config::{Config, ConfigArgs, LogFormat};
use tokio_util::sync::CancellationToken;

/// pm: a real-time, multi-tenant agile project-management server.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Settings: `pm-server serve --help` lists every one as a flag with its PM_* \
                  environment variable; the same names, with underscores, are the keys of the \
                  --config TOML file (docs/deployment.md). `pm-server config` prints the \
                  effective settings."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve /ws, /api/v1, /mcp, /health, /ready and /metrics until SIGINT or SIGTERM.
    Serve {
        #[command(flatten)]
        common: ConfigArgs,
    },
    /// Print the effective configuration (after file, environment and flags), then exit.
    Config {
        #[command(flatten)]
        common: ConfigArgs,
    },
    /// Apply the database migrations to every tenant under the data directory, then exit.
    Migrate {
        #[command(flatten)]
        common: ConfigArgs,
        /// Succeed when the data directory holds no tenant database yet (it must still exist).
        #[arg(long)]
        allow_empty: bool,
    },
    /// Copy every tenant database, consistently, into DIR (safe while the server runs).
    Backup {
        #[command(flatten)]
        common: ConfigArgs,
        /// Target directory; must not contain a backup already.
        #[arg(long, value_name = "DIR")]
        to: std::path::PathBuf,
        /// Succeed when the data directory holds no tenant database (it must still exist).
        #[arg(long)]
        allow_empty: bool,
    },
    /// Restore one tenant's database from a backup, with the server stopped. Starts a new history
    /// epoch, so clients that knew the replaced history take fresh snapshots instead of resuming.
    Restore {
        #[command(flatten)]
        common: ConfigArgs,
        /// The tenant to restore.
        #[arg(long)]
        tenant: String,
        /// The backup's database file (`<backup>/tenants/<tenant>/pm.sqlite3`).
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
    },
    /// Print the OpenAPI 3.1 document of the REST API (as served at /api/v1/openapi.json).
    Openapi,
    /// Print a token signed with the server's key, for a person or a script to sign in with.
    Token {
        #[command(flatten)]
        common: ConfigArgs,
        /// Tenant the token is for.
        #[arg(long)]
        tenant: String,
        /// User id (the token's `sub`).
        #[arg(long)]
        user: String,
        /// Tenant role: viewer, editor or admin.
        #[arg(long, default_value = "editor")]
        role: String,
        /// Lifetime, e.g. 30m, 8h, 7d.
        #[arg(long, default_value = "8h")]
        ttl: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let secret = std::env::var("PM_JWT_SECRET").ok();
    match cli.command {
        Command::Serve { common } => {
            let config = Config::resolve(&common, secret)?;
            init_logging(config.log_format, &config.log_level)?;
            tokio::runtime::Runtime::new()?.block_on(serve_until_signal(config))
        }
        Command::Config { common } => {
            let config = Config::resolve(&common, secret)?;
            let mut out = std::io::stdout().lock();
            out.write_all(config.to_toml()?.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write the configuration to stdout")
        }
        Command::Migrate {
            common,
            allow_empty,
        } => {
            let config = Config::resolve(&common, secret)?;
            init_logging(config.log_format, &config.log_level)?;
            let migrated = tokio::runtime::Runtime::new()?
                .block_on(pm_server::admin::migrate(&config, when_empty(allow_empty)))?;
            println!("migrated {migrated} tenant database(s)");
            Ok(())
        }
        Command::Backup {
            common,
            to,
            allow_empty,
        } => {
            let config = Config::resolve(&common, secret)?;
            init_logging(config.log_format, &config.log_level)?;
            let copied = tokio::runtime::Runtime::new()?.block_on(pm_server::admin::backup(
                &config,
                &to,
                when_empty(allow_empty),
            ))?;
            println!("backed up {copied} tenant database(s) to {}", to.display());
            Ok(())
        }
        Command::Restore {
            common,
            tenant,
            from,
        } => {
            let config = Config::resolve(&common, secret)?;
            init_logging(config.log_format, &config.log_level)?;
            let restored = tokio::runtime::Runtime::new()?
                .block_on(pm_server::admin::restore(&config, &tenant, &from))?;
            println!(
                "restored tenant {tenant} from {} at seq {} in a new history epoch {}",
                from.display(),
                restored.head_seq,
                restored.history_epoch
            );
            Ok(())
        }
        Command::Openapi => {
            println!("{}", pm_server::openapi_document()?);
            Ok(())
        }
        Command::Token {
            common,
            tenant,
            user,
            role,
            ttl,
        } => {
            let config = Config::resolve(&common, secret)?;
            let keys = pm_server::keys::load_existing(&config)?;
            let signer = pm_auth::Signer::new(&keys).context("the configured keys cannot sign")?;
            let tenant = TenantId::parse(&tenant).map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
            let user = UserId::parse(&user).map_err(|e| anyhow::anyhow!("--user: {e}"))?;
            let role = TenantRole::parse(&role).map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let token = signer.issue(&tenant, &user, role, parse_ttl(&ttl)?)?;
            println!("{token}");
            Ok(())
        }
    }
}

fn when_empty(allow_empty: bool) -> pm_server::admin::WhenEmpty {
    if allow_empty {
        pm_server::admin::WhenEmpty::Allow
    } else {
        pm_server::admin::WhenEmpty::Refuse
    }
}

/// Logs go to stderr: human-readable or JSON lines, filtered by RUST_LOG when set, else by the
/// configured level.
fn init_logging(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => tracing_subscriber::EnvFilter::try_new(env)?,
        _ => tracing_subscriber::EnvFilter::try_new(level)
            .context("log_level is not a valid filter")?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// Standard error for logs, where a failed write is dropped. Logging must never stop the work that
/// logs: with the default writer, a write to a closed pipe (journald restarted, the reader of
/// `2>&1 | …` gone) is reported with `eprintln!`, which panics on the same closed pipe and takes
/// the logging task down with it.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

async fn serve_until_signal(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen.0)
        .await
        .with_context(|| format!("listen: cannot bind {}", config.listen.0))?;
    let signer = pm_auth::Signer::new(&pm_server::keys::load(&config)?).ok();
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    pm_server::serve(config, listener, shutdown, |ready| {
        // A closed stdout must not stop the server, as `println!` would by panicking.
        let _ = print_banner(&mut std::io::stdout().lock(), &ready, signer.as_ref());
    })
    .await
}

/// Says where the server listens, once it is ready, and, when the demo tenant exists and the
/// server can sign tokens, a sign-in link (the web client reads the token from the fragment) and
/// the token on its own for the demo admin, so a newcomer can sign in at once.
fn print_banner(
    out: &mut dyn std::io::Write,
    ready: &pm_server::Ready,
    signer: Option<&pm_auth::Signer>,
) -> anyhow::Result<()> {
    let addr = ready.addr;
    writeln!(out)?;
    writeln!(
        out,
        "  pm is listening on http://{addr}  (WebSocket: ws://{addr}/ws)"
    )?;
    // RS256 without a private key cannot sign: tokens come from the identity provider.
    match signer {
        Some(signer) if ready.demo_tenant_exists => {
            let tenant =
                TenantId::parse(pm_server::demo::TENANT).map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = UserId::parse(pm_server::demo::USER).map_err(|e| anyhow::anyhow!("{e}"))?;
            let token = signer.issue(
                &tenant,
                &user,
                TenantRole::Admin,
                Duration::from_secs(8 * 3600),
            )?;
            writeln!(out, "  Sign in as the demo admin (valid 8 hours):")?;
            writeln!(out, "    http://{addr}/#token={token}")?;
            writeln!(out, "  Token alone, for the API and scripts:")?;
            writeln!(out, "    {token}")?;
        }
        Some(_) => {
            writeln!(
                out,
                "  No demo tenant: start with --demo for sample data, or sign a token with"
            )?;
            writeln!(
                out,
                "    pm-server token --tenant T --user U --role admin  (with this --data-dir)"
            )?;
        }
        None => {}
    }
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    shutdown.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    // Cancel first: the shutdown must not depend on anything after it, logging included.
    shutdown.cancel();
    tracing::info!("shutting down");
}

/// Parses durations such as `90s`, `30m`, `8h`, `7d`.
fn parse_ttl(text: &str) -> anyhow::Result<Duration> {
    let (number, unit) = text.split_at(text.trim_end_matches(char::is_alphabetic).len());
    let n: u64 = number
        .parse()
        .with_context(|| format!("--ttl: {text:?} is not like 8h"))?;
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => anyhow::bail!("--ttl: unit must be s, m, h or d"),
    };
    // The token's expiry must be an instant pm accepts (before the end of year 9999).
    let latest_secs = (pm_core::TIMESTAMP_MAX_MS - pm_core::Timestamp::now().as_millis()) / 1000;
    n.checked_mul(unit_secs)
        .filter(|secs| i64::try_from(*secs).is_ok_and(|secs| secs <= latest_secs))
        .map(Duration::from_secs)
        .with_context(|| format!("--ttl: {text:?} is too long: the token would outlive year 9999"))
}
