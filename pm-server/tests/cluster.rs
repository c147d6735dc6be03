//! The cluster end to end (docs/scaling.md): three `pm-server` processes and HAProxy, running the
//! shipped `deploy/haproxy/haproxy.cfg`, on loopback. HAProxy must be installed (`.ci/run` does
//! it); without it this test fails, saying so.

#[path = "it/helpers.rs"]
#[expect(
    dead_code,
    reason = "shared with the `it` test binary; this one uses its constants and a few helpers"
)]
mod helpers;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use helpers::{PATIENCE, SECRET, Socket, request_id};
use pm_auth::{KeyConfig, Signer};
use pm_core::{TenantId, TenantRole, UserId};
use pm_proto::Response as _;
use pm_proto::pb::{self, server_message::Message as Server};
use pm_server::cluster::placement::{self, NodeName, Placement};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

const BIN: &str = env!("CARGO_BIN_EXE_pm-server");
const SHIPPED_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/haproxy/haproxy.cfg");
const CLUSTER_SECRET: &str = "cluster-test-secret";
const NODES: [&str; 3] = ["node1", "node2", "node3"];

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Node {
    name: NodeName,
    addr: SocketAddr,
    dir: PathBuf,
    process: Option<Proc>,
}

struct Cluster {
    dir: tempfile::TempDir,
    map: PathBuf,
    admin_socket: PathBuf,
    router: SocketAddr,
    nodes: Vec<Node>,
    _haproxy: Proc,
    signer: Signer,
    http: reqwest::Client,
}

/// A free port on loopback: bound, read and released (HAProxy and a restarted node need a port
/// known in advance).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    Stdio::from(std::fs::File::create(dir.join(name)).unwrap())
}

/// Starts a node and returns once it printed that it listens (its address is read from there).
async fn start_node(
    name: &str,
    listen: &str,
    data_dir: &Path,
    map: &Path,
    logs: &Path,
) -> (Proc, SocketAddr) {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("PM_") {
            command.env_remove(key);
        }
    }
    command
        .args(["serve", "--listen", listen, "--node-name", name])
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--placement-file")
        .arg(map)
        // The writer below sends as fast as it can; the rate limit has its own test.
        .args([
            "--commands-per-second",
            "100000",
            "--command-burst",
            "100000",
        ])
        .env("PM_JWT_SECRET", std::str::from_utf8(SECRET).unwrap())
        .env("PM_CLUSTER_SECRET", CLUSTER_SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log_file(logs, &format!("{name}.log")));
    let mut child = command.spawn().expect("pm-server starts");
    let stdout = child.stdout.take().unwrap();
    let process = Proc(child);
    let addr = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.ok()?;
            if let Some(rest) = line.trim().strip_prefix("pm is listening on http://") {
                return rest.split_whitespace().next()?.parse().ok();
            }
        }
        None
    });
    let addr = tokio::time::timeout(PATIENCE, addr)
        .await
        .expect("the node starts within the patience")
        .unwrap()
        .unwrap_or_else(|| {
            panic!(
                "{name} exited before listening; see {}",
                logs.join(format!("{name}.log")).display()
            )
        });
    (process, addr)
}

/// Sends one command to HAProxy's runtime API.
async fn haproxy_command(socket: &Path, command: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::UnixStream::connect(socket).await?;
    stream.write_all(format!("{command}\n").as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

/// The state HAProxy's checks give each node's server in its own backend (`node_<name>`).
async fn server_states(socket: &Path) -> BTreeMap<String, String> {
    let Ok(csv) = haproxy_command(socket, "show stat").await else {
        return BTreeMap::new();
    };
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(px), Some(sv), Some(status)) = (col("pxname"), col("svname"), col("status")) else {
        return BTreeMap::new();
    };
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.len() > status && f[px].starts_with("node_") && f[sv] != "BACKEND")
        .map(|f| (f[sv].to_owned(), f[status].to_owned()))
        .collect()
}

