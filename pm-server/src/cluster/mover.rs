//! `pm-server move-tenant`: moves one tenant from the node that owns it to another, through the
//! nodes' `/cluster/v1` endpoints ([`super::admin`]), then flips the placement file and tells the
//! router. Every step before the flip is undone on failure (the old owner serves the tenant
//! again); after the flip the new owner serves it, whatever happens next.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use pm_core::TenantId;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::placement::{self, NodeName, Placement};

/// How long one call to a node may take (a copy of a large tenant travels in one of them).
const CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// How long HAProxy's runtime API may take to answer one command.
const ROUTER_TIMEOUT: Duration = Duration::from_secs(10);

/// What to move where, and how to reach everything involved.
#[derive(Debug)]
pub struct Move {
    pub tenant: TenantId,
    pub to: NodeName,
    /// The placement file the router reads (HAProxy's map file).
    pub placement_file: PathBuf,
    /// The nodes' base URLs (their own address, not the router's).
    pub nodes: Vec<(NodeName, String)>,
    pub secret: SecretString,
    /// HAProxy's runtime API (its stats socket): a Unix socket path or `host:port`.
    pub haproxy_socket: Option<String>,
    /// The map's name in HAProxy's configuration; by default the placement file's path.
    pub haproxy_map: Option<String>,
    /// Run with `sh -c` after the flip (a router reload, a copy of the file to other machines).
    pub reload_command: Option<String>,
}

/// What a move did.
#[derive(Debug)]
pub struct Moved {
    pub from: NodeName,
    pub head_seq: i64,
    pub history_epoch: String,
    /// Where the old owner set its copy aside.
    pub kept: String,
}

/// Moves the tenant (see the module's docs).
pub async fn move_tenant(m: &Move) -> anyhow::Result<Moved> {
    let text = std::fs::read_to_string(&m.placement_file)
        .with_context(|| format!("--placement: cannot read {}", m.placement_file.display()))?;
    let current = Placement::parse(&text)
        .with_context(|| format!("--placement: {}", m.placement_file.display()))?;
    let from = current.owner(&m.tenant).clone();
    if from == m.to {
        bail!("tenant {} is placed on {} already", m.tenant, m.to);
    }
    let url_of = |node: &NodeName| {
        m.nodes
            .iter()
            .find(|(name, _)| name == node)
            .map(|(_, url)| url.trim_end_matches('/').to_owned())
            .with_context(|| format!("--node: no URL given for node {node} (--node {node}=URL)"))
    };
    let source = Node::new(&from, url_of(&from)?, &m.secret)?;
    let target = Node::new(&m.to, url_of(&m.to)?, &m.secret)?;
    source.check_name().await?;
    target.check_name().await?;

    // The copy streams from the old owner to the target through this command, never whole in
    // memory anywhere.
    // The old owner serves the tenant again by itself when it fails to copy it; and when it
    // refuses (another move of the tenant is under way), that move is not this command's to end.
    let copy = source
        .send(
            reqwest::Method::POST,
            &format!("tenants/{}/export", m.tenant),
            None,
        )
        .await
        .context("freezing and copying the tenant on its node")?;
    let installed = match target
        .call(
            reqwest::Method::PUT,
            &format!("tenants/{}/database", m.tenant),
            Some(reqwest::Body::wrap_stream(copy.bytes_stream())),
        )
        .await
    {
        Ok(body) => body,
        Err(e) => {
            source.abort(&m.tenant).await;
            return Err(e.context("installing the copy on the target node"));
        }
    };
    let installed: serde_json::Value =
        serde_json::from_slice(&installed).context("the target's answer is not JSON")?;

    // The flip: the file first (the nodes' and the router's source of truth), then the copies
    // of nodes that keep their own file, then the router's memory.
    let flipped = placement::with_entry(&text, &m.tenant, &m.to);
    if let Err(e) = super::write_atomically(&m.placement_file, &flipped) {
        source.abort(&m.tenant).await;
        return Err(anyhow::Error::from(e).context("writing the placement file"));
    }
    for node in [&target, &source] {
        node.call(
            reqwest::Method::PUT,
            "placement",
            Some(flipped.clone().into()),
        )
        .await
        .with_context(|| format!("sending the placement to node {}", node.name))?;
    }
    if let Some(socket) = &m.haproxy_socket {
        let map = match &m.haproxy_map {
            Some(map) => map.clone(),
            None => m.placement_file.display().to_string(),
        };
        set_router_entry(socket, &map, &m.tenant, &m.to)
            .await
            .context("updating HAProxy's map through its runtime API")?;
    }
    if let Some(command) = &m.reload_command {
        run_reload(command).await?;
    }
    let released = source
        .call(
            reqwest::Method::POST,
            &format!("tenants/{}/release", m.tenant),
            None,
        )
        .await
        .context("releasing the tenant on its old node (it is served by the new one already)")?;
    let released: serde_json::Value =
        serde_json::from_slice(&released).context("the old node's answer is not JSON")?;
    Ok(Moved {
        from,
        head_seq: installed["head_seq"].as_i64().unwrap_or_default(),
        history_epoch: installed["history_epoch"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        kept: released["kept"].as_str().unwrap_or_default().to_owned(),
    })
}

/// One node's `/cluster/v1`.
struct Node {
    name: NodeName,
    base: String,
    auth: String,
    http: reqwest::Client,
}

impl Node {
    fn new(name: &NodeName, base: String, secret: &SecretString) -> anyhow::Result<Self> {
        Ok(Self {
            name: name.clone(),
            base,
            auth: format!("Bearer {}", secret.expose_secret()),
            http: reqwest::Client::builder()
                .timeout(CALL_TIMEOUT)
                .build()
                .context("building the HTTP client")?,
        })
    }

    /// Sends a request and returns the successful response (its body not read yet).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<reqwest::Body>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/cluster/v1/{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .header(reqwest::header::AUTHORIZATION, &self.auth);
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("node {}: cannot reach {url}", self.name))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("node {} answered {status} to {path}: {body}", self.name);
        }
        Ok(response)
    }

    /// Sends a request and returns the successful response's body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<reqwest::Body>,
    ) -> anyhow::Result<Vec<u8>> {
        let response = self.send(method, path, body).await?;
        let body = response
            .bytes()
            .await
            .with_context(|| format!("node {}: reading the answer to {path}", self.name))?;
        Ok(body.to_vec())
    }

    /// Refuses to go on when the URL given for a node reaches another one.
    async fn check_name(&self) -> anyhow::Result<()> {
        let body = self
            .call(reqwest::Method::GET, "status", None)
            .await
            .context("asking the node for its status")?;
        let status: serde_json::Value =
            serde_json::from_slice(&body).context("the node's status is not JSON")?;
        let actual = status["node"].as_str().unwrap_or_default();
        if actual != self.name.as_str() {
            bail!(
                "--node {}={}: that URL reaches node {actual:?}",
                self.name,
                self.base
            );
        }
        Ok(())
    }

    async fn abort(&self, tenant: &TenantId) {
        if let Err(e) = self
            .call(
                reqwest::Method::POST,
                &format!("tenants/{tenant}/abort"),
                None,
            )
            .await
        {
            tracing::error!(
                node = %self.name,
                error = %format!("{e:#}"),
                "could not end the failed move; the tenant stays refused there until \
                 `POST /cluster/v1/tenants/{tenant}/abort`"
            );
        }
    }
}

