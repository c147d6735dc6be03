//! One typed configuration, resolved from (lowest to highest precedence) built-in defaults, an
//! optional TOML file, `PM_*` environment variables and command-line flags.
//!
//! Every setting is declared once, as a field of [`Config`]:
//!
//! ```text
//! /// Connections in a tenant's read pool.            <- the `--help` text
//! #[arg(long, env = "PM_READ_POOL_SIZE", default_value_t = 4)]
//! pub read_pool_size: u32,
//! ```
//!
//! From that one field come the flag (`--read-pool-size`, with its variable and default in
//! `--help`), the variable, the TOML key (the field's name), the default and the line
//! `pm-server config` prints. clap declares and checks flags and variables; [`ConfigArgs`] records
//! which setting came from which of them; `figment` layers defaults, the file and those values and
//! deserializes them into `Config` (with serde), so a bad value's error names the setting and where
//! it came from (`PM_LISTEN: …`, `--listen: …`, `/etc/pm/pm.toml: listen: …`).
//!
//! To add a setting:
//! - add the field as above: `default_value_t` (or `default_value` for text) for a setting with a
//!   default, `Option<T>` for one that may be unset; a type of ours needs `Deserialize` and
//!   `Serialize` (see [`Address`], [`JwtAlgorithm`]);
//! - a secret is an `Option<SecretString>` with `hide_env_values = true` and
//!   `#[serde(serialize_with = "redacted")]`, so that neither `Debug` nor `pm-server config` show it;
//! - refuse values that cannot work in [`Config::validate`], naming the setting;
//! - add it to the table in `docs/deployment.md` and to `deploy/pm.toml` (tests compare both with
//!   the settings declared here).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, ValueEnum};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The resolved, validated configuration: every setting, by the name the TOML file, the
/// `PM_*` variable and the flag are made from.
///
/// It derives clap's `Args` for the declarations (flags, variables, defaults, help) only: values
/// are read through [`ConfigArgs`] and [`Config::resolve`], never with `FromArgMatches` (address
/// settings are read by clap as text, which that would not turn into an [`Address`]).
#[derive(Debug, Clone, Args, Deserialize, Serialize)]
// No argument group: the subcommands' own groups are named after them (`config` among them).
#[group(skip)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on, IP:PORT or HOST:PORT (e.g. localhost:9000).
    // Read as text: `Address` resolves it, so that an error names where the value came from.
    #[arg(long, env = "PM_LISTEN", value_name = "ADDR", default_value = "127.0.0.1:8080",
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub listen: Address,
    /// Directory holding tenant databases and the development signing key.
    #[arg(long, env = "PM_DATA_DIR", value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Token algorithm: HS256 (shared secret) or RS256 (PEM public key).
    #[arg(
        long,
        env = "PM_JWT_ALGORITHM",
        value_name = "ALG",
        default_value = "HS256"
    )]
    pub jwt_algorithm: JwtAlgorithm,
    /// The HS256 secret, from PM_JWT_SECRET only (never a flag or the file, so it stays out of
    /// `ps` and of files that get copied around).
    #[arg(skip)]
    #[serde(skip)]
    pub jwt_secret: Option<SecretSlice<u8>>,
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
    /// Clock leeway for token expiry and not-before, in seconds.
    #[arg(long, env = "PM_JWT_LEEWAY_SECS", value_name = "SECS",
          default_value_t = pm_auth::DEFAULT_LEEWAY_SECS)]
    pub jwt_leeway_secs: u64,
    /// Largest inbound WebSocket frame in bytes.
    #[arg(long, env = "PM_MAX_FRAME_BYTES", default_value_t = 1024 * 1024)]
    pub max_frame_bytes: usize,
    /// Sustained commands per second per connection.
    #[arg(long, env = "PM_COMMANDS_PER_SECOND", default_value_t = 50)]
    pub commands_per_second: u32,
    /// Commands a connection may send in a burst.
    #[arg(long, env = "PM_COMMAND_BURST", default_value_t = 100)]
    pub command_burst: u32,
    /// Server heartbeat (WebSocket ping) interval in milliseconds; a connection heard from within
    /// the interval is not pinged.
    #[arg(long, env = "PM_HEARTBEAT_MS", default_value_t = 30_000)]
    pub heartbeat_ms: u64,
    /// Close a connection silent for this many milliseconds (two missed heartbeats and a margin).
    #[arg(long, env = "PM_IDLE_TIMEOUT_MS", default_value_t = 75_000)]
    pub idle_timeout_ms: u64,
    /// Frames queued per connection before it must resync.
    #[arg(long, env = "PM_OUTBOUND_QUEUE", default_value_t = 1024)]
    pub outbound_queue: usize,
    /// Close a connection whose single write takes longer, in milliseconds.
    #[arg(long, env = "PM_WRITE_TIMEOUT_MS", default_value_t = 10_000)]
    pub write_timeout_ms: u64,
    /// Maximum open WebSocket connections (headroom under a 20,000 open-file limit for tenant
    /// databases and logs).
    #[arg(long, env = "PM_MAX_CONNECTIONS", default_value_t = 15_000)]
    pub max_connections: usize,
    /// Maximum open WebSocket connections per tenant.
    #[arg(long, env = "PM_MAX_CONNECTIONS_PER_TENANT", default_value_t = 5_000)]
    pub max_connections_per_tenant: usize,
    /// Maximum tenant databases open at once.
    #[arg(long, env = "PM_MAX_OPEN_TENANTS", default_value_t = 256)]
    pub max_open_tenants: usize,
    /// Close a tenant database unused for this many seconds.
    #[arg(long, env = "PM_TENANT_IDLE_SECS", default_value_t = 600)]
    pub tenant_idle_secs: u64,
    /// Connections in each open tenant's read pool (reads, snapshots, subscription checks).
    #[arg(long, env = "PM_READ_POOL_SIZE", default_value_t = 4)]
    pub read_pool_size: u32,
    /// Change-log entries kept per tenant for resuming clients.
    #[arg(long, env = "PM_CHANGE_LOG_MAX_ROWS", default_value_t = 100_000)]
    pub change_log_max_rows: i64,
    /// Change-log entries older than this many seconds are purged (a week).
    #[arg(long, env = "PM_CHANGE_LOG_MAX_AGE_SECS", default_value_t = 7 * 24 * 3600)]
    pub change_log_max_age_secs: u64,
    /// Replies to processed requests are kept this many seconds for retries (a day).
    #[arg(long, env = "PM_IDEMPOTENCY_MAX_AGE_SECS", default_value_t = 24 * 3600)]
    pub idempotency_max_age_secs: u64,
    /// How often maintenance (purges, WAL checkpoints, closing idle tenants) runs, in seconds.
    #[arg(long, env = "PM_MAINTENANCE_INTERVAL_SECS", default_value_t = 30)]
    pub maintenance_interval_secs: u64,
    /// Seed the demo tenant (a realistic project) on start, unless it exists already.
    #[arg(long, env = "PM_DEMO")]
    pub demo: bool,
    /// Log format: text (human-readable) or json.
    #[arg(
        long,
        env = "PM_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Log filter when RUST_LOG is not set, e.g. info or pm_ws=debug,info.
    #[arg(
        long,
        env = "PM_LOG_LEVEL",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub log_level: String,
    /// Serve /metrics on this address only (e.g. a private interface) instead of the main one.
    #[arg(long, env = "PM_METRICS_LISTEN", value_name = "ADDR",
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub metrics_listen: Option<Address>,
    /// Require `Authorization: Bearer <token>` on /metrics. Prefer the environment variable.
    #[arg(
        long,
        env = "PM_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    #[serde(serialize_with = "redacted")]
    pub metrics_token: Option<SecretString>,
    /// Browser origins allowed to call the REST API (CORS), comma-separated, e.g.
    /// https://pm.example.com [default: none: CORS off].
    #[arg(
        long,
        env = "PM_CORS_ALLOWED_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    #[serde(default, deserialize_with = "origins")]
    pub cors_allowed_origins: Vec<String>,
    /// Sustained REST API requests per second per user.
    #[arg(long, env = "PM_API_REQUESTS_PER_SECOND", default_value_t = 20)]
    pub api_requests_per_second: u32,
    /// REST API requests a user may send in a burst.
    #[arg(long, env = "PM_API_REQUEST_BURST", default_value_t = 100)]
    pub api_request_burst: u32,
    /// Serve the MCP endpoint `/mcp` for LLM agents.
    #[arg(long, env = "PM_MCP_ENABLED", default_value_t = true, action = ArgAction::Set)]
    pub mcp_enabled: bool,
    /// Offer MCP write tools (to editors and admins).
    #[arg(long, env = "PM_MCP_WRITE_TOOLS", default_value_t = true, action = ArgAction::Set)]
    pub mcp_write_tools: bool,
    /// Sustained MCP requests per second per user (an agent thinks between calls: fewer calls
    /// than a script, in smaller bursts).
    #[arg(long, env = "PM_MCP_REQUESTS_PER_SECOND", default_value_t = 10)]
    pub mcp_requests_per_second: u32,
    /// MCP requests a user may send in a burst.
    #[arg(long, env = "PM_MCP_REQUEST_BURST", default_value_t = 50)]
    pub mcp_request_burst: u32,
    /// Serve the web client from this directory (a built frontend/dist) instead of the copy
    /// built into the binary.
    #[arg(long, env = "PM_WEB_DIR", value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// This node's name in a cluster, as the placement file names it (docs/scaling.md); needs
    /// placement_file. Unset: a single node that owns every tenant.
    // Read as text: `NodeName` checks it, so that an error names where the value came from.
    #[arg(long, env = "PM_NODE_NAME", value_name = "NAME",
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub node_name: Option<crate::cluster::NodeName>,
    /// The cluster's placement file (HAProxy map syntax), shared with the router; needs
    /// node_name.
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
    #[serde(serialize_with = "redacted")]
    pub cluster_secret: Option<SecretString>,
}

