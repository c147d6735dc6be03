//! Tenant-sharded clustering: which node owns which tenant, and what a node does about a request
//! for a tenant it does not own (docs/scaling.md).
//!
//! Every node knows its own name and reads the placement file that HAProxy routes by
//! ([`placement`]). A request or connection whose token names a tenant placed on another node is
//! refused with 421 before anything opens the tenant's database, so a stale router or a direct
//! connection can never make a second writer for one tenant. A tenant being moved away is
//! refused with 503 and `Retry-After` until the placement flips, after which it is refused with
//! 421 naming the new owner.
//!
//! The node re-reads the placement file when it changes: every admission compares the file's
//! modification time, length and inode with the ones it last read (one `stat`), and a rewrite by
//! rename, as the move command does it, always changes the inode.

pub mod admin;
pub mod mover;
pub mod placement;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pm_core::TenantId;
use secrecy::SecretString;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

pub use placement::{NodeName, Placement};

use crate::state::AppState;

/// The response header that names the node that answered (for operators and the cluster test).
pub const NODE_HEADER: &str = "x-pm-node";

/// How often a node looks at the placement file when no request makes it look: the longest a
/// connection of a tenant placed elsewhere by hand goes on here.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// How long a client is asked to wait before retrying a tenant that is being moved.
const MOVING_RETRY_AFTER_SECS: u64 = 1;

/// A node's cluster settings. Without them the server is a single node that owns every tenant.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This node's name, as the placement file and HAProxy's backends call it.
    pub node: NodeName,
    /// The placement file (HAProxy map syntax), shared with the router.
    pub placement_file: PathBuf,
    /// Protects `/cluster/v1` (the move and status endpoints); without it they are not served.
    pub secret: Option<SecretString>,
}

impl Settings {
    /// The cluster settings of `config`: `node_name` and `placement_file` come together or not
    /// at all.
    pub fn from_config(config: &crate::Config) -> anyhow::Result<Option<Self>> {
        match (&config.node_name, &config.placement_file) {
            (None, None) => Ok(None),
            (Some(node), Some(file)) => Ok(Some(Self {
                node: node.clone(),
                placement_file: file.clone(),
                secret: config.cluster_secret.clone(),
            })),
            (Some(_), None) => {
                anyhow::bail!("placement_file: a cluster node (node_name is set) needs one")
            }
            (None, Some(_)) => {
                anyhow::bail!("node_name: a cluster node (placement_file is set) needs one")
            }
        }
    }
}

/// The placement as last read, and how to notice that the file changed.
struct Loaded {
    stamp: Option<Stamp>,
    placement: Arc<Placement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        })
    }
}

/// What this node does with a tenant it owns.
enum TenantState {
    /// Served. The gate lets a move end every connection and wait for every request in flight.
    Serving(Gate),
    /// Being moved away: refused until the placement flips (or the move is aborted).
    Moving,
}

#[derive(Clone)]
struct Gate {
    stop: CancellationToken,
    tracker: TaskTracker,
}

/// Held by everything that serves a tenant (a REST or MCP request, a WebSocket connection) for as
/// long as it runs; `stop` is cancelled when the tenant starts moving away.
#[derive(Clone)]
pub struct Ticket {
    pub stop: CancellationToken,
    _held: TaskTrackerToken,
}

/// Whether a tenant is served here.
pub enum Admission {
    Serve(Ticket),
    /// Placed on another node.
    Elsewhere(NodeName),
    /// Being moved away from this node.
    Moving,
}

/// Why a move could not start here.
#[derive(Debug)]
pub enum FreezeError {
    /// This node does not own the tenant.
    NotOwner(NodeName),
    /// A move of the tenant is in progress already.
    AlreadyMoving,
    /// Connections or requests did not finish in time; the tenant is served again.
    Busy,
}

/// One node's view of the cluster.
pub struct Cluster {
    node: NodeName,
    file: PathBuf,
    secret: Option<SecretString>,
    loaded: Mutex<Loaded>,
    tenants: Mutex<HashMap<TenantId, TenantState>>,
    misdirected: AtomicU64,
    /// The server's shutdown: every tenant's stop token is a child of it.
    shutdown: CancellationToken,
}

impl Cluster {
    /// Reads the placement file; a missing or invalid file is an error naming the setting.
    pub fn load(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let file = &settings.placement_file;
        let stamp = Stamp::of(file);
        let placement = read_placement(file).context("placement_file")?;
        Ok(Self {
            node: settings.node.clone(),
            file: file.clone(),
            secret: settings.secret.clone(),
            loaded: Mutex::new(Loaded {
                stamp,
                placement: Arc::new(placement),
            }),
            tenants: Mutex::new(HashMap::new()),
            misdirected: AtomicU64::new(0),
            shutdown,
        })
    }