/// Sets the tenant's entry in HAProxy's in-memory map (`set map`, or `add map` when the tenant
/// had no entry), so the router follows the file without a reload.
async fn set_router_entry(
    socket: &str,
    map: &str,
    tenant: &TenantId,
    node: &NodeName,
) -> anyhow::Result<()> {
    let answer = runtime_command(socket, &format!("set map {map} {tenant} {node}")).await?;
    if answer.trim().is_empty() {
        return Ok(());
    }
    if !answer.contains("not found") {
        bail!("HAProxy answered `set map` with: {}", answer.trim());
    }
    let answer = runtime_command(socket, &format!("add map {map} {tenant} {node}")).await?;
    if !answer.trim().is_empty() {
        bail!("HAProxy answered `add map` with: {}", answer.trim());
    }
    Ok(())
}

/// Sends one command to HAProxy's runtime API and returns its answer (it closes after one).
async fn runtime_command(socket: &str, command: &str) -> anyhow::Result<String> {
    let exchange = async {
        let mut answer = String::new();
        if let Ok(addr) = socket.parse::<std::net::SocketAddr>() {
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            stream.write_all(format!("{command}\n").as_bytes()).await?;
            stream.read_to_string(&mut answer).await?;
        } else {
            #[cfg(unix)]
            {
                let mut stream = tokio::net::UnixStream::connect(Path::new(socket)).await?;
                stream.write_all(format!("{command}\n").as_bytes()).await?;
                stream.read_to_string(&mut answer).await?;
            }
            #[cfg(not(unix))]
            anyhow::bail!("a Unix socket needs a Unix system; give host:port");
        }
        anyhow::Ok(answer)
    };
    tokio::time::timeout(ROUTER_TIMEOUT, exchange)
        .await
        .with_context(|| format!("HAProxy's runtime API at {socket} did not answer in time"))?
        .with_context(|| format!("HAProxy's runtime API at {socket}"))
}

async fn run_reload(command: &str) -> anyhow::Result<()> {
    let owned = command.to_owned();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(owned)
            .status()
    })
    .await
    .context("--reload-command: the task running it failed")?
    .with_context(|| format!("--reload-command: cannot run {command:?}"))?;
    if !status.success() {
        bail!("--reload-command {command:?} failed: {status}");
    }
    Ok(())
}
