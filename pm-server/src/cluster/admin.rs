//! `/cluster/v1`: what the move command (and an operator) asks of a node. Every call needs
//! `Authorization: Bearer <cluster_secret>`, compared in constant time; without a configured
//! secret the routes are not served at all. The router must not expose them (the shipped HAProxy
//! configuration refuses `/cluster/`).
//!
//! A move, as `pm-server move-tenant` drives it ([`super::mover`]):
//! 1. `POST tenants/{t}/export` on the owner: the tenant starts moving (new requests 503,
//!    connections told to go away, everything in flight finished), and the answer is a
//!    consistent copy of its database (`VACUUM INTO`) with its history.
//! 2. `PUT tenants/{t}/database` on the target: installs the copy keeping its history epoch.
//! 3. `PUT placement` on both (and the router's map): the tenant is placed on the target.
//! 4. `POST tenants/{t}/release` on the old owner: its copy is closed and set aside.
//!
//! `POST tenants/{t}/abort` ends a move that failed before the placement flipped.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use futures_util::StreamExt;
use pm_core::TenantId;
use secrecy::ExposeSecret;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{Cluster, FreezeError, Placement};
use crate::admin::History;
use crate::state::AppState;

/// How long a move waits for the tenant's connections to close and its requests to finish. A
/// connection's close handshake takes at most 5 s (pm-ws), so this leaves room for a command
/// in flight; a tenant still busy after it is served again and the move fails.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the old owner waits for the last holder of the tenant's database (maintenance, say)
/// before refusing to release it.
const RELEASE_PATIENCE: Duration = Duration::from_secs(5);

/// The routes, for a node with a cluster secret.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/cluster/v1/status", get(status))
        .route("/cluster/v1/placement", put(set_placement))
        .route("/cluster/v1/tenants/{tenant}/export", post(export))
        .route(
            "/cluster/v1/tenants/{tenant}/database",
            // A tenant's database can be large; only holders of the cluster secret get here.
            put(install).layer(DefaultBodyLimit::disable()),
        )
        .route("/cluster/v1/tenants/{tenant}/release", post(release))
        .route("/cluster/v1/tenants/{tenant}/abort", post(abort))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

fn internal(what: &str, e: &anyhow::Error) -> Response {
    tracing::error!(error = %format!("{e:#}"), "cluster: {what} failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("{what} failed; see the node's log"),
    )
}

async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let expected = state.cluster.as_ref().and_then(|c| c.secret());
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(pm_auth::bearer_from_header);
    match expected {
        Some(expected) if crate::metrics::same_token(given, expected.expose_secret()) => {
            next.run(request).await
        }
        _ => error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the cluster secret is required",
        ),
    }
}

/// Why a call names no tenant of a cluster node.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.status, self.code, self.message)
    }
}

/// The cluster and the tenant named by the path.
fn parts(state: &AppState, tenant: &str) -> Result<(Arc<Cluster>, TenantId), Refusal> {
    let cluster = state.cluster.clone().ok_or_else(|| Refusal {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: "this node is not in a cluster".to_owned(),
    })?;
    let tenant = TenantId::parse(tenant).map_err(|e| Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "validation",
        message: e.to_string(),
    })?;
    Ok((cluster, tenant))
}

/// This node's own view: its name, the tenants it holds a database of, the tenants moving away
/// and how many requests for other nodes' tenants it refused.
async fn status(State(state): State<AppState>) -> Response {
    let Some(cluster) = state.cluster.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "this node is not in a cluster",
        );
    };
    let tenants = match state.tenants.tenants_on_disk() {
        Ok(tenants) => tenants,
        Err(e) => return internal("listing the tenants", &e.into()),
    };
    Json(json!({
        "node": cluster.node().as_str(),
        "tenants": tenants.iter().map(TenantId::as_str).collect::<Vec<_>>(),
        "moving": cluster.moving().iter().map(TenantId::as_str).collect::<Vec<_>>(),
        "misdirected": cluster.misdirected(),
    }))
    .into_response()
}

/// Replaces this node's placement file (for nodes that do not share one file).
async fn set_placement(State(state): State<AppState>, body: String) -> Response {
    let Some(cluster) = state.cluster.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "this node is not in a cluster",
        );
    };
    if let Err(e) = Placement::parse(&body) {
        return error(StatusCode::BAD_REQUEST, "validation", e.to_string());
    }
    let file = cluster.placement_file().to_owned();
    let written = tokio::task::spawn_blocking(move || super::write_atomically(&file, &body)).await;
    match written {
        Ok(Ok(())) => {
            cluster.placement();
            Json(json!({"node": cluster.node().as_str()})).into_response()
        }
        Ok(Err(e)) => internal("writing the placement file", &e.into()),
        Err(e) => internal("writing the placement file", &e.into()),
    }
}

