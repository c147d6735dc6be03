//! Every route of the server, on one screen.

use axum::Router;
use axum::middleware;
use axum::routing::get;

use crate::state::AppState;
use crate::{metrics, ws};

/// The public routes. `/metrics` is among them unless it is served on its own address.
pub fn router(state: AppState, with_metrics: bool) -> Router {
    let mut router = Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/health", get(ws::health))
        .route("/ready", get(ws::ready));
    if with_metrics {
        router = router.route("/metrics", get(metrics::render));
    }
    router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .with_state(state)
}

/// `/metrics` alone, for a separate (private) listen address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::render))
        .with_state(state)
}