/// Polls until HAProxy's checks see each named node in the wanted state.
async fn wait_for_state(socket: &Path, nodes: &[&str], state: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let states = server_states(socket).await;
        if nodes
            .iter()
            .all(|n| states.get(*n).is_some_and(|s| s == state))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "HAProxy never saw {nodes:?} {state}: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Cluster {
    async fn start() -> Self {
        let haproxy = which_haproxy();
        let dir = tempfile::tempdir().unwrap();
        let map = dir.path().join("placement.map");
        let names: Vec<NodeName> = NODES.iter().map(|n| NodeName::parse(n).unwrap()).collect();
        std::fs::write(&map, placement::spread(&names)).unwrap();
        let mut nodes = Vec::new();
        for name in &names {
            let data = dir.path().join(name.as_str());
            let (process, addr) =
                start_node(name.as_str(), "127.0.0.1:0", &data, &map, dir.path()).await;
            nodes.push(Node {
                name: name.clone(),
                addr,
                dir: data,
                process: Some(process),
            });
        }
        let router = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let admin_socket = dir.path().join("haproxy.sock");
        let config = router_config(&map, router, &admin_socket, &nodes);
        let config_file = dir.path().join("haproxy.cfg");
        std::fs::write(&config_file, config).unwrap();
        let process = Command::new(haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&config_file)
            .stdout(log_file(dir.path(), "haproxy.log"))
            .stderr(log_file(dir.path(), "haproxy.err"))
            .spawn()
            .expect("haproxy starts");
        let haproxy = Proc(process);
        wait_for_state(&admin_socket, &NODES, "UP").await;
        Self {
            dir,
            map,
            admin_socket,
            router,
            nodes,
            _haproxy: haproxy,
            signer: Signer::new(&KeyConfig::Hs256 {
                secret: SECRET.to_vec(),
            })
            .unwrap(),
            // A fresh connection per request: a pooled keep-alive connection can be closed by
            // HAProxy (a node marked down ends its sessions) just as it is reused, which is a
            // client race, not what the test is about.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("an HTTP client"),
        }
    }

    fn token(&self, tenant: &str, user: &str) -> String {
        self.signer
            .issue(
                &TenantId::parse(tenant).unwrap(),
                &UserId::parse(user).unwrap(),
                TenantRole::Admin,
                Duration::from_secs(3600),
            )
            .unwrap()
    }

    fn placement(&self) -> Placement {
        Placement::parse(&std::fs::read_to_string(&self.map).unwrap()).unwrap()
    }

    fn owner(&self, tenant: &str) -> String {
        self.placement()
            .owner(&TenantId::parse(tenant).unwrap())
            .to_string()
    }

    fn node(&self, name: &str) -> &Node {
        self.nodes.iter().find(|n| n.name.as_str() == name).unwrap()
    }

    fn router_ws(&self) -> String {
        format!("ws://{}/ws", self.router)
    }

    async fn get(&self, base: SocketAddr, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("http://{base}{path}"))
            .bearer_auth(token)
            .timeout(PATIENCE)
            .send()
            .await
            .expect("an answer")
    }

    /// A node's own view (`/cluster/v1/status`).
    async fn status(&self, name: &str) -> serde_json::Value {
        self.http
            .get(format!("http://{}/cluster/v1/status", self.node(name).addr))
            .bearer_auth(CLUSTER_SECRET)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn which_haproxy() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file())
        .expect(
            "the cluster test needs HAProxy: install it (Debian: `apt-get install haproxy`; \
             .ci/run does)",
        )
}

/// The shipped configuration with this test's addresses and paths in its marked places.
fn router_config(map: &Path, router: SocketAddr, socket: &Path, nodes: &[Node]) -> String {
    let shipped = std::fs::read_to_string(SHIPPED_CONFIG).unwrap();
    let mut config = shipped.clone();
    let mut replace = |from: &str, to: &str| {
        assert!(
            config.contains(from),
            "haproxy.cfg no longer contains {from:?}"
        );
        config = config.replace(from, to);
    };
    replace("/etc/haproxy/pm-placement.map", &map.display().to_string());
    // The test's HAProxy runs as the test's user.
    replace("    user haproxy\n    group haproxy\n", "");
    replace("bind :80", &format!("bind {router}"));
    replace(
        "stats socket /run/haproxy/pm-admin.sock",
        &format!("stats socket {}", socket.display()),
    );
    for (i, node) in nodes.iter().enumerate() {
        replace(&format!("10.0.0.{}:8080", i + 1), &node.addr.to_string());
    }
    config
}

