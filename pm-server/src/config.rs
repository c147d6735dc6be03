//! One typed configuration, resolved from (lowest to highest precedence) built-in defaults, an
//! optional TOML file, `PM_*` environment variables and command-line flags. Environment variables
//! and flags arrive together through clap (a flag wins over its variable).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
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
    /// Address to listen on, IP:PORT or HOST:PORT (e.g. localhost:9000) [default: 127.0.0.1:8080].
    #[arg(long, env = "PM_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
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
    /// Seed the demo tenant (a realistic project) on start, unless it exists already.
    #[arg(long, env = "PM_DEMO")]
    pub demo: bool,
    /// Log format: text (human-readable) or json [default: text].
    #[arg(long, env = "PM_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log filter when RUST_LOG is not set, e.g. info or pm_ws=debug,info [default: info].
    #[arg(long, env = "PM_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Serve /metrics on this address only (e.g. a private interface) instead of the main one.
    #[arg(long, env = "PM_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Require `Authorization: Bearer <token>` on /metrics. Prefer the environment variable.
    #[arg(
        long,
        env = "PM_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Browser origins allowed to call the REST API (CORS), comma-separated, e.g.
    /// https://pm.example.com [default: none: CORS off].
    #[arg(
        long,
        env = "PM_CORS_ALLOWED_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Sustained REST API requests per second per user [default: 20].
    #[arg(long, env = "PM_API_REQUESTS_PER_SECOND")]
    pub api_requests_per_second: Option<u32>,
    /// REST API requests a user may send in a burst [default: 100].
    #[arg(long, env = "PM_API_REQUEST_BURST")]
    pub api_request_burst: Option<u32>,
    /// Serve the MCP endpoint `/mcp` for LLM agents [default: true].
    #[arg(long, env = "PM_MCP_ENABLED")]
    pub mcp_enabled: Option<bool>,
    /// Offer MCP write tools (to editors and admins) [default: true].
    #[arg(long, env = "PM_MCP_WRITE_TOOLS")]
    pub mcp_write_tools: Option<bool>,
    /// Sustained MCP requests per second per user [default: 10].
    #[arg(long, env = "PM_MCP_REQUESTS_PER_SECOND")]
    pub mcp_requests_per_second: Option<u32>,
    /// MCP requests a user may send in a burst [default: 50].
    #[arg(long, env = "PM_MCP_REQUEST_BURST")]
    pub mcp_request_burst: Option<u32>,
    /// Serve the web client from this directory (a built frontend/dist) instead of the copy
    /// built into the binary.
    #[arg(long, env = "PM_WEB_DIR", value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// This node's name in a cluster, as the placement file names it (docs/scaling.md).
    #[arg(long, env = "PM_NODE_NAME", value_name = "NAME")]
    pub node_name: Option<String>,
    /// The cluster's placement file (HAProxy map syntax), shared with the router.
    #[arg(long, env = "PM_PLACEMENT_FILE", value_name = "FILE")]
    pub placement_file: Option<PathBuf>,
    /// Require `Authorization: Bearer <secret>` on /cluster/v1 (tenant moves); without it those
    /// endpoints are off. Prefer the environment variable.
    #[arg(
        long,
        env = "PM_CLUSTER_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub cluster_secret: Option<String>,
}

/// The TOML file: every setting optional, names as in `docs/deployment.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
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
    metrics_listen: Option<String>,
    metrics_token: Option<String>,
    log_format: Option<String>,
    log_level: Option<String>,
    demo: Option<bool>,
    cors_allowed_origins: Option<Vec<String>>,
    api_requests_per_second: Option<u32>,
    api_request_burst: Option<u32>,
    mcp_enabled: Option<bool>,
    mcp_write_tools: Option<bool>,
    mcp_requests_per_second: Option<u32>,
    mcp_request_burst: Option<u32>,
    web_dir: Option<PathBuf>,
    node_name: Option<String>,
    placement_file: Option<PathBuf>,
    cluster_secret: Option<String>,
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
    pub secret: Option<SecretSlice<u8>>,
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
    pub metrics_listen: Option<SocketAddr>,
    pub metrics_token: Option<SecretString>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Seed the demo tenant on start.
    pub demo: bool,
    /// Browser origins allowed to call the REST API; empty: CORS is off.
    pub cors_allowed_origins: Vec<String>,
    /// The REST API's per-user rate limit: sustained requests per second and burst.
    pub api_requests_per_second: u32,
    pub api_request_burst: u32,
    /// Whether `/mcp` is served.
    pub mcp_enabled: bool,
    /// Whether MCP offers write tools (to callers whose role may use them).
    pub mcp_write_tools: bool,
    /// The MCP endpoint's per-user rate limit: sustained requests per second and burst.
    pub mcp_requests_per_second: u32,
    pub mcp_request_burst: u32,
    /// The web client's files on disk; None: the copy built into the binary.
    pub web_dir: Option<PathBuf>,
    /// This node's name in a cluster (with `placement_file`); None: a single node.
    pub node_name: Option<crate::cluster::NodeName>,
    /// The cluster's placement file, shared with HAProxy (with `node_name`).
    pub placement_file: Option<PathBuf>,
    /// Protects the node's `/cluster/v1` endpoints (moves, status).
    pub cluster_secret: Option<SecretString>,
}

