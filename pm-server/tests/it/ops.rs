//! Operability: configuration, first run, demo data, metrics, shutdown from outside, migrate and
//! backup. Several tests drive the real binary as an operator would.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use pm_core::{TenantRole, WorkItemType, check_parent};
use pm_proto::pb;
use pm_server::config::{Config, ConfigArgs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_pm-server");
const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/deployment.md");
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/pm-auth/tests/keys");

/// The settings table of docs/deployment.md: name → example value (TOML).
fn documented_settings() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(DOCS).unwrap();
    let section = text.split("## Configuration").nth(1).unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].trim_matches('`').to_owned(),
                cells[3].trim_matches('`').to_owned(),
            )
        })
        .collect()
}

fn resolve_file(dir: &Path, toml: &str) -> anyhow::Result<Config> {
    let path = dir.join("pm.toml");
    std::fs::write(&path, toml).unwrap();
    let common = ConfigArgs::file(path);
    Config::resolve(&common, None)
}

fn described(config: &Config) -> BTreeMap<String, pm_server::config::Shown> {
    config.describe().unwrap().into_iter().collect()
}

#[test]
fn the_deployment_docs_list_exactly_the_settings_the_server_has() {
    let documented: Vec<String> = documented_settings().into_keys().collect();
    let mut known: Vec<String> = Config::for_data_dir("data")
        .describe()
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        // The HS256 secret is environment-only (PM_JWT_SECRET), documented with jwt_secret_file.
        .filter(|name| name != "jwt_secret")
        .collect();
    known.sort();
    assert_eq!(documented, known);
}

#[test]
fn every_documented_setting_is_read_from_the_file_and_changes_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = described(&resolve_file(dir.path(), "").unwrap());
    for (name, example) in documented_settings() {
        let mut toml = format!("{name} = {example}\n");
        if name == "jwt_algorithm" {
            toml.push_str(&format!(
                "jwt_public_key_file = \"{KEYS}/rsa-a-public.pem\"\n"
            ));
        }
        let config = resolve_file(dir.path(), &toml).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_ne!(
            described(&config)[name.as_str()],
            defaults[name.as_str()],
            "{name} is not read"
        );
    }
}

#[test]
fn invalid_settings_are_refused_with_an_error_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("idle_timeout_ms = 100", "idle_timeout_ms"),
        ("jwt_algorithm = \"ES256\"", "jwt_algorithm"),
        ("jwt_algorithm = \"RS256\"", "jwt_public_key_file"),
        ("max_connections = 0", "max_connections"),
        ("log_format = \"xml\"", "log_format"),
        ("change_log_max_rows = 0", "change_log_max_rows"),
        ("no_such_setting = 1", "pm.toml"),
        ("no_such_setting = 1", "\"no_such_setting\""),
        ("max_open_tenants = \"many\"", "pm.toml: max_open_tenants: "),
        ("listen = \"nowhere\"", "pm.toml: listen: \"nowhere\""),
    ];
    for (toml, named) in cases {
        let err = format!("{:#}", resolve_file(dir.path(), toml).unwrap_err());
        assert!(err.contains(named), "{toml}: {err}");
    }
}