/// A WebSocket through which the test watches connections end.
struct Conn {
    ws: Socket,
    welcome: pb::Welcome,
    /// The node that answered the upgrade.
    node: String,
}

enum Refused {
    Status(u16),
}

impl Conn {
    /// Connects once; a refused upgrade gives its status.
    async fn try_connect(url: &str, token: &str, by_subprotocol: bool) -> Result<Self, Refused> {
        let mut request = url.into_client_request().unwrap();
        if by_subprotocol {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                format!("pm.v1, bearer.{token}").parse().unwrap(),
            );
        } else {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, response)) => {
                let node = response
                    .headers()
                    .get("x-pm-node")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let mut conn = Self {
                    ws,
                    welcome: pb::Welcome::default(),
                    node,
                };
                match conn.read().await {
                    Some(pb::ServerMessage {
                        message: Some(Server::Welcome(welcome)),
                    }) => conn.welcome = welcome,
                    _ => panic!("no welcome"),
                }
                Ok(conn)
            }
            Err(tungstenite::Error::Http(response)) => {
                Err(Refused::Status(response.status().as_u16()))
            }
            Err(e) => panic!("connecting: {e}"),
        }
    }

    /// Connects through the router, retrying while the tenant is moving (503) or the router still
    /// sends it to its old node (421): the conditions a client's reconnect loop rides out.
    async fn connect_routed(url: &str, token: &str) -> Self {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match Self::try_connect(url, token, false).await {
                Ok(conn) => return conn,
                Err(Refused::Status(status @ (421 | 503))) => {
                    assert!(Instant::now() < deadline, "still refused ({status})");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(Refused::Status(status)) => panic!("connect refused with {status}"),
            }
        }
    }

    /// The next message; `None` once the connection ended.
    async fn read(&mut self) -> Option<pb::ServerMessage> {
        // One deadline for the whole wait: the server's pings must not extend it.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("a message within the patience");
            match frame {
                Some(Ok(Message::Binary(bytes))) => {
                    return Some(pm_proto::decode_server(&bytes).unwrap());
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) => {
                    // Read on, so tungstenite answers the close and the server sees it.
                    let _ = tokio::time::timeout(PATIENCE, async {
                        while let Some(Ok(_)) = self.ws.next().await {}
                    })
                    .await;
                    return None;
                }
                Some(Ok(other)) => panic!("unexpected frame {other:?}"),
                None | Some(Err(_)) => return None,
            }
        }
    }

    async fn send<R: pm_proto::Request>(&mut self, id: &str, request: R) -> bool {
        let message = pb::ClientMessage::request(id, request);
        self.ws
            .send(Message::Binary(pm_proto::encode(&message).into()))
            .await
            .is_ok()
    }

    /// Sends and waits for the reply; `None` when the connection ended first.
    async fn call<R: pm_proto::Request>(&mut self, id: &str, request: R) -> Option<pb::Reply> {
        if !self.send(id, request).await {
            return None;
        }
        loop {
            match self.read().await {
                Some(pb::ServerMessage {
                    message: Some(Server::Reply(reply)),
                }) if reply.request_id == id => return Some(reply),
                Some(_) => continue,
                None => return None,
            }
        }
    }

    async fn ok<R: pm_proto::Request>(&mut self, request: R) -> R::Response {
        let id = request_id();
        let reply = self.call(&id, request).await.expect("a reply");
        match reply.result {
            Some(pb::reply::Result::Error(e)) => panic!("{} failed: {e:?}", R::NAME),
            Some(result) => R::Response::from_result(result).unwrap(),
            None => panic!("a reply without a result"),
        }
    }
}