/// The settings as the command line gives them: the file (`--config` or `PM_CONFIG`) and each
/// setting set by its `PM_*` variable or its flag. Every subcommand that reads the configuration
/// flattens this; [`Config::resolve`] turns it into a `Config`.
#[derive(Debug, Clone, Default)]
pub struct ConfigArgs {
    /// The TOML file, if any.
    pub config: Option<PathBuf>,
    given: Vec<Given>,
}

/// One setting given by a variable or a flag, as text (clap has checked it already).
#[derive(Debug, Clone)]
struct Given {
    name: String,
    /// `PM_LISTEN` or `--listen`: what an error about the value names.
    origin: String,
    value: Value,
}

impl ConfigArgs {
    /// The settings from a TOML file alone (no variables, no flags).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            config: Some(path.into()),
            given: Vec::new(),
        }
    }

    /// The settings from command-line flags alone (no variables, no file): for tests.
    pub fn from_flags<I, T>(flags: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command = Self::augment_args(clap::Command::new("pm-server")).mut_args(|a| a.env(None));
        let args = std::iter::once(std::ffi::OsString::from("pm-server"))
            .chain(flags.into_iter().map(Into::into));
        Self::from_arg_matches(&command.try_get_matches_from(args)?)
    }
}

impl Args for ConfigArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        Config::augment_args(
            command.arg(
                Arg::new("config")
                    .long("config")
                    .env("PM_CONFIG")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("TOML configuration file; its settings are overridden by PM_* variables and flags"),
            ),
        )
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for ConfigArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Vec::new();
        for arg in &settings() {
            let name = arg.get_id().as_str();
            let origin = match matches.value_source(name) {
                Some(ValueSource::EnvVariable) => arg
                    .get_env()
                    .map(|v| v.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                Some(ValueSource::CommandLine) => {
                    format!("--{}", arg.get_long().unwrap_or(name))
                }
                _ => continue,
            };
            let value = if matches!(arg.get_action(), ArgAction::SetTrue) {
                Value::from(matches.get_flag(name))
            } else {
                let texts = matches
                    .get_raw(name)
                    .into_iter()
                    .flatten()
                    .map(|raw| {
                        raw.to_str().map(Value::from).ok_or_else(|| {
                            clap::Error::raw(
                                clap::error::ErrorKind::InvalidUtf8,
                                format!("{origin}: the value is not UTF-8\n"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                as_value(arg, texts)
            };
            given.push(Given {
                name: name.to_owned(),
                origin,
                value,
            });
        }
        Ok(Self {
            config: matches.get_one::<PathBuf>("config").cloned(),
            given,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// Every setting's clap declaration, in the order of `Config`'s fields.
fn settings() -> Vec<Arg> {
    Config::augment_args(clap::Command::new("pm-server"))
        .get_arguments()
        .cloned()
        .collect()
}

/// A list setting (a value per occurrence or per comma) as an array, any other as one value.
fn as_value(arg: &Arg, mut texts: Vec<Value>) -> Value {
    if matches!(arg.get_action(), ArgAction::Append) {
        Value::from(texts)
    } else {
        texts.pop().unwrap_or_else(|| Value::from(String::new()))
    }
}

/// One layer of settings, named for errors: `default`, the file's path, `PM_X` or `--x`.
struct Layer {
    name: String,
    values: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// The defaults as clap declares them (and `--help` shows them); a switch (`--demo`) is off.
fn defaults() -> Layer {
    let values = settings()
        .iter()
        .filter_map(|arg| {
            let value = if matches!(arg.get_action(), ArgAction::SetTrue) {
                Value::from(false)
            } else if arg.get_default_values().is_empty() {
                return None;
            } else {
                let texts = arg
                    .get_default_values()
                    .iter()
                    .map(|d| Value::from(d.to_string_lossy().into_owned()))
                    .collect();
                as_value(arg, texts)
            };
            Some((arg.get_id().to_string(), value))
        })
        .collect();
    Layer {
        name: "default".to_owned(),
        values,
    }
}

fn file(path: &Path) -> anyhow::Result<Layer> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).with_context(|| format!("config: cannot read {name}"))?;
    let values: Dict =
        toml::from_str(&text).with_context(|| format!("config: {name} is not valid"))?;
    let known = settings();
    if let Some(unknown) = values
        .keys()
        .find(|key| !known.iter().any(|arg| arg.get_id() == key.as_str()))
    {
        bail!("config: {name}: there is no setting {unknown:?} (docs/deployment.md lists them)");
    }
    Ok(Layer { name, values })
}

/// An address setting: `IP:PORT`, or `HOST:PORT` resolved when the configuration is read (e.g.
/// `localhost:9000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address(pub SocketAddr);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(deserializer)?;
        if let Ok(addr) = text.parse() {
            return Ok(Self(addr));
        }
        let hint = "an address like 127.0.0.1:8080, [::1]:8080 or localhost:8080";
        let mut resolved = std::net::ToSocketAddrs::to_socket_addrs(text.as_str())
            .map_err(|e| D::Error::custom(format!("{text:?} is not {hint} ({e})")))?;
        match resolved.next() {
            Some(addr) => Ok(Self(addr)),
            None => Err(D::Error::custom(format!("{text:?} resolves to no address"))),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
pub enum JwtAlgorithm {
    #[value(name = "HS256")]
    #[serde(rename = "HS256")]
    Hs256,
    #[value(name = "RS256")]
    #[serde(rename = "RS256")]
    Rs256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// What a secret is serialized as: `pm-server config` prints a comment in its place.
const REDACTED: &str = "(redacted)";

fn redacted<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => serializer.serialize_str(REDACTED),
        None => serializer.serialize_none(),
    }
}

/// Origins as written, trimmed, without empty ones (`a, b,` is two origins).
fn origins<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect())
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

impl Config {
    /// Defaults only, with data under `data_dir`: what tests start from.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut config = Self::layered(&ConfigArgs::default())
            .expect("the declared defaults form a valid configuration");
        config.data_dir = data_dir.into();
        config
    }

    /// Resolves the layers and validates the result. `jwt_secret` is the value of PM_JWT_SECRET,
    /// if set.
    pub fn resolve(args: &ConfigArgs, jwt_secret: Option<String>) -> anyhow::Result<Self> {
        let mut config = Self::layered(args)?;
        config.jwt_secret = jwt_secret.map(|s| SecretSlice::from(s.into_bytes()));
        config.validate()?;
        Ok(config)
    }

    fn layered(args: &ConfigArgs) -> anyhow::Result<Self> {
        let mut figment = Figment::from(defaults());
        if let Some(path) = &args.config {
            figment = figment.merge(file(path)?);
        }
        for given in &args.given {
            figment = figment.merge(Layer {
                name: given.origin.clone(),
                values: Dict::from([(given.name.clone(), given.value.clone())]),
            });
        }
        // Lossy: values from variables, flags and the defaults arrive as text ("50", "true").
        figment.extract_lossy().map_err(|e| {
            let messages: Vec<String> = e.into_iter().map(|e| error_message(&e)).collect();
            anyhow::anyhow!(messages.join("; "))
        })
    }

    /// The WebSocket limits.
    pub fn limits(&self) -> pm_ws::Limits {
        pm_ws::Limits {
            max_frame_bytes: self.max_frame_bytes,
            commands_per_second: self.commands_per_second,
            command_burst: self.command_burst,
            heartbeat_interval: Duration::from_millis(self.heartbeat_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            outbound_queue: self.outbound_queue,
            write_timeout: Duration::from_millis(self.write_timeout_ms),
            max_connections: self.max_connections,
            max_connections_per_tenant: self.max_connections_per_tenant,
            ..pm_ws::Limits::default()
        }
    }

    /// What the change log and the idempotency records keep.
    pub fn retention(&self) -> pm_ws::Retention {
        pm_ws::Retention {
            change_log_max_rows: self.change_log_max_rows,
            change_log_max_age: Duration::from_secs(self.change_log_max_age_secs),
            idempotency_max_age: Duration::from_secs(self.idempotency_max_age_secs),
        }
    }

    /// Every setting by its name (as in the TOML file and `docs/deployment.md`) with its effective
    /// value, typed as the file takes it; secrets show only whether they are set.
    pub fn describe(&self) -> anyhow::Result<Vec<(String, Shown)>> {
        let values = toml::Table::try_from(self).context("config: cannot show the settings")?;
        let mut shown: Vec<(String, Shown)> = settings()
            .iter()
            .map(|arg| {
                let name = arg.get_id().to_string();
                let value = match values.get(&name) {
                    Some(toml::Value::String(s)) if s == REDACTED => Shown::Redacted,
                    Some(value) => Shown::Value(value.clone()),
                    None => Shown::Unset,
                };
                (name, value)
            })
            .collect();
        let secret = match self.jwt_secret {
            Some(_) => Shown::Redacted,
            None => Shown::Unset,
        };
        shown.push(("jwt_secret".to_owned(), secret));
        Ok(shown)
    }

    /// The effective configuration as a TOML file that `--config` reads back to the same
    /// configuration: settings without a value, and secrets, are comments. `pm-server config`
    /// prints this.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let mut out = String::from(
            "# pm-server's effective configuration (defaults < file < PM_* variables < flags).\n",
        );
        for (name, shown) in self.describe()? {
            let line = match shown {
                Shown::Value(value) => format!("{name} = {value}\n"),
                Shown::Unset => format!("# {name} is not set\n"),
                Shown::Redacted => format!("# {name} is set (redacted)\n"),
            };
            out.push_str(&line);
        }
        Ok(out)
    }

    /// Refuses settings that cannot work, naming the setting.
    pub fn validate(&self) -> anyhow::Result<()> {
        let positive = [
            ("max_frame_bytes", self.max_frame_bytes),
            ("commands_per_second", self.commands_per_second as usize),
            ("command_burst", self.command_burst as usize),
            ("outbound_queue", self.outbound_queue),
            ("max_connections", self.max_connections),
            (
                "max_connections_per_tenant",
                self.max_connections_per_tenant,
            ),
            ("max_open_tenants", self.max_open_tenants),
            ("read_pool_size", self.read_pool_size as usize),
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
        if self.heartbeat_ms == 0 {
            bail!("heartbeat_ms must be greater than 0");
        }
        if self.idle_timeout_ms <= self.heartbeat_ms {
            bail!("idle_timeout_ms must be longer than heartbeat_ms");
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().is_empty())
        {
            bail!("metrics_token must not be empty");
        }
        if self
            .cluster_secret
            .as_ref()
            .is_some_and(|t| t.expose_secret().is_empty())
        {
            bail!("cluster_secret must not be empty");
        }
        if self.change_log_max_rows < 1 {
            bail!("change_log_max_rows must be at least 1");
        }
        if self.maintenance_interval_secs == 0 {
            bail!("maintenance_interval_secs must be greater than 0");
        }
        if self.write_timeout_ms == 0 {
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
        if self.jwt_algorithm == JwtAlgorithm::Rs256 && self.jwt_public_key_file.is_none() {
            bail!("jwt_public_key_file is required when jwt_algorithm is RS256");
        }
        Ok(())
    }
}

/// A value's error, naming where it came from: `PM_LISTEN: …` or `--listen: …` for a variable or
/// a flag (which name the setting), `<file>: listen: …` for the file.
fn error_message(error: &figment::Error) -> String {
    let setting = error.path.join(".");
    match error.metadata.as_ref().map(|m| m.name.as_ref()) {
        Some(origin) if origin.starts_with("PM_") || origin.starts_with("--") => {
            format!("{origin}: {}", error.kind)
        }
        Some(origin) => format!("{origin}: {setting}: {}", error.kind),
        None if setting.is_empty() => error.kind.to_string(),
        None => format!("{setting}: {}", error.kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_defaults_are_the_ones_pm_ws_documents() {
        let config = Config::for_data_dir("data");
        let (ours, theirs) = (config.limits(), pm_ws::Limits::default());
        assert_eq!(
            format!("{ours:?}"),
            format!("{theirs:?}"),
            "the limits' defaults"
        );
        let (ours, theirs) = (config.retention(), pm_ws::Retention::default());
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
        assert_eq!(config.listen.0, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(
            config.read_pool_size,
            pm_db::StorageConfig::new("data").read_connections,
            "the read pool's size"
        );
    }

    #[test]
    fn the_read_pool_size_is_a_setting_and_cannot_be_zero() {
        let args = ConfigArgs::from_flags(["--read-pool-size", "12"]).unwrap();
        assert_eq!(Config::resolve(&args, None).unwrap().read_pool_size, 12);
        let args = ConfigArgs::from_flags(["--read-pool-size", "0"]).unwrap();
        let err = Config::resolve(&args, None).unwrap_err().to_string();
        assert!(err.contains("read_pool_size"), "{err}");
    }

    #[test]
    fn a_flag_given_as_text_is_typed_as_its_setting() {
        let args = ConfigArgs::from_flags([
            "--max-connections",
            "77",
            "--demo",
            "--mcp-enabled",
            "false",
        ])
        .unwrap();
        let config = Config::resolve(&args, None).unwrap();
        assert_eq!(config.max_connections, 77);
        assert!(config.demo);
        assert!(!config.mcp_enabled);
    }

    #[test]
    fn a_bad_flag_value_names_the_flag() {
        let args = ConfigArgs::from_flags(["--listen", "no-port"]).unwrap();
        let err = Config::resolve(&args, None).unwrap_err().to_string();
        assert!(err.starts_with("--listen: \"no-port\""), "{err}");
    }
}
