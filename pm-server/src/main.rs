use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pm_core::{TenantId, TenantRole, UserId};
use pm_server::config::{Config, ConfigArgs, ServeArgs};
use tokio_util::sync::CancellationToken;

/// pm: a real-time, multi-tenant agile project-management server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve /ws, /health and /ready until SIGINT or SIGTERM.
    Serve {
        #[command(flatten)]
        common: ConfigArgs,
        #[command(flatten)]
        serve: ServeArgs,
    },
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let secret = std::env::var("PM_JWT_SECRET").ok();
    match cli.command {
        Command::Serve { common, serve } => {
            let config = Config::resolve(&common, &serve, secret)?;
            tokio::runtime::Runtime::new()?.block_on(serve_until_signal(config))
        }
        Command::Token {
            common,
            tenant,
            user,
            role,
            ttl,
        } => {
            let config = Config::resolve(&common, &ServeArgs::default(), secret)?;
            let keys = pm_server::keys::load(&config)?;
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

async fn serve_until_signal(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listen: cannot bind {}", config.listen))?;
    if pm_server::keys::uses_dev_key(&config) {
        print_dev_sign_in(&config, listener.local_addr()?)?;
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    pm_server::run(config, listener, shutdown).await
}

/// On the development key, prints a token for a demo admin so a newcomer can sign in at once.
fn print_dev_sign_in(config: &Config, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let keys = pm_server::keys::load(config)?;
    let signer = pm_auth::Signer::new(&keys)?;
    let tenant = TenantId::parse("demo").map_err(|e| anyhow::anyhow!("{e}"))?;
    let user = UserId::parse("demo").map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = signer.issue(&tenant, &user, TenantRole::Admin, Duration::from_secs(8 * 3600))?;
    println!("pm is listening on http://{addr} (WebSocket: ws://{addr}/ws)");
    println!("Development sign-in for user \"demo\" (admin of tenant \"demo\"), valid 8 hours:");
    println!("{token}");
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
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// Parses durations such as `90s`, `30m`, `8h`, `7d`.
fn parse_ttl(text: &str) -> anyhow::Result<Duration> {
    let (number, unit) = text.split_at(text.trim_end_matches(char::is_alphabetic).len());
    let n: u64 = number
        .parse()
        .with_context(|| format!("--ttl: {text:?} is not like 8h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => anyhow::bail!("--ttl: unit must be s, m, h or d"),
    };
    Ok(Duration::from_secs(secs))
}