    pub fn node(&self) -> &NodeName {
        &self.node
    }

    pub fn placement_file(&self) -> &Path {
        &self.file
    }

    pub(crate) fn secret(&self) -> Option<&SecretString> {
        self.secret.as_ref()
    }

    /// How many requests for another node's tenants this node refused since it started.
    pub fn misdirected(&self) -> u64 {
        self.misdirected.load(Ordering::Relaxed)
    }

    /// The placement, re-read first if the file changed. A file that became unreadable or
    /// invalid is logged and the last good placement kept: a typo must not stop every tenant.
    pub fn placement(&self) -> Arc<Placement> {
        let stamp = Stamp::of(&self.file);
        {
            let loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
            if loaded.stamp == stamp {
                return Arc::clone(&loaded.placement);
            }
        }
        match read_placement(&self.file) {
            Ok(placement) => {
                let placement = Arc::new(placement);
                let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
                loaded.stamp = stamp;
                loaded.placement = Arc::clone(&placement);
                tracing::info!(file = %self.file.display(), "placement reloaded");
                self.end_tenants_placed_elsewhere(&placement);
                placement
            }
            Err(e) => {
                let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
                // Remember the broken file's stamp so it is reported once, not per request.
                if loaded.stamp != stamp {
                    tracing::error!(
                        file = %self.file.display(),
                        error = %format!("{e:#}"),
                        "the placement file is not usable; keeping the last good placement"
                    );
                    loaded.stamp = stamp;
                }
                Arc::clone(&loaded.placement)
            }
        }
    }

    /// Ends the connections of tenants that the new placement gives to other nodes (a file
    /// edited by hand rather than through a move): admission is checked once per connection, so
    /// without this a connection opened before the change would go on writing here while the
    /// new owner serves the tenant too. Each is told to go away and reconnects through the router.
    fn end_tenants_placed_elsewhere(&self, placement: &Placement) {
        let mut tenants = self.lock_tenants();
        tenants.retain(|tenant, state| match state {
            TenantState::Serving(gate) if *placement.owner(tenant) != self.node => {
                tracing::warn!(
                    tenant = %tenant,
                    owner = %placement.owner(tenant),
                    "tenant placed on another node: ending its connections here"
                );
                gate.stop.cancel();
                false
            }
            _ => true,
        });
    }

    /// Re-reads the placement file whenever it changes, until `shutdown`, so that a change also
    /// reaches tenants that receive no new request (their open connections end here when the
    /// tenant is placed elsewhere).
    pub async fn watch(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    self.placement();
                }
            }
        }
    }

    /// The node that owns `tenant` now.
    pub fn owner(&self, tenant: &TenantId) -> NodeName {
        self.placement().owner(tenant).clone()
    }

    /// Whether a request or connection of `tenant` may be served here now.
    pub fn admit(&self, tenant: &TenantId) -> Admission {
        let owner = self.owner(tenant);
        if owner != self.node {
            self.misdirected.fetch_add(1, Ordering::Relaxed);
            return Admission::Elsewhere(owner);
        }
        let mut tenants = self.lock_tenants();
        let state = tenants.entry(tenant.clone()).or_insert_with(|| {
            TenantState::Serving(Gate {
                stop: self.shutdown.child_token(),
                tracker: TaskTracker::new(),
            })
        });
        match state {
            TenantState::Serving(gate) => Admission::Serve(Ticket {
                stop: gate.stop.clone(),
                _held: gate.tracker.token(),
            }),
            TenantState::Moving => Admission::Moving,
        }
    }

    /// Starts moving `tenant` away: new requests are refused, connections are told to go away
    /// (and come back later, to the new owner), and this waits up to `drain` for everything in
    /// flight to finish. Afterwards nothing writes to the tenant's database here.
    pub async fn freeze(&self, tenant: &TenantId, drain: Duration) -> Result<(), FreezeError> {
        let owner = self.owner(tenant);
        if owner != self.node {
            return Err(FreezeError::NotOwner(owner));
        }
        let gate = {
            let mut tenants = self.lock_tenants();
            match tenants.insert(tenant.clone(), TenantState::Moving) {
                Some(TenantState::Moving) => return Err(FreezeError::AlreadyMoving),
                Some(TenantState::Serving(gate)) => Some(gate),
                None => None,
            }
        };
        if let Some(gate) = gate {
            gate.stop.cancel();
            gate.tracker.close();
            if tokio::time::timeout(drain, gate.tracker.wait())
                .await
                .is_err()
            {
                self.unfreeze(tenant);
                return Err(FreezeError::Busy);
            }
        }
        Ok(())
    }

    /// Ends a move of `tenant` that did not happen: it is served here again.
    pub fn unfreeze(&self, tenant: &TenantId) {
        let mut tenants = self.lock_tenants();
        if matches!(tenants.get(tenant), Some(TenantState::Moving)) {
            tenants.remove(tenant);
        }
    }

    /// Forgets `tenant` after it moved away (the placement names its new owner).
    pub fn forget(&self, tenant: &TenantId) {
        self.lock_tenants().remove(tenant);
    }

    /// The tenants being moved away from this node now.
    pub fn moving(&self) -> Vec<TenantId> {
        let mut moving: Vec<TenantId> = self
            .lock_tenants()
            .iter()
            .filter(|(_, state)| matches!(state, TenantState::Moving))
            .map(|(tenant, _)| tenant.clone())
            .collect();
        moving.sort();
        moving
    }

    fn lock_tenants(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, TenantState>> {
        // Every critical section is one map operation: a poisoned map is still consistent.
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn read_placement(path: &Path) -> anyhow::Result<Placement> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Placement::parse(&text).with_context(|| format!("{} is not a valid placement", path.display()))
}

/// Writes `text` to `path` atomically: a temporary file beside it, synced, then renamed over it,
/// so a reader (a node, HAProxy) sees the old file or the new one, never a part.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// The token of a request: `Authorization: Bearer`, or the `bearer.` WebSocket subprotocol entry.
fn token(headers: &HeaderMap) -> Option<&str> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(pm_auth::bearer_from_header);
    from_header.or_else(|| {
        headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .and_then(pm_auth::token_from_subprotocols)
    })
}

