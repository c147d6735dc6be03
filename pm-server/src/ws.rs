//! The WebSocket upgrade (authenticate, admit, then hand over to pm-ws) and the probes.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// WebSocket read and write buffers per connection: small, so an idle connection costs little.
const WS_BUFFER_BYTES: usize = 4 * 1024;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

pub async fn upgrade(
    State(state): State<AppState>,
    ticket: Option<Extension<crate::cluster::Ticket>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(pm_auth::bearer_from_header);
    let protocols = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let from_protocol = pm_auth::token_from_subprotocols(protocols);
    let Some(token) = from_header.or(from_protocol) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a bearer token is required",
        );
    };
    let identity = match state.verifier.verify(token) {
        Ok(identity) => identity,
        Err(e) => {
            // Never log the token; the error's text does not contain it.
            tracing::debug!(error = %e, "refused a token");
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the token is not valid",
            );
        }
    };
    let permit = match state.admission.try_admit(&identity.tenant) {
        Ok(permit) => permit,
        Err(refusal) => {
            state.realtime.service.metrics().connections_refused.inc();
            let message = match refusal {
                pm_ws::Refusal::ServerFull => "the server has no room for more connections",
                pm_ws::Refusal::TenantFull => "this tenant has too many open connections",
            };
            return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
        }
    };
    let limits = &state.realtime.limits;
    let mut ws = ws
        .max_message_size(limits.max_frame_bytes)
        .max_frame_size(limits.max_frame_bytes)
        .read_buffer_size(WS_BUFFER_BYTES)
        .write_buffer_size(WS_BUFFER_BYTES);
    if pm_auth::offers_protocol(protocols) {
        ws = ws.protocols([pm_auth::PROTOCOL_NAME]);
    }
    // In a cluster the connection ends (going away) when its tenant moves to another node, and
    // holds the tenant's ticket until then so the move waits for it.
    let realtime = match &ticket {
        Some(Extension(ticket)) => Arc::new(pm_ws::Realtime {
            service: Arc::clone(&state.realtime.service),
            limits: state.realtime.limits.clone(),
            shutdown: ticket.stop.clone(),
        }),
        None => state.realtime.clone(),
    };
    let tracker = state.connections.clone();
    ws.on_upgrade(move |socket| {
        tracker.track_future(async move {
            pm_ws::connection::serve(socket, identity, realtime, permit).await;
            drop(ticket);
        })
    })
}

pub async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub async fn ready(State(state): State<AppState>) -> Response {
    match state.tenants.probe().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness probe failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "storage is not available",
            )
        }
    }
}