/// `pm-server config --config <args>` run with only `env` (no PM_* variables from outside).
fn config_output(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(BIN);
    command.args(["config", "--config"]).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("PM_") {
            command.env_remove(name);
        }
    }
    let output = command.envs(env.iter().copied()).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn config_prints_typed_toml_that_reads_back_to_the_same_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.toml");
    std::fs::write(
        &first,
        "outbound_queue = 11\ndemo = true\ncors_allowed_origins = [\"https://pm.example.com\"]\n\
         metrics_listen = \"127.0.0.1:9100\"\njwt_secret_file = \"/etc/pm/secret\"\n",
    )
    .unwrap();
    let secrets = [
        (
            "PM_JWT_SECRET",
            "a-secret-long-enough-for-the-hs256-check!!",
        ),
        ("PM_METRICS_TOKEN", "scrape-token-value"),
        ("PM_MAX_CONNECTIONS", "77"),
    ];
    let printed = config_output(&[first.as_os_str()], &secrets);
    assert!(!printed.contains("a-secret-long"), "{printed}");
    assert!(!printed.contains("scrape-token-value"), "{printed}");
    assert!(
        printed.contains("# metrics_token is set (redacted)"),
        "{printed}"
    );
    let table: toml::Table = toml::from_str(&printed).expect("config prints TOML");
    assert_eq!(table["outbound_queue"], toml::Value::Integer(11));
    assert_eq!(table["max_connections"], toml::Value::Integer(77));
    assert_eq!(table["demo"], toml::Value::Boolean(true));
    assert_eq!(
        table["cors_allowed_origins"],
        toml::Value::Array(vec!["https://pm.example.com".into()])
    );

    // Fed back as the only source, it gives the same configuration (secrets aside).
    let second = dir.path().join("second.toml");
    std::fs::write(&second, &printed).unwrap();
    let reprinted = config_output(&[second.as_os_str()], &[]);
    let without_secrets = |text: &str| {
        text.lines()
            .filter(|l| !l.contains("jwt_secret ") && !l.contains("metrics_token"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_secrets(&reprinted), without_secrets(&printed));
    assert!(reprinted.contains("# metrics_token is not set"));
}

/// `pm-server config` with a file, environment variables and flags.
fn effective(dir: &Path, env: &[(&str, &str)], flags: &[&str]) -> BTreeMap<String, String> {
    std::fs::write(
        dir.join("pm.toml"),
        "listen = \"127.0.0.1:1001\"\noutbound_queue = 11\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .arg("config")
        .arg("--config")
        .arg(dir.join("pm.toml"))
        .args(flags)
        .env_remove("PM_LISTEN")
        .env_remove("PM_OUTBOUND_QUEUE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

#[test]
fn flags_win_over_environment_which_wins_over_the_file_which_wins_over_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file_only = effective(dir.path(), &[], &[]);
    assert_eq!(file_only["listen"], "127.0.0.1:1001");
    assert_eq!(file_only["outbound_queue"], "11");
    assert_eq!(
        file_only["max_open_tenants"], "256",
        "untouched settings keep their defaults"
    );
    let env = [("PM_LISTEN", "127.0.0.1:1002")];
    assert_eq!(effective(dir.path(), &env, &[])["listen"], "127.0.0.1:1002");
    let with_flag = effective(dir.path(), &env, &["--listen", "127.0.0.1:1003"]);
    assert_eq!(with_flag["listen"], "127.0.0.1:1003");
    assert_eq!(with_flag["outbound_queue"], "11");
}

/// A server process started as an operator would, on port 0; stdout tells its address.
struct Process {
    child: Child,
    addr: String,
}

impl Process {
    fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env_remove("PM_JWT_SECRET")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server prints its address")
                .unwrap();
            if let Some(rest) = line.trim().strip_prefix("pm is listening on http://") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, addr }
    }

    fn token(data_dir: &Path, user: &str) -> String {
        let out = Command::new(BIN)
            .args([
                "token",
                "--tenant",
                "acme",
                "--user",
                user,
                "--role",
                "admin",
                "--data-dir",
            ])
            .arg(data_dir)
            .env_remove("PM_JWT_SECRET")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_first_run_on_an_empty_data_dir_creates_a_key_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path(), &[]);
    assert!(dir.path().join("dev-signing-key").is_file());
    let token = Process::token(dir.path(), "alice");
    let mut client = Client::connect(&format!("ws://{}/ws", server.addr), &token).await;
    let project = client.create_project("WEB").await;
    assert_eq!(project.key, "WEB");
    assert_eq!(http_get(&server.addr, "/ready", None).await.0, 200);
}

#[tokio::test]
async fn sigterm_during_a_write_tells_clients_and_exits_cleanly_with_the_write_whole_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Process::start(dir.path(), &[]);
    let url = format!("ws://{}/ws", server.addr);
    let token = Process::token(dir.path(), "alice");
    let mut writer = Client::connect(&url, &token).await;
    let mut watcher = Client::connect(&url, &token).await;
    let project = writer.create_project("WEB").await;
    // The write is in flight when the signal arrives.
    let id = request_id();
    writer
        .send(
            &id,
            pb::CreateWorkItem {
                project_id: project.id.clone(),
                r#type: pb::WorkItemType::Task.into(),
                title: "In flight".into(),
                ..Default::default()
            },
        )
        .await;
    server.terminate();

    // Read until the writer is told the server is going away (the reply, if any, comes first).
    let mut acknowledged = false;
    loop {
        match writer.next_message().await.message {
            Some(pb::server_message::Message::Reply(r)) if r.request_id == id => {
                acknowledged = matches!(r.result, Some(pb::reply::Result::WorkItem(_)));
            }
            Some(pb::server_message::Message::GoingAway(_)) => break,
            _ => {}
        }
    }
    let going = loop {
        if let Some(pb::server_message::Message::GoingAway(g)) =
            watcher.next_message().await.message
        {
            break g;
        }
    };
    assert!(going.reconnect_after_ms > 0);
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "exit status {status:?}");

    // After a restart the write is there exactly when it was acknowledged.
    let server = Process::start(dir.path(), &[]);
    let mut reader = Client::connect(&format!("ws://{}/ws", server.addr), &token).await;
    let items = reader
        .ok(pb::ListWorkItems {
            project_id: project.id.clone(),
            ..Default::default()
        })
        .await
        .work_items;
    let present = items.iter().any(|i| i.title == "In flight");
    if acknowledged {
        assert!(present, "an acknowledged write was lost");
    }
    assert!(items.len() <= 1);
}