/// One setting's effective value as `pm-server config` shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// The value, typed as the TOML file takes it.
    Value(toml::Value),
    /// An optional setting without a value.
    Unset,
    /// A secret that is set; its value is never shown.
    Redacted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
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
            metrics_listen: None,
            metrics_token: None,
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            demo: false,
            cors_allowed_origins: Vec::new(),
            api_requests_per_second: 20,
            api_request_burst: 100,
            mcp_enabled: true,
            mcp_write_tools: true,
            // An agent thinks between calls: fewer calls than a script, in smaller bursts.
            mcp_requests_per_second: 10,
            mcp_request_burst: 50,
            web_dir: None,
            node_name: None,
            placement_file: None,
            cluster_secret: None,
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
        if let Some(listen) = address("listen", serve.listen.as_deref(), file.listen.as_deref())? {
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
        c.auth.secret = secret_env.map(|s| SecretSlice::from(s.into_bytes()));
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
        c.metrics_listen = address(
            "metrics_listen",
            serve.metrics_listen.as_deref(),
            file.metrics_listen.as_deref(),
        )?;
        c.metrics_token = serve
            .metrics_token
            .clone()
            .or(file.metrics_token)
            .map(SecretString::from);
        c.log_format = match serve.log_format.clone().or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("log_format: expected text or json, got {other:?}"),
        };
        if let Some(level) = serve.log_level.clone().or(file.log_level) {
            c.log_level = level;
        }
        c.demo = serve.demo || file.demo.unwrap_or(false);
        if let Some(origins) = serve
            .cors_allowed_origins
            .clone()
            .or(file.cors_allowed_origins)
        {
            c.cors_allowed_origins = origins
                .iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        layer!(api_requests_per_second => c.api_requests_per_second);
        layer!(api_request_burst => c.api_request_burst);
        layer!(mcp_enabled => c.mcp_enabled);
        layer!(mcp_write_tools => c.mcp_write_tools);
        layer!(mcp_requests_per_second => c.mcp_requests_per_second);
        layer!(mcp_request_burst => c.mcp_request_burst);
        c.web_dir = serve.web_dir.clone().or(file.web_dir);
        c.node_name = serve
            .node_name
            .clone()
            .or(file.node_name)
            .map(|name| crate::cluster::NodeName::parse(&name))
            .transpose()
            .context("node_name")?;
        c.placement_file = serve.placement_file.clone().or(file.placement_file);
        c.cluster_secret = serve
            .cluster_secret
            .clone()
            .or(file.cluster_secret)
            .map(SecretString::from);
        c.validate()?;
        Ok(c)
    }

    /// Every setting by its name (as in the TOML file and `docs/deployment.md`) with its effective
    /// value, typed as the file takes it; secrets show only whether they are set.
    pub fn describe(&self) -> Vec<(&'static str, Shown)> {
        use toml::Value;
        let path = |p: &Option<PathBuf>| {
            p.as_ref().map_or(Shown::Unset, |p| {
                Shown::Value(p.display().to_string().into())
            })
        };
        let secret = |set: bool| if set { Shown::Redacted } else { Shown::Unset };
        let int = |n: u128| Shown::Value(Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)));
        let text = |t: &str| Shown::Value(t.into());
        let flag = |b: bool| Shown::Value(b.into());
        let l = &self.limits;
        vec![
            ("listen", text(&self.listen.to_string())),
            ("data_dir", text(&self.data_dir.display().to_string())),
            (
                "jwt_algorithm",
                text(match self.auth.algorithm {
                    JwtAlgorithm::Hs256 => "HS256",
                    JwtAlgorithm::Rs256 => "RS256",
                }),
            ),
            ("jwt_secret", secret(self.auth.secret.is_some())),
            ("jwt_secret_file", path(&self.auth.secret_file)),
            ("jwt_public_key_file", path(&self.auth.public_key_file)),
            ("jwt_private_key_file", path(&self.auth.private_key_file)),
            ("jwt_leeway_secs", int(self.auth.leeway_secs.into())),
            ("max_frame_bytes", int(l.max_frame_bytes as u128)),
            ("commands_per_second", int(l.commands_per_second.into())),
            ("command_burst", int(l.command_burst.into())),
            ("heartbeat_ms", int(l.heartbeat_interval.as_millis())),
            ("idle_timeout_ms", int(l.idle_timeout.as_millis())),
            ("outbound_queue", int(l.outbound_queue as u128)),
            ("write_timeout_ms", int(l.write_timeout.as_millis())),
            ("max_connections", int(l.max_connections as u128)),
            (
                "max_connections_per_tenant",
                int(l.max_connections_per_tenant as u128),
            ),
            ("max_open_tenants", int(self.max_open_tenants as u128)),
            ("tenant_idle_secs", int(self.tenant_idle.as_secs().into())),
            (
                "change_log_max_rows",
                Shown::Value(self.retention.change_log_max_rows.into()),
            ),
            (
                "change_log_max_age_secs",
                int(self.retention.change_log_max_age.as_secs().into()),
            ),
            (
                "idempotency_max_age_secs",
                int(self.retention.idempotency_max_age.as_secs().into()),
            ),
            (
                "maintenance_interval_secs",
                int(self.maintenance_interval.as_secs().into()),
            ),
            ("demo", flag(self.demo)),
            (
                "log_format",
                text(match self.log_format {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                }),
            ),
            ("log_level", text(&self.log_level)),
            (
                "metrics_listen",
                self.metrics_listen
                    .map_or(Shown::Unset, |a| text(&a.to_string())),
            ),
            ("metrics_token", secret(self.metrics_token.is_some())),
            (
                "cors_allowed_origins",
                Shown::Value(Value::Array(
                    self.cors_allowed_origins
                        .iter()
                        .map(|o| o.as_str().into())
                        .collect(),
                )),
            ),
            (
                "api_requests_per_second",
                int(self.api_requests_per_second.into()),
            ),
            ("api_request_burst", int(self.api_request_burst.into())),
            ("mcp_enabled", flag(self.mcp_enabled)),
            ("mcp_write_tools", flag(self.mcp_write_tools)),
            (
                "mcp_requests_per_second",
                int(self.mcp_requests_per_second.into()),
            ),
            ("mcp_request_burst", int(self.mcp_request_burst.into())),
            ("web_dir", path(&self.web_dir)),
            (
                "node_name",
                self.node_name
                    .as_ref()
                    .map_or(Shown::Unset, |n| text(n.as_str())),
            ),
            ("placement_file", path(&self.placement_file)),
            ("cluster_secret", secret(self.cluster_secret.is_some())),
        ]
    }

    /// The effective configuration as a TOML file that `--config` reads back to the same
    /// configuration: settings without a value, and secrets, are comments. `pm-server config`
    /// prints this.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# pm-server's effective configuration (defaults < file < PM_* variables < flags).\n",
        );
        for (name, shown) in self.describe() {
            let line = match shown {
                Shown::Value(value) => format!("{name} = {value}\n"),
                Shown::Unset => format!("# {name} is not set\n"),
                Shown::Redacted => format!("# {name} is set (redacted)\n"),
            };
            out.push_str(&line);
        }
        out
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
            (
                "api_requests_per_second",
                self.api_requests_per_second as usize,
            ),
            ("api_request_burst", self.api_request_burst as usize),
            (
                "mcp_requests_per_second",
                self.mcp_requests_per_second as usize,
            ),
            ("mcp_request_burst", self.mcp_request_burst as usize),
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
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().is_empty())
        {
            bail!("metrics_token must not be empty");
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
        for origin in &self.cors_allowed_origins {
            // Scheme, host and optional port: no path, not even a trailing slash.
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            if host.is_none_or(|h| h.is_empty() || h.contains('/'))
                || axum::http::HeaderValue::from_str(origin).is_err()
            {
                bail!(
                    "cors_allowed_origins: {origin:?} is not an origin like https://pm.example.com"
                );
            }
        }
        if self.auth.algorithm == JwtAlgorithm::Rs256 && self.auth.public_key_file.is_none() {
            bail!("jwt_public_key_file is required when jwt_algorithm is RS256");
        }
        Ok(())
    }
}