fn created_item(reply: &pb::Reply) -> String {
    match &reply.result {
        Some(pb::reply::Result::WorkItem(created)) => {
            created.work_item.as_ref().unwrap().id.clone()
        }
        other => panic!("expected a created item, got {other:?}"),
    }
}

fn create_item(project: &str, title: &str) -> pb::CreateWorkItem {
    pb::CreateWorkItem {
        project_id: project.to_owned(),
        r#type: pb::WorkItemType::Task.into(),
        title: title.to_owned(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_sharded_cluster_behind_haproxy() {
    let mut cluster = Cluster::start().await;

    // HAProxy's bucket (its crc32 converter) is pm's for every tenant id: each request lands on
    // the owner pm computes (a node would refuse any other with 421), and the router says which
    // bucket it computed.
    let mut ids: Vec<String> = (0..200).map(|i| format!("t{i}")).collect();
    ids.extend(["a", "0", "acme", "big-corp_eu-west-1", "z9-_"].map(str::to_owned));
    ids.push("x".repeat(64));
    for id in &ids {
        let token = cluster.token(id, "probe");
        let response = cluster.get(cluster.router, "/health", &token).await;
        assert_eq!(response.status(), 200, "{id}");
        let tenant = TenantId::parse(id).unwrap();
        let owner = cluster.owner(id);
        let route = response.headers()["x-pm-route"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            route,
            format!("{} {owner}", placement::bucket(&tenant)),
            "{id}"
        );
        assert_eq!(response.headers()["x-pm-node"], owner.as_str(), "{id}");
    }
    // Without a token: any live node.
    let response = reqwest::get(format!("http://{}/health", cluster.router))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // 30 tenants spread by the router: each one's WebSocket and REST calls land on its owner.
    let tenants: Vec<String> = (0..30).map(|i| format!("tenant-{i:02}")).collect();
    let mut projects = BTreeMap::new();
    for tenant in &tenants {
        let token = cluster.token(tenant, "alice");
        let owner = cluster.owner(tenant);
        // Browsers send the token as a subprotocol entry; the router reads it there too.
        let by_subprotocol = tenant.ends_with('7');
        let mut conn = match Conn::try_connect(&cluster.router_ws(), &token, by_subprotocol).await {
            Ok(conn) => conn,
            Err(Refused::Status(status)) => panic!("{tenant}: refused with {status}"),
        };
        assert_eq!(conn.node, owner, "{tenant}'s connection");
        let project = conn
            .ok(pb::CreateProject {
                key: "WEB".into(),
                title: format!("Web of {tenant}"),
                description: String::new(),
            })
            .await
            .project
            .unwrap();
        projects.insert(tenant.clone(), project.id);
        let response = cluster
            .get(cluster.router, "/api/v1/projects", &token)
            .await;
        assert_eq!(response.status(), 200, "{tenant}");
        assert_eq!(
            response.headers()["x-pm-node"],
            owner.as_str(),
            "{tenant}'s REST call"
        );
        let listed: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            listed["projects"].as_array().map(Vec::len),
            Some(1),
            "{tenant}: {listed}"
        );
    }
    // Each node's own view: it holds the databases of exactly its own tenants, and refused
    // nothing (every request came to the right node).
    for node in NODES {
        let status = cluster.status(node).await;
        let held: BTreeSet<&str> = status["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        let owned: BTreeSet<&str> = tenants
            .iter()
            .filter(|t| cluster.owner(t) == node)
            .map(String::as_str)
            .collect();
        assert!(!owned.is_empty(), "{node} owns none of the 30 tenants");
        assert_eq!(held, owned, "{node}'s tenants");
        assert_eq!(status["misdirected"], 0, "{node}");
    }

    // A token sent straight to a node that does not own its tenant: 421 naming the owner, over
    // REST and WebSocket alike, and nothing opened there.
    let stray = tenants
        .iter()
        .find(|t| cluster.owner(t) == "node1")
        .unwrap()
        .clone();
    let token = cluster.token(&stray, "alice");
    let node2 = cluster.node("node2").addr;
    let response = cluster.get(node2, "/api/v1/projects", &token).await;
    assert_eq!(response.status(), 421);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "misdirected");
    assert_eq!(body["error"]["owner"], "node1");
    assert!(matches!(
        Conn::try_connect(&format!("ws://{node2}/ws"), &token, false).await,
        Err(Refused::Status(421))
    ));
    let response = cluster
        .http
        .post(format!("http://{node2}/mcp"))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 421, "MCP too");
    let status = cluster.status("node2").await;
    assert_eq!(status["misdirected"], 3);
    assert!(
        !status["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == stray.as_str())
    );

    // The nodes' own endpoints: only with the cluster secret, and never through the router.
    let wrong = cluster
        .http
        .get(format!("http://{node2}/cluster/v1/status"))
        .bearer_auth("not-the-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let routed = cluster
        .http
        .get(format!("http://{}/cluster/v1/status", cluster.router))
        .bearer_auth(CLUSTER_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(routed.status(), 404);

    move_a_tenant(&cluster, &stray, &projects[&stray]).await;
    a_placement_edited_by_hand_ends_connections_elsewhere(&cluster, &tenants).await;
    kill_and_restart_a_node(&mut cluster, &tenants).await;
}

/// Moves `tenant` from node1 to node2 while one client is subscribed to its project and another
/// writes to it.
async fn move_a_tenant(cluster: &Cluster, tenant: &str, project: &str) {
    assert_eq!(cluster.owner(tenant), "node1");
    let url = cluster.router_ws();
    let writer_token = cluster.token(tenant, "writer");
    let reader_token = cluster.token(tenant, "reader");

    let mut subscriber = Conn::connect_routed(&url, &reader_token).await;
    assert_eq!(subscriber.node, "node1");
    let epoch = subscriber.welcome.history_epoch.clone();
    let subscribed = subscriber
        .ok(pb::Subscribe {
            project_id: project.to_owned(),
            since: None,
            history_epoch: String::new(),
        })
        .await;
    let mut last_seq = subscribed.head_seq;
    let mut seen: Vec<u64> = Vec::new();
    let mut seen_items: BTreeSet<String> = BTreeSet::new();

    // A write that commits on node1 before the move; its retry after the move must be answered
    // from the moved idempotency record.
    let mut writer = Conn::connect_routed(&url, &writer_token).await;
    let first_id = request_id();
    let first = writer
        .call(&first_id, create_item(project, "before the move"))
        .await
        .expect("a reply");
    let first_item = created_item(&first);

    // The writer keeps writing through the move, reconnecting (through the router) whenever its
    // connection ends and resending the request it had not seen answered, with the same id.
    // It writes a few items on node1, says so (the move starts then), and goes on until it has
    // written a few on node2: how many land on node1 meanwhile depends on the machine.
    let (writing, wrote_some) = tokio::sync::oneshot::channel();
    let writer_task = {
        let url = url.clone();
        let project = project.to_owned();
        tokio::spawn(async move {
            let mut created = vec![first_item];
            let mut nodes = BTreeSet::new();
            nodes.insert(writer.node.clone());
            let mut writing = Some(writing);
            let mut on_node2 = 0;
            let deadline = Instant::now() + PATIENCE;
            for i in 0.. {
                if on_node2 == 5 {
                    break;
                }
                assert!(Instant::now() < deadline, "the writer never reached node2");
                let id = request_id();
                loop {
                    if let Some(reply) = writer
                        .call(&id, create_item(&project, &format!("item {i}")))
                        .await
                    {
                        created.push(created_item(&reply));
                        break;
                    }
                    writer = Conn::connect_routed(&url, &writer_token).await;
                    nodes.insert(writer.node.clone());
                }
                if writer.node == "node2" {
                    on_node2 += 1;
                }
                if i == 4
                    && let Some(writing) = writing.take()
                {
                    let _ = writing.send(());
                }
            }
            (created, nodes, writer)
        })
    };
    wrote_some.await.expect("the writer writes");

    let move_command = {
        let map = cluster.map.clone();
        let socket = cluster.admin_socket.clone();
        let nodes: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("{}=http://{}", n.name, n.addr))
            .collect();
        let tenant = tenant.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut command = Command::new(BIN);
            command
                .args(["move-tenant", "--tenant", &tenant, "--to", "node2"])
                .arg("--placement")
                .arg(&map)
                .arg("--haproxy-socket")
                .arg(&socket)
                .env("PM_CLUSTER_SECRET", CLUSTER_SECRET);
            for node in &nodes {
                command.args(["--node", node]);
            }
            command.output().unwrap()
        })
    };

    // The subscriber is told to go away, reconnects through the router (to node2, once the move
    // is done) and resumes from its last sequence number in the same epoch.
    let mut going_away = None;
    loop {
        match subscriber.read().await {
            Some(pb::ServerMessage {
                message: Some(Server::Event(event)),
            }) => {
                seen.push(event.seq);
                last_seq = event.seq;
                if let Some(pb::change::Change::WorkItem(item)) =
                    event.change.and_then(|c| c.change)
                {
                    seen_items.insert(item.id);
                }
            }
            Some(pb::ServerMessage {
                message: Some(Server::GoingAway(g)),
            }) => going_away = Some(g),
            Some(_) => {}
            None => break,
        }
    }
    assert!(
        going_away.is_some_and(|g| g.reconnect_after_ms > 0),
        "the subscriber was told to come back later"
    );

    let output = move_command.await.unwrap();
    assert!(
        output.status.success(),
        "move-tenant failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains(&format!("epoch {epoch} kept")), "{said}");
    assert_eq!(cluster.owner(tenant), "node2");

    let mut subscriber = Conn::connect_routed(&url, &reader_token).await;
    assert_eq!(subscriber.node, "node2");
    assert_eq!(
        subscriber.welcome.history_epoch, epoch,
        "a move keeps the history epoch"
    );
    subscriber
        .ok(pb::Subscribe {
            project_id: project.to_owned(),
            since: Some(last_seq),
            history_epoch: epoch.clone(),
        })
        .await;

    let (created, writer_nodes, mut writer) = writer_task.await.unwrap();
    assert!(
        writer_nodes.contains("node2"),
        "the writer ended on node2: {writer_nodes:?}"
    );
    // The writer's retry of a request that committed on node1: the stored reply, nothing new.
    let retried = writer
        .call(&first_id, create_item(project, "before the move"))
        .await
        .expect("a reply");
    assert_eq!(
        retried, first,
        "the retry is answered from the moved idempotency record"
    );

    // Everything the writer created reaches the subscriber exactly once, in sequence.
    let expected: BTreeSet<String> = created.iter().cloned().collect();
    assert_eq!(
        expected.len(),
        created.len(),
        "every write created its own item"
    );
    while !expected.is_subset(&seen_items) {
        match subscriber.read().await {
            Some(pb::ServerMessage {
                message: Some(Server::Event(event)),
            }) => {
                seen.push(event.seq);
                if let Some(pb::change::Change::WorkItem(item)) =
                    event.change.and_then(|c| c.change)
                {
                    seen_items.insert(item.id);
                }
            }
            Some(pb::ServerMessage {
                message: Some(Server::ResyncRequired(r)),
            }) => panic!("asked to resync: {r:?}"),
            Some(_) => {}
            None => panic!("the subscriber's connection closed"),
        }
    }
    let first_seq = subscribed.head_seq + 1;
    let contiguous: Vec<u64> = (first_seq..first_seq + seen.len() as u64).collect();
    assert_eq!(seen, contiguous, "no gap and no duplicate across the move");
    // The database holds each item once: the retries made no second copy.
    let token = cluster.token(tenant, "reader");
    let mut stored = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: serde_json::Value = cluster
            .get(
                cluster.router,
                &format!("/api/v1/projects/{project}/work-items?limit=200{cursor}"),
                &token,
            )
            .await
            .json()
            .await
            .unwrap();
        stored.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(stored.len(), expected.len(), "no item twice");
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), expected);

    // The old owner refuses the tenant now, naming the new one; the new one holds it.
    let token = cluster.token(tenant, "reader");
    let response = cluster
        .get(cluster.node("node1").addr, "/api/v1/projects", &token)
        .await;
    assert_eq!(response.status(), 421);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["owner"], "node2");
    let status = cluster.status("node1").await;
    assert!(
        !status["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == tenant)
    );
    let status = cluster.status("node2").await;
    assert!(
        status["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == tenant)
    );
}

/// A placement file changed by hand (not by a move) still never leaves a tenant served by two
/// nodes: the old owner ends the tenant's open connections, which sent nothing since.
async fn a_placement_edited_by_hand_ends_connections_elsewhere(
    cluster: &Cluster,
    tenants: &[String],
) {
    let tenant = tenants
        .iter()
        .find(|t| cluster.owner(t) == "node2")
        .unwrap();
    let token = cluster.token(tenant, "alice");
    let mut conn = Conn::connect_routed(&cluster.router_ws(), &token).await;
    assert_eq!(conn.node, "node2");
    let original = std::fs::read_to_string(&cluster.map).unwrap();
    let edited = placement::with_entry(
        &original,
        &TenantId::parse(tenant).unwrap(),
        &NodeName::parse("node1").unwrap(),
    );
    pm_server::cluster::write_atomically(&cluster.map, &edited).unwrap();
    let mut told = false;
    while let Some(message) = conn.read().await {
        told |= matches!(message.message, Some(Server::GoingAway(_)));
    }
    assert!(told, "the connection was told to go away");
    let response = cluster
        .get(cluster.node("node2").addr, "/api/v1/projects", &token)
        .await;
    assert_eq!(response.status(), 421);
    pm_server::cluster::write_atomically(&cluster.map, &original).unwrap();
}

/// Kills node3: its tenants get 503 from the router at once, the others keep working; restarted,
/// it serves its tenants again.
async fn kill_and_restart_a_node(cluster: &mut Cluster, tenants: &[String]) {
    let on_node3 = tenants
        .iter()
        .find(|t| cluster.owner(t) == "node3")
        .unwrap()
        .clone();
    let elsewhere = tenants
        .iter()
        .find(|t| cluster.owner(t) != "node3")
        .unwrap()
        .clone();
    let token3 = cluster.token(&on_node3, "alice");
    let token_other = cluster.token(&elsewhere, "alice");

    let node3 = cluster
        .nodes
        .iter_mut()
        .find(|n| n.name.as_str() == "node3")
        .unwrap();
    drop(node3.process.take());
    let killed = Instant::now();
    let response = cluster
        .get(cluster.router, "/api/v1/projects", &token3)
        .await;
    // Fail fast: a refused connection is answered 503 at once (no retry, no queue), and the checks
    // take the node out (printed, not asserted: the machine's load must not fail the test).
    assert_eq!(response.status(), 503);
    println!(
        "node3's tenant got 503 {:?} after the kill",
        killed.elapsed()
    );
    wait_for_state(&cluster.admin_socket, &["node3"], "DOWN").await;
    println!(
        "HAProxy marked node3 down {:?} after the kill",
        killed.elapsed()
    );
    let response = cluster
        .get(cluster.router, "/api/v1/projects", &token3)
        .await;
    assert_eq!(response.status(), 503);
    let response = cluster
        .get(cluster.router, "/api/v1/projects", &token_other)
        .await;
    assert_eq!(response.status(), 200, "{elsewhere} is untouched");
    let mut other = Conn::connect_routed(&cluster.router_ws(), &token_other).await;
    other.ok(pb::Ping {}).await;

    // Restarted on its address and data: served again, with its data.
    let node3 = cluster
        .nodes
        .iter_mut()
        .find(|n| n.name.as_str() == "node3")
        .unwrap();
    let (process, _) = start_node(
        "node3",
        &node3.addr.to_string(),
        &node3.dir,
        &cluster.map,
        cluster.dir.path(),
    )
    .await;
    node3.process = Some(process);
    wait_for_state(&cluster.admin_socket, &["node3"], "UP").await;
    let response = cluster
        .get(cluster.router, "/api/v1/projects", &token3)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-pm-node"], "node3");
    let listed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        listed["projects"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
}
