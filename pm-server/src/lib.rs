//! The pm server: configuration, routing, the WebSocket upgrade and startup. [`run`] holds the
//! wiring; `main.rs` only parses the command line, sets up logging, binds and calls it.

pub mod admin;
pub mod config;
pub mod demo;
mod guide;
pub mod keys;
pub mod maintenance;
mod mcp;
mod metrics;
mod rest;
mod router;
mod state;
mod web;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pm_db::{StorageConfig, TenantManager};
use pm_ws::{Admission, Hubs, Metrics, Realtime, Service};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
pub use state::AppState;

/// The OpenAPI 3.1 document of `/api/v1`, exactly as the server serves it at
/// `/api/v1/openapi.json`: for client generators and validators that run without a server.
pub fn openapi_document() -> anyhow::Result<String> {
    serde_json::to_string_pretty(&router::openapi_json())
        .context("the OpenAPI document cannot be written as JSON")
}

/// What is known once the server is ready to serve.
#[derive(Debug, Clone)]
pub struct Ready {
    /// The address the server accepts connections on.
    pub addr: std::net::SocketAddr,
    /// Whether the demo tenant exists (seeded now or before), so a demo sign-in would work.
    pub demo_tenant_exists: bool,
}

/// Serves on `listener` until `shutdown` is cancelled, then stops accepting, tells every
/// connection it is going away, lets in-flight commands finish, closes the databases and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    serve(config, listener, shutdown, |_| {}).await
}

/// [`run`], calling `on_ready` once storage has been checked, the demo seeded (when asked for) and
/// every listener bound: what it prints (the sign-in banner) is then true. A failure before that
/// returns an error and never calls it.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(Ready),
) -> anyhow::Result<()> {
    let keys = keys::load(&config)?;
    let verifier = pm_auth::Verifier::new(&keys)
        .context("the configured token keys are not usable")?
        .with_leeway(config.jwt_leeway_secs);
    let mut storage = StorageConfig::new(&config.data_dir);
    storage.max_open_tenants = config.max_open_tenants;
    storage.idle_timeout = Duration::from_secs(config.tenant_idle_secs);
    let tenants = Arc::new(TenantManager::new(storage));
    let metrics = Arc::new(Metrics::default());
    let hubs = Arc::new(Hubs::new(Arc::clone(&metrics)));
    let service = Arc::new(Service::new(
        Arc::clone(&tenants),
        hubs,
        Arc::clone(&metrics),
        config.retention(),
    ));
    tenants
        .probe()
        .await
        .context("data_dir: the storage is not usable")?;
    if config.demo {
        demo::seed(&service)
            .await
            .context("seeding the demo tenant")?;
    }
    let demo_tenant_exists = tenants
        .tenants_on_disk()?
        .iter()
        .any(|t| t.as_str() == demo::TENANT);
    let connections = TaskTracker::new();
    let state = AppState {
        verifier: Arc::new(verifier),
        realtime: Arc::new(Realtime {
            service,
            limits: config.limits(),
            shutdown: shutdown.clone(),
        }),
        admission: Admission::new(config.max_connections, config.max_connections_per_tenant),
        tenants: Arc::clone(&tenants),
        connections: connections.clone(),
        exporter: Arc::new(metrics::Exporter::new(&metrics)),
        metrics_token: config.metrics_token.clone(),
        api: Arc::new(rest::Api::new(&config)?),
        mcp: Arc::new(mcp::Mcp::new(&config)),
    };

    let maintenance = tokio::spawn(maintenance::run(
        Arc::clone(&tenants),
        config.retention(),
        Duration::from_secs(config.maintenance_interval_secs),
        shutdown.clone(),
    ));
    let addr = listener.local_addr().ok();
    tracing::info!(addr = ?addr, data_dir = %config.data_dir.display(), "pm listening");
    let metrics_server = match config.metrics_listen {
        Some(config::Address(addr)) => {
            let metrics_listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("metrics_listen: cannot bind {addr}"))?;
            let app = router::metrics_router(state.clone());
            let stop = shutdown.clone().cancelled_owned();
            Some(tokio::spawn(async move {
                axum::serve(metrics_listener, app)
                    .with_graceful_shutdown(stop)
                    .await
            }))
        }
        None => None,
    };
    let with_metrics = config.metrics_listen.is_none();
    let web_assets = match &config.web_dir {
        Some(dir) => web::WebAssets::Dir(dir.clone()),
        None => web::WebAssets::built_in(),
    };
    on_ready(Ready {
        addr: listener.local_addr()?,
        demo_tenant_exists,
    });
    axum::serve(listener, router::router(state, with_metrics, web_assets))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("server failed")?;
    if let Some(metrics_server) = metrics_server {
        metrics_server.await.context("metrics server panicked")??;
    }
    // The listener is closed; connections saw the same cancellation and are closing.
    connections.close();
    connections.wait().await;
    // Rounds that panic are caught inside; the supervising loop itself failing is a bug to see.
    if let Err(e) = maintenance.await {
        tracing::error!(error = %e, "the maintenance task failed");
    }
    tenants.close_all().await;
    tracing::info!("pm stopped");
    Ok(())
}
