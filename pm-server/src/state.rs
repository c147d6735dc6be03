use std::sync::Arc;

use pm_auth::Verifier;
use pm_db::TenantManager;
use pm_ws::{Admission, Realtime};
use tokio_util::task::TaskTracker;

use crate::metrics::Exporter;

/// Everything the handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub verifier: Arc<Verifier>,
    pub realtime: Arc<Realtime>,
    pub admission: Arc<Admission>,
    pub tenants: Arc<TenantManager>,
    /// Upgraded WebSocket connections, so shutdown can wait for them.
    pub connections: TaskTracker,
    /// The `/metrics` registry and the server's own metrics in it.
    pub exporter: Arc<Exporter>,
    /// When set, `/metrics` requires `Authorization: Bearer <metrics_token>`.
    pub metrics_token: Option<secrecy::SecretString>,
    /// The REST API's rate limiter and CORS settings.
    pub api: Arc<crate::rest::Api>,
    /// The MCP endpoint's switches and rate limiter.
    pub mcp: Arc<crate::mcp::Mcp>,
    /// This node's view of the cluster; `None` for a single node, which owns every tenant.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}