#[tokio::test]
async fn demo_seeding_produces_a_valid_realistic_project_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = Arc::new(pm_db::TenantManager::new(pm_db::StorageConfig::new(
        dir.path(),
    )));
    let metrics = Arc::new(pm_ws::Metrics::default());
    let service = pm_ws::Service::new(
        Arc::clone(&tenants),
        Arc::new(pm_ws::Hubs::new(Arc::clone(&metrics))),
        metrics,
        pm_ws::Retention::default(),
    );
    assert!(
        pm_server::demo::seed(&service).await.unwrap(),
        "first run seeds"
    );
    assert!(
        !pm_server::demo::seed(&service).await.unwrap(),
        "second run does nothing"
    );

    let db = tenants.open_str(pm_server::demo::TENANT).await.unwrap();
    let mut conn = db.reader().acquire().await.unwrap();
    let projects = pm_db::project::list(&mut conn, None, true).await.unwrap();
    assert_eq!(projects.len(), 1);
    let items = pm_db::work_item::list(&mut conn, projects[0].id, &Default::default())
        .await
        .unwrap();
    assert!((180..=240).contains(&items.len()), "{} items", items.len());
    let by_id: BTreeMap<_, _> = items.iter().map(|i| (i.id, i)).collect();
    for item in &items {
        // Reading back through pm-db already re-validated every field; the hierarchy too:
        let parent = item.parent_id.map(|p| by_id[&p].item_type);
        check_parent(item.item_type, parent).unwrap();
        assert!(!item.description.as_str().is_empty());
    }
    for t in [WorkItemType::Epic, WorkItemType::Story, WorkItemType::Task] {
        assert!(items.iter().any(|i| i.item_type == t));
    }
    let sprints = pm_db::sprint::list(&mut conn, projects[0].id)
        .await
        .unwrap();
    assert_eq!(sprints.len(), 2);
    assert_eq!(
        sprints
            .iter()
            .filter(|s| s.status == pm_core::SprintStatus::Active)
            .count(),
        1
    );
    assert!(
        !pm_db::dependency::list_for_project(&mut conn, projects[0].id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        pm_db::member::list(&mut conn, projects[0].id)
            .await
            .unwrap()
            .len()
            >= 4
    );
    let (per_item, _) = pm_db::time_entry::totals(
        &mut conn,
        projects[0].id,
        pm_core::Timestamp::from_millis(0),
        pm_core::Timestamp::now(),
    )
    .await
    .unwrap();
    assert!(!per_item.is_empty(), "time was logged");
    let head = pm_db::change_log::head(&mut conn).await.unwrap();
    assert!(
        head > i64::try_from(items.len()).unwrap(),
        "seeding wrote the change log"
    );
    let activity = pm_db::activity::list(
        &mut conn,
        &pm_db::activity::Filter {
            limit: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(activity.len(), 5, "seeding wrote activity");
}

/// A plain HTTP/1.1 GET; returns the status and the body.
async fn http_get(addr: &str, path: &str, bearer: Option<&str>) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn metric(body: &str, line_prefix: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {line_prefix}"))
}

#[tokio::test]
async fn metrics_expose_the_core_counters_and_they_move_with_traffic() {
    let app = TestApp::spawn().await;
    let addr = app.addr.to_string();
    let (status, before) = http_get(&addr, "/metrics", None).await;
    assert_eq!(status, 200);
    for name in [
        "pm_connections_open",
        "pm_connection_tenants",
        "pm_frames_in_total",
        "pm_frames_out_total",
        "pm_bytes_in_total",
        "pm_bytes_out_total",
        "pm_events_delivered_total",
        "pm_queue_overflows_total",
        "pm_resyncs_total",
        "pm_open_tenant_databases",
        "pm_command_duration_seconds_count",
    ] {
        metric(&before, name);
    }
    let mut alice = app.editor("alice").await;
    let mut bob = app.client("acme", "bob", TenantRole::Admin).await;
    let project = alice.create_project("WEB").await;
    bob.subscribe(&project.id).await;
    alice
        .create_item(&project, pb::WorkItemType::Task, "Counted")
        .await;
    bob.drain_events().await;
    let (_, after) = http_get(&addr, "/metrics", None).await;
    assert_eq!(metric(&after, "pm_connections_open "), 2.0);
    assert_eq!(metric(&after, "pm_connection_tenants "), 1.0);
    assert!(metric(&after, "pm_frames_in_total ") > metric(&before, "pm_frames_in_total "));
    assert!(metric(&after, "pm_events_delivered_total ") >= 1.0);
    assert_eq!(
        metric(
            &after,
            "pm_commands_total{command=\"create_project\",outcome=\"ok\"}"
        ),
        1.0
    );
    assert!(metric(&after, "pm_command_duration_seconds_count ") >= 2.0);
    assert_eq!(metric(&after, "pm_open_tenant_databases "), 1.0);
    assert!(
        metric(
            &after,
            "pm_http_requests_total{route=\"/metrics\",status=\"200\"}"
        ) >= 1.0
    );
}

#[tokio::test]
async fn metrics_can_require_their_own_token() {
    let app = TestApp::spawn_with(|c| c.metrics_token = Some("scrape".into())).await;
    let addr = app.addr.to_string();
    assert_eq!(http_get(&addr, "/metrics", None).await.0, 401);
    assert_eq!(http_get(&addr, "/metrics", Some("wrong")).await.0, 401);
    assert_eq!(http_get(&addr, "/metrics", Some("scrape")).await.0, 200);
}

#[tokio::test]
async fn backup_copies_every_tenant_while_the_server_serves_and_migrate_prepares_them() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    alice
        .create_item(&project, pb::WorkItemType::Task, "Backed up")
        .await;
    let mut other = app.client("other", "eve", TenantRole::Editor).await;
    other.create_project("OPS").await;

    let target = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["backup", "--to"])
        .arg(target.path())
        .arg("--data-dir")
        .arg(app.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server kept serving.
    alice
        .create_item(&project, pb::WorkItemType::Task, "After the backup")
        .await;

    let copy = pm_db::TenantManager::new(pm_db::StorageConfig::new(target.path()));
    assert_eq!(copy.tenants_on_disk().unwrap().len(), 2);
    let db = copy.open_str("acme").await.unwrap();
    let mut conn = db.reader().acquire().await.unwrap();
    let id = pm_core::ProjectId::parse(&project.id).unwrap();
    let items = pm_db::work_item::list(&mut conn, id, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        items.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(),
        ["Backed up"]
    );

    let out = Command::new(BIN)
        .args(["migrate", "--data-dir"])
        .arg(target.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "migrated 2 tenant database(s)"
    );
}

#[tokio::test]
async fn sigterm_stops_the_server_even_when_its_log_pipe_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    // Logs and the sign-in text go to pipes this test reads until the server is up and then
    // closes, as when journald or a `| cat` in front of the server goes away.
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "info",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("PM_JWT_SECRET")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = stdout
            .next()
            .expect("the server prints its address")
            .unwrap();
        if let Some(rest) = line.trim().strip_prefix("pm is listening on http://") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    while !stderr
        .next()
        .expect("the server logs that it listens")
        .unwrap()
        .contains("pm listening")
    {}
    drop(stdout);
    drop(stderr);
    assert_eq!(http_get(&addr, "/ready", None).await.0, 200);

    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = tokio::time::timeout(
        PATIENCE,
        tokio::task::spawn_blocking(move || child.wait().unwrap()),
    )
    .await;
    let Ok(exited) = exited else {
        // Do not leave the server running behind a failed test.
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("the server ignored SIGTERM with its log pipe closed");
    };
    let status = exited.unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn a_token_lifetime_that_overflows_or_outlives_year_9999_is_refused_with_an_error_naming_ttl() {
    let dir = tempfile::tempdir().unwrap();
    for ttl in ["213503982334602d", "307445734561825861m", "1000000000h"] {
        let out = Command::new(BIN)
            .args(["token", "--tenant", "acme", "--user", "alice", "--ttl", ttl])
            .arg("--data-dir")
            .arg(dir.path())
            .env(
                "PM_JWT_SECRET",
                "a-secret-long-enough-for-the-hs256-check!!",
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{ttl}: a token was issued");
        assert!(
            stderr.contains("--ttl") && !stderr.contains("panicked"),
            "{ttl}: {stderr}"
        );
    }
    // A long but computable lifetime still works.
    let out = Command::new(BIN)
        .args([
            "token", "--tenant", "acme", "--user", "alice", "--ttl", "3650d",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env(
            "PM_JWT_SECRET",
            "a-secret-long-enough-for-the-hs256-check!!",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the binary with `args` from `cwd`, with no key or data directory from the environment.
fn run_in(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_remove("PM_JWT_SECRET")
        .env_remove("PM_DATA_DIR")
        .env_remove("PM_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn token_never_creates_a_key_and_names_the_data_dir_it_looked_in() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run_in(
        elsewhere.path(),
        &["token", "--tenant", "acme", "--user", "alice"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a token was printed: {stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        !elsewhere.path().join("data").exists(),
        "token created a data directory"
    );
    let looked_in = elsewhere.path().join("data");
    for expected in [
        looked_in.to_str().unwrap(),
        "--data-dir",
        "PM_DATA_DIR",
        "--config",
    ] {
        assert!(stderr.contains(expected), "{expected} missing: {stderr}");
    }

    // Pointed at a server's data directory, it signs with that server's key.
    let server_dir = tempfile::tempdir().unwrap();
    let key = pm_auth::generate_hs256_secret();
    std::fs::write(server_dir.path().join("dev-signing-key"), &key).unwrap();
    let out = run_in(
        elsewhere.path(),
        &[
            "token",
            "--tenant",
            "acme",
            "--user",
            "alice",
            "--data-dir",
            server_dir.path().to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let verifier = pm_auth::Verifier::new(&pm_auth::KeyConfig::Hs256 { secret: key }).unwrap();
    assert!(verifier.verify(token.trim()).is_ok());
}

#[test]
fn migrate_and_backup_refuse_a_missing_or_empty_data_dir_unless_empty_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let target = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let cases: [(Vec<String>, &Path); 4] = [
        (vec!["migrate".into()], &missing),
        (vec!["migrate".into()], &empty),
        (vec!["backup".into(), "--to".into(), target("b1")], &missing),
        (vec!["backup".into(), "--to".into(), target("b2")], &empty),
    ];
    for (command, data_dir) in &cases {
        let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
        args.extend(["--data-dir", data_dir.to_str().unwrap()]);
        let out = run_in(dir.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded: {stderr}");
        assert!(
            stderr.contains(data_dir.to_str().unwrap()) && stderr.contains("data_dir"),
            "{args:?}: {stderr}"
        );
    }
    // Empty is fine when said so; missing never is.
    for (command, data_dir) in &cases {
        let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
        let to = target("b3");
        if args[0] == "backup" {
            args[2] = &to;
        }
        args.extend(["--data-dir", data_dir.to_str().unwrap(), "--allow-empty"]);
        let out = run_in(dir.path(), &args);
        assert_eq!(
            out.status.success(),
            *data_dir == empty.as_path(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Starts `serve` on port 0 and returns what it printed on stdout up to the end of its banner
/// (or until it exited), with its exit status when it exited and its standard error.
fn banner(data_dir: &Path, extra: &[&str]) -> (String, Option<std::process::ExitStatus>, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("PM_JWT_SECRET")
        .env_remove("PM_DEMO")
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    let mut listening = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        listening |= line.contains("pm is listening on");
        let done = listening && line.trim().is_empty();
        printed.push_str(&line);
        printed.push('\n');
        if done {
            break;
        }
    }
    let status = if listening {
        let _ = child.kill();
        let _ = child.wait();
        None
    } else {
        Some(child.wait().unwrap())
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (printed, status, stderr)
}

#[test]
fn a_data_dir_the_server_cannot_use_is_an_error_naming_the_path_and_the_reason_before_any_banner() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the tenants' directory belongs: refused even to root, unlike a read-only mode.
    std::fs::write(dir.path().join("tenants"), "").unwrap();
    let (printed, status, stderr) = banner(dir.path(), &["--demo"]);
    assert!(!status.unwrap().success());
    assert!(
        !printed.contains("listening"),
        "a banner was printed: {printed}"
    );
    let path = dir.path().join("tenants").join("demo");
    assert!(
        stderr.contains(path.to_str().unwrap()) && stderr.contains("os error"),
        "{stderr}"
    );
    assert!(!stderr.contains("internal error"), "{stderr}");
}

#[test]
fn the_demo_sign_in_is_printed_only_when_the_demo_tenant_exists() {
    let dir = tempfile::tempdir().unwrap();
    let (printed, status, _) = banner(dir.path(), &[]);
    assert!(status.is_none(), "the server stopped: {printed}");
    assert!(printed.contains("pm is listening on"));
    assert!(!printed.contains("#token="), "{printed}");
    assert!(printed.contains("--demo"), "{printed}");

    let (printed, _, _) = banner(dir.path(), &["--demo"]);
    assert!(printed.contains("#token="), "{printed}");
    // Once seeded, the demo tenant stays, and so does its sign-in.
    let (printed, _, _) = banner(dir.path(), &[]);
    assert!(printed.contains("#token="), "{printed}");
}

#[tokio::test]
async fn the_deployment_docs_list_exactly_the_metric_families_the_server_exports() {
    let app = TestApp::spawn().await;
    // Labelled families appear once they have a sample: one command, one earlier request.
    app.editor("alice").await.create_project("WEB").await;
    http_get(&app.addr.to_string(), "/health", None).await;
    let (_, body) = http_get(&app.addr.to_string(), "/metrics", None).await;
    // OpenMetrics names a counter's family without its `_total`, which its samples carry.
    let exported: std::collections::BTreeSet<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| match kind {
            "counter" => format!("{name}_total"),
            _ => name.to_owned(),
        })
        .collect();
    let docs = std::fs::read_to_string(DOCS).unwrap();
    let list = docs
        .lines()
        .skip_while(|l| !l.contains("`/metrics` (OpenMetrics text format"))
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let documented: std::collections::BTreeSet<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.starts_with("pm_"))
        .map(|w| w.split('{').next().unwrap().to_owned())
        .collect();
    assert_eq!(documented, exported);
}

#[test]
fn listen_addresses_take_host_names_and_errors_name_the_variable_they_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pm.toml");
    std::fs::write(&file, "metrics_listen = \"localhost:9101\"\n").unwrap();
    let printed = config_output(&[file.as_os_str()], &[("PM_LISTEN", "localhost:9000")]);
    let table: toml::Table = toml::from_str(&printed).unwrap();
    assert!(
        table["listen"].as_str().unwrap().ends_with(":9000"),
        "{printed}"
    );
    assert!(
        table["metrics_listen"].as_str().unwrap().ends_with(":9101"),
        "{printed}"
    );

    for (env, flags, named) in [
        (vec![("PM_LISTEN", "bogus")], vec![], "PM_LISTEN"),
        (vec![], vec!["--listen", "bogus"], "--listen"),
        (
            vec![("PM_METRICS_LISTEN", "nope:x")],
            vec![],
            "PM_METRICS_LISTEN",
        ),
    ] {
        let mut command = Command::new(BIN);
        command.arg("config").args(&flags);
        for (name, _) in std::env::vars() {
            if name.starts_with("PM_") {
                command.env_remove(name);
            }
        }
        let out = command.envs(env.iter().copied()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains(&format!("{named}: \"")),
            "{named}: {stderr}"
        );
    }
}

#[test]
fn help_points_to_where_the_settings_are_listed() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("pm-server serve --help"), "{help}");
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let serve = String::from_utf8(out.stdout).unwrap();
    assert!(
        serve.contains("--listen") && serve.contains("PM_LISTEN"),
        "{serve}"
    );
}

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");

#[test]
fn the_deployment_docs_show_the_deploy_files_as_they_are() {
    let docs = std::fs::read_to_string(DOCS).unwrap();
    for name in [
        "deploy/nginx-pm.conf",
        "deploy/pm.service",
        "deploy/pm.toml",
        "Dockerfile",
    ] {
        let file = std::fs::read_to_string(Path::new(DEPLOY).join("..").join(name)).unwrap();
        let shown = docs
            .split(&format!("<!-- {name} -->\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("docs/deployment.md does not show {name}"));
        let shown = shown.split_once('\n').unwrap().1;
        let shown = &shown[..shown.find("```\n").unwrap()];
        assert_eq!(shown, file, "docs/deployment.md's copy of {name}");
    }
}

#[test]
fn the_example_pm_toml_sets_every_setting_and_is_accepted() {
    let path = Path::new(DEPLOY).join("pm.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    for name in documented_settings().keys() {
        let set = text.lines().any(|l| {
            l.trim_start_matches("# ")
                .strip_prefix(name.as_str())
                .is_some_and(|rest| rest.starts_with(" ="))
        });
        assert!(set, "deploy/pm.toml does not name {name}");
    }
    let common = ConfigArgs::file(path);
    let config = Config::resolve(&common, None).unwrap();
    assert_eq!(config.data_dir, Path::new("/var/lib/pm"));
}

#[test]
fn secrets_never_appear_in_the_configurations_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pm.toml"),
        "metrics_token = \"scrape-token-value\"\n",
    )
    .unwrap();
    let common = ConfigArgs::file(dir.path().join("pm.toml"));
    let secret = "a-secret-long-enough-for-the-hs256-check!!";
    let config = Config::resolve(&common, Some(secret.to_owned())).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("scrape-token-value"), "{debug}");
    // Neither as text nor as the byte list a Vec<u8> would print.
    assert!(!debug.contains(secret), "{debug}");
    assert!(
        !debug.contains(&format!("{:?}", secret.as_bytes())[1..20]),
        "{debug}"
    );
}

#[tokio::test]
async fn http_requests_are_traced_by_their_route_pattern_not_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("PM_JWT_SECRET")
        .env("RUST_LOG", "info,tower_http=debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = stdout
            .next()
            .expect("the server prints its address")
            .unwrap();
        if let Some(rest) = line.trim().strip_prefix("pm is listening on http://") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    assert_eq!(
        http_get(&addr, "/api/v1/work-items/SECRET-42", None)
            .await
            .0,
        401
    );
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = loop {
        let line = stderr.next().expect("the request is logged").unwrap();
        if line.contains("finished processing request") {
            break line;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("route=/api/v1/work-items/{item}"), "{line}");
    assert!(line.contains("status=401"), "{line}");
    assert!(!line.contains("SECRET-42"), "{line}");
}

#[test]
fn the_docker_build_context_leaves_out_build_output_data_and_keys() {
    let ignore = std::fs::read_to_string(Path::new(DEPLOY).join("../.dockerignore")).unwrap();
    let patterns: Vec<&str> = ignore
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    for needed in [
        "target",
        "data",
        "**/dev-signing-key",
        "**/*.pem",
        "**/*.sqlite3*",
        "frontend/node_modules",
    ] {
        assert!(patterns.contains(&needed), ".dockerignore lacks {needed}");
    }
}