/// The address setting `name` from a flag or its variable (`arg`, which wins) or the file:
/// `IP:PORT`, or `HOST:PORT` resolved now (e.g. `localhost:9000`). An error names where the value
/// came from: `PM_LISTEN`, `--listen` or the file's `listen`.
fn address(
    name: &str,
    arg: Option<&str>,
    file: Option<&str>,
) -> anyhow::Result<Option<SocketAddr>> {
    let variable = format!("PM_{}", name.to_uppercase());
    let (text, source) = match (arg, file) {
        (Some(text), _) if std::env::var(&variable).is_ok_and(|v| v == text) => (text, variable),
        (Some(text), _) => (text, format!("--{}", name.replace('_', "-"))),
        (None, Some(text)) => (text, name.to_owned()),
        (None, None) => return Ok(None),
    };
    if let Ok(addr) = text.parse() {
        return Ok(Some(addr));
    }
    let hint = "an address like 127.0.0.1:8080, [::1]:8080 or localhost:8080";
    let mut resolved = std::net::ToSocketAddrs::to_socket_addrs(text)
        .with_context(|| format!("{source}: {text:?} is not {hint}"))?;
    match resolved.next() {
        Some(addr) => Ok(Some(addr)),
        None => bail!("{source}: {text:?} resolves to no address"),
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("config: cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config: {} is not valid", path.display()))
}
