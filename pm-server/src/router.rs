//! Every route of the server, on one screen.

use axum::Router;
use axum::routing::get;

use crate::state::AppState;
use crate::ws;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/health", get(ws::health))
        .route("/ready", get(ws::ready))
        .with_state(state)
}