/// Starts moving the tenant away and answers a consistent copy of its database.
async fn export(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    let (cluster, tenant) = match parts(&state, &tenant) {
        Ok(parts) => parts,
        Err(refusal) => return refusal.into_response(),
    };
    match cluster.freeze(&tenant, DRAIN_TIMEOUT).await {
        Ok(()) => {}
        Err(FreezeError::NotOwner(owner)) => {
            return error(
                StatusCode::CONFLICT,
                "not_owner",
                format!("tenant {tenant} is placed on node {owner}, not here"),
            );
        }
        Err(FreezeError::AlreadyMoving) => {
            return error(
                StatusCode::CONFLICT,
                "moving",
                format!("tenant {tenant} is being moved already"),
            );
        }
        Err(FreezeError::Busy) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the tenant's connections did not finish in time; it is served again",
            );
        }
    }
    let copy = async {
        let db = state.tenants.open(&tenant).await?;
        let dir = state
            .tenants
            .config()
            .data_dir
            .join(format!(".move-out-{tenant}"));
        if tokio::fs::try_exists(&dir).await? {
            tokio::fs::remove_dir_all(&dir).await?;
        }
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join("pm.sqlite3");
        db.backup_to(&path).await?;
        drop(db);
        let file = tokio::fs::File::open(&path).await?;
        let len = file.metadata().await?.len();
        // The open file stays readable after its name is gone: nothing is left behind, whenever
        // the transfer ends.
        tokio::fs::remove_dir_all(&dir).await?;
        anyhow::Ok((file, len))
    };
    match copy.await {
        Ok((file, len)) => {
            tracing::info!(tenant = %tenant, bytes = len, "tenant frozen and copied for a move");
            (
                [
                    (header::CONTENT_TYPE, "application/vnd.sqlite3".to_owned()),
                    (header::CONTENT_LENGTH, len.to_string()),
                ],
                Body::from_stream(ReaderStream::new(file)),
            )
                .into_response()
        }
        Err(e) => {
            cluster.unfreeze(&tenant);
            internal("copying the tenant", &e)
        }
    }
}

/// Installs a moved tenant's database, keeping its history epoch and sequence numbers.
async fn install(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Body,
) -> Response {
    let (cluster, tenant) = match parts(&state, &tenant) {
        Ok(parts) => parts,
        Err(refusal) => return refusal.into_response(),
    };
    if cluster.owner(&tenant) == *cluster.node() {
        return error(
            StatusCode::CONFLICT,
            "owner",
            format!("tenant {tenant} is placed here already; refusing to replace its database"),
        );
    }
    // A hub remembers the last sequence number it published; one left from an earlier stay of
    // the tenant would be behind the moved history.
    if state.realtime.service.hubs().get(&tenant).is_some() {
        return error(
            StatusCode::CONFLICT,
            "served_before",
            format!(
                "this node served tenant {tenant} since it started; restart it before moving \
                 the tenant back"
            ),
        );
    }
    if !state.tenants.close(&tenant).await {
        return error(
            StatusCode::CONFLICT,
            "busy",
            format!("tenant {tenant}'s database is in use here"),
        );
    }
    let data_dir = state.tenants.config().data_dir.clone();
    let incoming = data_dir.join(format!(".move-in-{tenant}.sqlite3"));
    let installed = async {
        receive(body, &incoming).await?;
        crate::admin::install(&data_dir, &tenant, &incoming, History::Keep).await
    }
    .await;
    let _ = tokio::fs::remove_file(&incoming).await;
    match installed {
        Ok(installed) => {
            tracing::info!(
                tenant = %tenant,
                head_seq = installed.head_seq,
                epoch = %installed.history_epoch,
                "installed a moved tenant"
            );
            Json(json!({
                "head_seq": installed.head_seq,
                "history_epoch": installed.history_epoch,
            }))
            .into_response()
        }
        Err(e) => internal("installing the tenant", &e),
    }
}

/// Writes a request's body to `path` as it arrives, synced before it counts as received. A body
/// cut short (the sender or the connection failed) is an error, never a shorter file.
async fn receive(body: Body, path: &std::path::Path) -> anyhow::Result<()> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        file.write_all(&chunk?).await?;
    }
    file.sync_all().await?;
    Ok(())
}

/// After the placement flipped: closes the tenant's database here and sets its files aside under
/// `<data_dir>/moved/` (for the operator to delete once the move is confirmed).
async fn release(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    let (cluster, tenant) = match parts(&state, &tenant) {
        Ok(parts) => parts,
        Err(refusal) => return refusal.into_response(),
    };
    if cluster.owner(&tenant) == *cluster.node() {
        return error(
            StatusCode::CONFLICT,
            "owner",
            format!("tenant {tenant} is still placed here"),
        );
    }
    let deadline = tokio::time::Instant::now() + RELEASE_PATIENCE;
    while !state.tenants.close(&tenant).await {
        if tokio::time::Instant::now() >= deadline {
            return error(
                StatusCode::CONFLICT,
                "busy",
                format!("tenant {tenant}'s database is still in use here"),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let data_dir = &state.tenants.config().data_dir;
    let from = data_dir.join("tenants").join(tenant.as_str());
    let kept = data_dir.join("moved").join(format!(
        "{tenant}-{}",
        pm_core::Timestamp::now().as_millis()
    ));
    let moved = async {
        if tokio::fs::try_exists(&from).await? {
            tokio::fs::create_dir_all(data_dir.join("moved")).await?;
            tokio::fs::rename(&from, &kept).await?;
        }
        anyhow::Ok(())
    };
    if let Err(e) = moved.await {
        return internal("setting the moved tenant's files aside", &e);
    }
    cluster.forget(&tenant);
    tracing::info!(tenant = %tenant, kept = %kept.display(), "released a moved tenant");
    Json(json!({"kept": kept.display().to_string()})).into_response()
}

/// Ends a move that failed before the placement flipped: the tenant is served here again.
async fn abort(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    let (cluster, tenant) = match parts(&state, &tenant) {
        Ok(parts) => parts,
        Err(refusal) => return refusal.into_response(),
    };
    cluster.unfreeze(&tenant);
    Json(json!({"node": cluster.node().as_str()})).into_response()
}
