//! The read-only REST API under `/api/v1`, for LLM agents, scripts, integrations and the web
//! client's first load: JSON views of what `/ws` serves as protobuf.
//!
//! * Authentication and visibility are those of `/ws`: the same bearer token ([`auth`]), the
//!   caller's tenant database only, and pm-ws's read rules (`pm_ws::read`): a project of the
//!   caller's tenant they are not a member of is 403, another tenant's ids are 404.
//! * Every failure goes through [`error`], the one HTTP mapping.
//! * Responses are bounded: every list pages with documented defaults and maxima, and
//!   descriptions can be shortened. The context, project and work-item responses carry an `ETag`
//!   derived from the change-log sequence number, so a poller pays almost nothing for "no change".
//! * The OpenAPI document is generated from the handlers' `#[utoipa::path]` attributes and the
//!   views' `ToSchema` derives; `router.rs` registers each route together with its operation.

pub(crate) mod activity;
pub(crate) mod auth;
pub(crate) mod change;
pub(crate) mod error;
pub(crate) mod llm;
pub(crate) mod openapi;
pub(crate) mod project;
pub(crate) mod query;
pub(crate) mod sprint;
pub(crate) mod view;
pub(crate) mod work_item;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use pm_auth::Identity;
use pm_core::ProjectId;
use pm_db::{Sqlite, SqliteConnection, TenantDb, Transaction, change_log};
use serde::Serialize;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;

use self::auth::RateLimiter;
use self::error::ApiError;
use crate::state::AppState;

/// What the REST API shares between requests.
pub struct Api {
    pub(crate) limiter: RateLimiter,
    /// Origins whose browsers may call the API; empty: CORS is off.
    pub(crate) cors_allowed_origins: Vec<HeaderValue>,
}

impl Api {
    pub fn new(config: &crate::Config) -> anyhow::Result<Self> {
        let cors_allowed_origins = config
            .cors_allowed_origins
            .iter()
            .map(|o| {
                HeaderValue::from_str(o).map_err(|_| {
                    anyhow::anyhow!("cors_allowed_origins: {o:?} is not a valid origin")
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            limiter: RateLimiter::new(config.api_requests_per_second, config.api_request_burst),
            cors_allowed_origins,
        })
    }
}

/// Turns the registered API routes into the served router: the generated document is handed to
/// its endpoint, unknown paths and methods get JSON errors, and CORS applies when configured.
pub(crate) fn serve(api: OpenApiRouter<AppState>, state: &AppState) -> Router<AppState> {
    let (router, document) = api.split_for_parts();
    let router = router
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(Extension(Arc::new(document)));
    match cors(&state.api.cors_allowed_origins) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([Method::GET])
            .allow_headers([header::AUTHORIZATION, header::IF_NONE_MATCH])
            .expose_headers([header::ETAG, header::RETRY_AFTER]),
    )
}

/// The sequence number a project's representations are consistent with: its newest change still
/// in the log or, when the log holds none of its changes, one below the oldest retained entry (no
/// change of the project happened since). It grows whenever the project, or anything in it,
/// changes, so it makes a sound `ETag`.
pub(crate) async fn project_seq(
    conn: &mut SqliteConnection,
    project: ProjectId,
) -> pm_db::Result<i64> {
    if let Some(seq) = change_log::last_of_project(conn, project).await? {
        return Ok(seq);
    }
    match change_log::oldest(conn).await? {
        Some(oldest) => Ok(oldest - 1),
        None => change_log::head(conn).await,
    }
}

/// An `ETag` for a representation consistent with `seq` of history `epoch`: a restored backup
/// reuses sequence numbers, so the epoch is part of the tag.
pub(crate) struct ETag(String);

impl ETag {
    pub fn new(epoch: &str, seq: i64) -> Self {
        Self(format!("\"{epoch}.{seq}\""))
    }

    /// Whether the request's `If-None-Match` names this tag (or `*`).
    pub fn matches(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == self.0)
    }

    /// `304 Not Modified`, carrying the tag again.
    pub fn not_modified(&self) -> Response {
        self.attach(StatusCode::NOT_MODIFIED.into_response())
    }

    /// `200` with `body` as JSON and the tag.
    pub fn json<T: Serialize>(&self, body: &T) -> Response {
        self.attach(Json(body).into_response())
    }

    fn attach(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.0) {
            headers.insert(header::ETAG, value);
        }
        // Per caller (the role is part of it) and always revalidated.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
        response
    }
}

/// A read transaction on the caller's tenant database: every query in it sees one snapshot. It
/// holds the database open while it lives (a database is only closed while nobody holds it).
pub(crate) struct Reader {
    // Dropped before `_db`: fields drop in declaration order.
    tx: Transaction<'static, Sqlite>,
    _db: Arc<TenantDb>,
}

impl Reader {
    pub async fn begin(state: &AppState, caller: &Identity) -> Result<Self, ApiError> {
        let db = state.realtime.service.tenant_db(caller).await?;
        let tx = db.begin_read().await?;
        Ok(Self { tx, _db: db })
    }

    /// The history epoch of what this transaction reads.
    pub async fn history_epoch(&mut self) -> Result<String, ApiError> {
        Ok(pm_db::history::epoch(&mut self.tx).await?)
    }
}

impl Deref for Reader {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}