/// In front of every route of the server (in cluster mode): a request whose verified token names
/// a tenant of another node is refused with 421 naming the owner, one of a tenant moving away with
/// 503; one that is served carries a [`Ticket`] (in its extensions, for the WebSocket upgrade) for
/// as long as it runs. A request without a valid token passes: its handler refuses it (401) or
/// does not need one (`/health`, `/ready`), and it cannot reach a tenant's data either way.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(cluster) = state.cluster.clone() else {
        return next.run(request).await;
    };
    let tenant = token(request.headers())
        // The REST API's cache of verified tokens: a REST call's token is verified once, here.
        .and_then(|token| state.api.tokens.verify(&state.verifier, token).ok())
        .map(|identity| identity.tenant);
    let mut response = match tenant.map(|tenant| (cluster.admit(&tenant), tenant)) {
        None => next.run(request).await,
        Some((Admission::Serve(ticket), _)) => {
            request.extensions_mut().insert(ticket.clone());
            let response = next.run(request).await;
            drop(ticket);
            response
        }
        Some((Admission::Elsewhere(owner), tenant)) => {
            tracing::debug!(tenant = %tenant, owner = %owner, "refused a tenant placed elsewhere");
            misdirected(&tenant, &owner)
        }
        Some((Admission::Moving, _)) => moving(),
    };
    if let Ok(node) = HeaderValue::from_str(cluster.node.as_str()) {
        response.headers_mut().insert(NODE_HEADER, node);
    }
    response
}

/// 421 Misdirected Request, naming the tenant's owner.
fn misdirected(tenant: &TenantId, owner: &NodeName) -> Response {
    (
        StatusCode::MISDIRECTED_REQUEST,
        Json(json!({"error": {
            "code": "misdirected",
            "message": format!("tenant {tenant} is served by node {owner}"),
            "owner": owner.as_str(),
        }})),
    )
        .into_response()
}

/// 503 with `Retry-After`: the tenant is being moved to another node.
fn moving() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, MOVING_RETRY_AFTER_SECS.to_string())],
        Json(json!({"error": {
            "code": "unavailable",
            "message": "this tenant is moving to another node; retry shortly",
        }})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_needs_both_its_name_and_the_placement_file() {
        let mut config = crate::Config::for_data_dir("data");
        assert!(Settings::from_config(&config).unwrap().is_none());
        config.node_name = Some(NodeName::parse("node1").unwrap());
        let err = Settings::from_config(&config).unwrap_err().to_string();
        assert!(err.starts_with("placement_file"), "{err}");
        config.node_name = None;
        config.placement_file = Some("placement.map".into());
        let err = Settings::from_config(&config).unwrap_err().to_string();
        assert!(err.starts_with("node_name"), "{err}");
    }

    #[test]
    fn a_placement_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("placement.map");
        write_atomically(&path, "old\n").unwrap();
        let before = Stamp::of(&path);
        write_atomically(&path, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_ne!(Stamp::of(&path), before, "a rewrite is noticed");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
