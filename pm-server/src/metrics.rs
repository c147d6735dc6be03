//! `/metrics`: one `prometheus-client` registry holding the real-time core's metrics
//! (`pm_ws::Metrics`), the HTTP request counter and the gauges read at scrape time, encoded in the
//! OpenMetrics text format, which Prometheus reads.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// The labels of `pm_http_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    status: u16,
}

/// The registry `/metrics` encodes, and the metrics the server itself keeps in it.
#[derive(Debug)]
pub struct Exporter {
    registry: Registry,
    /// HTTP requests by route pattern and status.
    requests: Family<HttpLabels, Counter>,
    connections_open: Gauge,
    connection_tenants: Gauge,
    open_tenant_databases: Gauge,
    wal_checkpoints: Counter,
    reads_begun: Gauge,
}

impl Exporter {
    /// A registry with the core's metrics (`core`) and the server's own.
    pub fn new(core: &pm_ws::Metrics) -> Self {
        let mut registry = Registry::default();
        core.register(&mut registry);
        let exporter = Self {
            requests: Family::default(),
            connections_open: Gauge::default(),
            connection_tenants: Gauge::default(),
            open_tenant_databases: Gauge::default(),
            wal_checkpoints: Counter::default(),
            reads_begun: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "pm_http_requests",
            "HTTP requests, by route and status",
            exporter.requests.clone(),
        );
        registry.register(
            "pm_connections_open",
            "Open WebSocket connections",
            exporter.connections_open.clone(),
        );
        registry.register(
            "pm_connection_tenants",
            "Tenants with at least one open connection",
            exporter.connection_tenants.clone(),
        );
        registry.register(
            "pm_open_tenant_databases",
            "Tenant databases open now",
            exporter.open_tenant_databases.clone(),
        );
        registry.register(
            "pm_wal_checkpoints",
            "WAL checkpoints run (off the commit path), over all tenants",
            exporter.wal_checkpoints.clone(),
        );
        registry.register(
            "pm_database_reads_begun",
            "Reads begun on tenant databases since the server started (a 304 answered from \
             memory begins none)",
            exporter.reads_begun.clone(),
        );
        Self {
            registry,
            ..exporter
        }
    }
}

/// Middleware counting every request by its route pattern (never the raw path: ids would make
/// the label set unbounded) and response status.
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state
        .exporter
        .requests
        .get_or_create(&HttpLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

pub async fn render(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(pm_auth::bearer_from_header);
        if !same_token(given, expected.expose_secret()) {
            return (StatusCode::UNAUTHORIZED, "metrics token required\n").into_response();
        }
    }
    let body = text(&state);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Whether `given` is the metrics token, compared in constant time: digests of both (so not even
/// the length is compared directly), then `subtle`'s constant-time equality.
pub(crate) fn same_token(given: Option<&str>, expected: &str) -> bool {
    let Some(given) = given else {
        return false;
    };
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    bool::from(given[..].ct_eq(&expected[..]))
}

fn text(state: &AppState) -> String {
    let exporter: &Arc<Exporter> = &state.exporter;
    // What is counted elsewhere is read now.
    let (connections, tenants) = state.admission.open();
    let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    exporter.connections_open.set(gauge(connections));
    exporter.connection_tenants.set(gauge(tenants));
    exporter
        .open_tenant_databases
        .set(gauge(state.tenants.open_count()));
    // Counted by the storage; brought up to date (it only grows, so concurrent scrapes agree).
    exporter.wal_checkpoints.inner().fetch_max(
        state.tenants.checkpoints_performed(),
        std::sync::atomic::Ordering::Relaxed,
    );
    exporter
        .reads_begun
        .set(i64::try_from(state.tenants.reads_begun()).unwrap_or(i64::MAX));
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &exporter.registry) {
        tracing::error!(error = %e, "the metrics could not be encoded");
    }
    out
}
