//! Every route of the server, on one screen.

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware;
use axum::routing::get;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::rest::{self, activity, change, llm, openapi, project, sprint, work_item};
use crate::state::AppState;
use crate::{cluster, mcp, metrics, web, ws};

/// The public routes. `/metrics` is among them unless it is served on its own address. Every other
/// path goes to the web client.
pub fn router(state: AppState, with_metrics: bool, web_assets: web::WebAssets) -> Router {
    let mut router = Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/health", get(ws::health))
        .route("/ready", get(ws::ready))
        .merge(rest::serve(api(), &state));
    if state.mcp.enabled {
        // MCP over Streamable HTTP; the token is checked (and the rate limit taken) in front.
        router = router.merge(
            Router::new()
                .route_service("/mcp", mcp::service(&state))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    mcp::authenticate,
                )),
        );
    }
    if with_metrics {
        router = router.route("/metrics", get(metrics::render));
    }
    // In a cluster: another node's tenants are refused before any handler runs.
    router = router.route_layer(middleware::from_fn_with_state(
        state.clone(),
        cluster::guard,
    ));
    if state.cluster.as_ref().is_some_and(|c| c.secret().is_some()) {
        router = router.merge(cluster::admin::routes(&state));
    }
    router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .layer(trace_layer())
        .with_state(state)
        .fallback_service(web::router(web_assets))
}

/// A span per HTTP request named by its route pattern (never the raw path, which holds ids and
/// keys), with the response's status and latency logged at debug level and server errors at error
/// level by tower-http.
fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    fn(&Request) -> tracing::Span,
> {
    TraceLayer::new_for_http().make_span_with(request_span as fn(&Request) -> tracing::Span)
}

fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!("http", method = %request.method(), route = %route)
}

/// The read-only REST API. Each route is registered together with its OpenAPI operation (`routes!`
/// reads the handler's `#[utoipa::path]`), so nothing is served undocumented.
pub(crate) fn api() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .routes(routes!(project::list))
        .routes(routes!(project::get))
        .routes(routes!(project::context))
        .routes(routes!(work_item::list))
        .routes(routes!(work_item::get))
        .routes(routes!(sprint::list))
        .routes(routes!(sprint::get))
        .routes(routes!(activity::list))
        .routes(routes!(change::list))
        .routes(routes!(llm::context))
        .routes(routes!(openapi::document))
        .fallback(rest::error::unknown_endpoint);
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi()).nest("/api/v1", v1)
}

/// The OpenAPI document of [`api`], as JSON.
pub(crate) fn openapi_json() -> serde_json::Value {
    let (_, document) = api().split_for_parts();
    serde_json::to_value(&document).unwrap_or_default()
}

/// `/metrics` alone, for a separate (private) listen address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::render))
        .with_state(state)
}
