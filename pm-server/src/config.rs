//! One typed configuration, resolved from (lowest to highest precedence) built-in defaults, an
//! optional TOML file, `PM_*` environment variables and command-line flags. Environment variables
//! and flags arrive together through clap (a flag wins over its variable).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;

/// Settings shared by every subcommand that touches the server's data or keys.
#[derive(Debug, Clone, Args, Default)]
pub struct ConfigArgs {
    /// TOML configuration file; its settings are overridden by PM_* variables and flags.
    #[arg(long, env = "PM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding tenant databases and the development signing key [default: ./data].
    #[arg(long, env = "PM_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Token algorithm: HS256 (shared secret) or RS256 (PEM public key) [default: HS256].
    #[arg(long, env = "PM_JWT_ALGORITHM", value_name = "ALG")]
    pub jwt_algorithm: Option<String>,
    /// File holding the HS256 shared secret (at least 32 bytes). Without it (and without
    /// PM_JWT_SECRET) a development key is generated into the data directory.
    #[arg(long, env = "PM_JWT_SECRET_FILE", value_name = "FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// PEM public key that verifies RS256 tokens.
    #[arg(long, env = "PM_JWT_PUBLIC_KEY_FILE", value_name = "FILE")]
    pub jwt_public_key_file: Option<PathBuf>,
    /// PEM private key, so that `pm-server token` can sign RS256 tokens.
    #[arg(long, env = "PM_JWT_PRIVATE_KEY_FILE", value_name = "FILE")]
    pub jwt_private_key_file: Option<PathBuf>,
    /// Clock leeway for token expiry and not-before, in seconds [default: 30].
    #[arg(long, env = "PM_JWT_LEEWAY_SECS", value_name = "SECS")]
    pub jwt_leeway_secs: Option<u64>,
}

/// Settings only the server reads.
#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PM_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Largest inbound WebSocket frame in bytes [default: 1048576].
    #[arg(long, env = "PM_MAX_FRAME_BYTES")]
    pub max_frame_bytes: Option<usize>,
    /// Sustained commands per second per connection [default: 50].
    #[arg(long, env = "PM_COMMANDS_PER_SECOND")]
    pub commands_per_second: Option<u32>,
    /// Commands a connection may send in a burst [default: 100].
    #[arg(long, env = "PM_COMMAND_BURST")]
    pub command_burst: Option<u32>,
    /// Server heartbeat (WebSocket ping) interval in milliseconds [default: 15000].
    #[arg(long, env = "PM_HEARTBEAT_MS")]
    pub heartbeat_ms: Option<u64>,
    /// Close a connection silent for this many milliseconds [default: 45000].
    #[arg(long, env = "PM_IDLE_TIMEOUT_MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Frames queued per connection before it must resync [default: 1024].
    #[arg(long, env = "PM_OUTBOUND_QUEUE")]
    pub outbound_queue: Option<usize>,
    /// Close a connection whose single write takes longer, in milliseconds [default: 10000].
    #[arg(long, env = "PM_WRITE_TIMEOUT_MS")]
    pub write_timeout_ms: Option<u64>,
    /// Maximum open WebSocket connections [default: 15000].
    #[arg(long, env = "PM_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Maximum open WebSocket connections per tenant [default: 5000].
    #[arg(long, env = "PM_MAX_CONNECTIONS_PER_TENANT")]
    pub max_connections_per_tenant: Option<usize>,
    /// Maximum tenant databases open at once [default: 256].
    #[arg(long, env = "PM_MAX_OPEN_TENANTS")]
    pub max_open_tenants: Option<usize>,
    /// Close a tenant database unused for this many seconds [default: 600].
    #[arg(long, env = "PM_TENANT_IDLE_SECS")]
    pub tenant_idle_secs: Option<u64>,
    /// Change-log entries kept per tenant for resuming clients [default: 100000].
    #[arg(long, env = "PM_CHANGE_LOG_MAX_ROWS")]
    pub change_log_max_rows: Option<i64>,
    /// Change-log entries older than this many seconds are purged [default: 604800].
    #[arg(long, env = "PM_CHANGE_LOG_MAX_AGE_SECS")]
    pub change_log_max_age_secs: Option<u64>,
    /// Replies to processed requests are kept this many seconds for retries [default: 86400].
    #[arg(long, env = "PM_IDEMPOTENCY_MAX_AGE_SECS")]
    pub idempotency_max_age_secs: Option<u64>,
    /// How often maintenance (purges, WAL checkpoints, closing idle tenants) runs, in seconds
    /// [default: 30].
    #[arg(long, env = "PM_MAINTENANCE_INTERVAL_SECS")]
    pub maintenance_interval_secs: Option<u64>,
}

/// The TOML file: every setting optional, names as in `docs/deployment.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    jwt_algorithm: Option<String>,
    jwt_secret_file: Option<PathBuf>,
    jwt_public_key_file: Option<PathBuf>,
    jwt_private_key_file: Option<PathBuf>,
    jwt_leeway_secs: Option<u64>,
    max_frame_bytes: Option<usize>,
    commands_per_second: Option<u32>,
    command_burst: Option<u32>,
    heartbeat_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    outbound_queue: Option<usize>,
    write_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_tenant: Option<usize>,
    max_open_tenants: Option<usize>,
    tenant_idle_secs: Option<u64>,
    change_log_max_rows: Option<i64>,
    change_log_max_age_secs: Option<u64>,
    idempotency_max_age_secs: Option<u64>,
    maintenance_interval_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub algorithm: JwtAlgorithm,
    /// The HS256 secret, from PM_JWT_SECRET (never from a flag, so it stays out of `ps`).
    pub secret: Option<Vec<u8>>,
    pub secret_file: Option<PathBuf>,
    pub public_key_file: Option<PathBuf>,
    pub private_key_file: Option<PathBuf>,
    pub leeway_secs: u64,
}

