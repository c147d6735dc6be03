//! `/metrics` in the Prometheus text format, and the HTTP request counter behind it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pm_ws::Metrics;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// HTTP requests by (route pattern, status).
#[derive(Debug, Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
}

impl HttpMetrics {
    fn record(&self, route: String, status: u16) {
        *self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((route, status))
            .or_default() += 1;
    }

    fn snapshot(&self) -> BTreeMap<(String, u16), u64> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
    state.http_metrics.record(route, response.status().as_u16());
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
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Whether `given` is the metrics token, compared in constant time: digests of both (so not even
/// the length is compared directly), then `subtle`'s constant-time equality.
fn same_token(given: Option<&str>, expected: &str) -> bool {
    let Some(given) = given else {
        return false;
    };
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    bool::from(given[..].ct_eq(&expected[..]))
}

fn text(state: &AppState) -> String {
    let m: &Metrics = state.realtime.service.metrics();
    let (connections, tenants) = state.admission.open();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "pm_connections_open",
        "gauge",
        "Open WebSocket connections.",
        connections.to_string(),
    );
    metric(
        "pm_connection_tenants",
        "gauge",
        "Tenants with at least one open connection.",
        tenants.to_string(),
    );
    metric(
        "pm_connections_total",
        "counter",
        "WebSocket connections accepted.",
        Metrics::get(&m.connections_total).to_string(),
    );
    metric(
        "pm_connections_refused_total",
        "counter",
        "WebSocket connections refused for capacity.",
        Metrics::get(&m.connections_refused).to_string(),
    );
    metric(
        "pm_frames_in_total",
        "counter",
        "WebSocket frames received.",
        Metrics::get(&m.frames_in).to_string(),
    );
    metric(
        "pm_frames_out_total",
        "counter",
        "WebSocket frames sent.",
        Metrics::get(&m.frames_out).to_string(),
    );
    metric(
        "pm_bytes_in_total",
        "counter",
        "WebSocket payload bytes received.",
        Metrics::get(&m.bytes_in).to_string(),
    );
    metric(
        "pm_bytes_out_total",
        "counter",
        "WebSocket payload bytes sent.",
        Metrics::get(&m.bytes_out).to_string(),
    );
    metric(
        "pm_events_delivered_total",
        "counter",
        "Events queued for subscribers.",
        Metrics::get(&m.events_delivered).to_string(),
    );
    metric(
        "pm_queue_overflows_total",
        "counter",
        "Outbound queues found full (connection told to resync).",
        Metrics::get(&m.queue_overflows).to_string(),
    );
    metric(
        "pm_resyncs_total",
        "counter",
        "ResyncRequired messages sent.",
        Metrics::get(&m.resyncs_sent).to_string(),
    );
    metric(
        "pm_rate_limited_total",
        "counter",
        "Commands refused by the rate limit.",
        Metrics::get(&m.rate_limited).to_string(),
    );
    metric(
        "pm_open_tenant_databases",
        "gauge",
        "Tenant databases open now.",
        state.tenants.open_count().to_string(),
    );

    let _ = writeln!(
        out,
        "# HELP pm_commands_total Commands executed, by command and outcome."
    );
    let _ = writeln!(out, "# TYPE pm_commands_total counter");
    for ((command, outcome), n) in m.commands() {
        let _ = writeln!(
            out,
            "pm_commands_total{{command=\"{command}\",outcome=\"{outcome}\"}} {n}"
        );
    }
    let (buckets, sum, count) = m.latency();
    let _ = writeln!(
        out,
        "# HELP pm_command_duration_seconds Time to execute a command."
    );
    let _ = writeln!(out, "# TYPE pm_command_duration_seconds histogram");
    for (bound, n) in buckets {
        let _ = writeln!(
            out,
            "pm_command_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "pm_command_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(out, "pm_command_duration_seconds_sum {sum}");
    let _ = writeln!(out, "pm_command_duration_seconds_count {count}");

    let _ = writeln!(
        out,
        "# HELP pm_http_requests_total HTTP requests, by route and status."
    );
    let _ = writeln!(out, "# TYPE pm_http_requests_total counter");
    for ((route, status), n) in state.http_metrics.snapshot() {
        let _ = writeln!(
            out,
            "pm_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
        );
    }
    out
}