/// The resolved, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub auth: AuthConfig,
    pub limits: pm_ws::Limits,
    pub max_open_tenants: usize,
    pub tenant_idle: Duration,
    pub retention: pm_ws::Retention,
    pub maintenance_interval: Duration,
}

impl Config {
    /// Defaults only, with data under `data_dir`: what tests start from.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: data_dir.into(),
            auth: AuthConfig {
                algorithm: JwtAlgorithm::Hs256,
                secret: None,
                secret_file: None,
                public_key_file: None,
                private_key_file: None,
                leeway_secs: pm_auth::DEFAULT_LEEWAY_SECS,
            },
            limits: pm_ws::Limits::default(),
            max_open_tenants: 256,
            tenant_idle: Duration::from_secs(600),
            retention: pm_ws::Retention::default(),
            maintenance_interval: Duration::from_secs(30),
        }
    }

    /// Resolves the layers. `secret_env` is the value of PM_JWT_SECRET, if set.
    pub fn resolve(
        common: &ConfigArgs,
        serve: &ServeArgs,
        secret_env: Option<String>,
    ) -> anyhow::Result<Self> {
        let file = match &common.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut c = Self::for_data_dir(
            common
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("data")),
        );
        if let Some(listen) = serve.listen.or(file.listen) {
            c.listen = listen;
        }
        c.auth.algorithm = match common
            .jwt_algorithm
            .clone()
            .or(file.jwt_algorithm)
            .as_deref()
        {
            None | Some("HS256") => JwtAlgorithm::Hs256,
            Some("RS256") => JwtAlgorithm::Rs256,
            Some(other) => bail!("jwt_algorithm: expected HS256 or RS256, got {other:?}"),
        };
        c.auth.secret = secret_env.map(String::into_bytes);
        c.auth.secret_file = common.jwt_secret_file.clone().or(file.jwt_secret_file);
        c.auth.public_key_file = common
            .jwt_public_key_file
            .clone()
            .or(file.jwt_public_key_file);
        c.auth.private_key_file = common
            .jwt_private_key_file
            .clone()
            .or(file.jwt_private_key_file);
        if let Some(leeway) = common.jwt_leeway_secs.or(file.jwt_leeway_secs) {
            c.auth.leeway_secs = leeway;
        }
        let l = &mut c.limits;
        macro_rules! layer {
            ($field:ident => $target:expr) => {
                if let Some(v) = serve.$field.or(file.$field) {
                    $target = v;
                }
            };
        }
        layer!(max_frame_bytes => l.max_frame_bytes);
        layer!(commands_per_second => l.commands_per_second);
        layer!(command_burst => l.command_burst);
        layer!(outbound_queue => l.outbound_queue);
        layer!(max_connections => l.max_connections);
        layer!(max_connections_per_tenant => l.max_connections_per_tenant);
        if let Some(ms) = serve.heartbeat_ms.or(file.heartbeat_ms) {
            l.heartbeat_interval = Duration::from_millis(ms);
        }
        if let Some(ms) = serve.idle_timeout_ms.or(file.idle_timeout_ms) {
            l.idle_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = serve.write_timeout_ms.or(file.write_timeout_ms) {
            l.write_timeout = Duration::from_millis(ms);
        }
        layer!(max_open_tenants => c.max_open_tenants);
        if let Some(secs) = serve.tenant_idle_secs.or(file.tenant_idle_secs) {
            c.tenant_idle = Duration::from_secs(secs);
        }
        layer!(change_log_max_rows => c.retention.change_log_max_rows);
        if let Some(secs) = serve
            .change_log_max_age_secs
            .or(file.change_log_max_age_secs)
        {
            c.retention.change_log_max_age = Duration::from_secs(secs);
        }
        if let Some(secs) = serve
            .idempotency_max_age_secs
            .or(file.idempotency_max_age_secs)
        {
            c.retention.idempotency_max_age = Duration::from_secs(secs);
        }
        if let Some(secs) = serve
            .maintenance_interval_secs
            .or(file.maintenance_interval_secs)
        {
            c.maintenance_interval = Duration::from_secs(secs);
        }
        c.validate()?;
        Ok(c)
    }

    /// Refuses settings that cannot work, naming the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        let l = &self.limits;
        let positive = [
            ("max_frame_bytes", l.max_frame_bytes),
            ("commands_per_second", l.commands_per_second as usize),
            ("command_burst", l.command_burst as usize),
            ("outbound_queue", l.outbound_queue),
            ("max_connections", l.max_connections),
            ("max_connections_per_tenant", l.max_connections_per_tenant),
            ("max_open_tenants", self.max_open_tenants),
        ];
        for (name, value) in positive {
            if value == 0 {
                bail!("{name} must be greater than 0");
            }
        }
        if l.heartbeat_interval.is_zero() {
            bail!("heartbeat_ms must be greater than 0");
        }
        if l.idle_timeout <= l.heartbeat_interval {
            bail!("idle_timeout_ms must be longer than heartbeat_ms");
        }
        if self.retention.change_log_max_rows < 1 {
            bail!("change_log_max_rows must be at least 1");
        }
        if self.maintenance_interval.is_zero() {
            bail!("maintenance_interval_secs must be greater than 0");
        }
        if l.write_timeout.is_zero() {
            bail!("write_timeout_ms must be greater than 0");
        }
        if self.auth.algorithm == JwtAlgorithm::Rs256 && self.auth.public_key_file.is_none() {
            bail!("jwt_public_key_file is required when jwt_algorithm is RS256");
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("config: cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config: {} is not valid", path.display()))
}
