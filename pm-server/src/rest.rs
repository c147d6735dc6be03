//! The read-only REST API under `/api/v1`, for LLM agents, scripts, integrations and the web
//! client's first load: JSON views of what `/ws` serves as protobuf.
//!
//! * Authentication and visibility are those of `/ws`: the same bearer token ([`auth`]), the
//!   caller's tenant database only, and the shared read path (`pm_ws::query`): filters, page
//!   limits and derived fields are the ones `/ws` and `/mcp` use; a project of the caller's tenant
//!   they are not a member of is 403, another tenant's ids are 404. Handlers here only decode
//!   parameters and render JSON views.
//! * Every failure goes through [`error`], the one HTTP mapping.
//! * Responses are bounded: every list pages with documented defaults and maxima, and
//!   descriptions can be shortened. The context, project and work-item responses carry an `ETag`
//!   derived from the change-log sequence number, so a poller pays almost nothing for "no change".
//! * The OpenAPI document is generated from the handlers' `#[utoipa::path]` attributes and the
//!   views' `ToSchema` derives; `router.rs` registers each route together with its operation.

pub(crate) mod activity;
pub(crate) mod auth;
pub(crate) mod change;
pub(crate) mod conditional;
pub(crate) mod error;
pub(crate) mod llm;
pub(crate) mod openapi;
pub(crate) mod project;
pub(crate) mod query;
pub(crate) mod sprint;
pub(crate) mod view;
pub(crate) mod work_item;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use pm_auth::Identity;
use pm_ws::query::{Reader, Validator};
use serde::Serialize;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::OpenApiRouter;

use self::auth::{RateLimiter, TokenCache};
use self::conditional::Validators;
use self::error::ApiError;
use crate::state::AppState;

/// What the REST API shares between requests.
pub struct Api {
    pub(crate) limiter: RateLimiter,
    pub(crate) tokens: TokenCache,
    pub(crate) validators: Validators,
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
            tokens: TokenCache::default(),
            validators: Validators::default(),
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

/// An `ETag` for a representation consistent with `seq` of history `epoch`: a restored backup
/// reuses sequence numbers, so the epoch is part of the tag.
pub(crate) struct ETag(String);

impl ETag {
    pub fn new(epoch: &str, seq: i64) -> Self {
        Self(format!("\"{epoch}.{seq}\""))
    }

    pub fn of(validator: &Validator) -> Self {
        Self::new(&validator.epoch, validator.seq)
    }

    /// Whether the request's `If-None-Match` names this tag (or `*`).
    pub fn matches(&self, headers: &HeaderMap) -> bool {
        if_none_match(headers).any(|t| t == "*" || t == self.0)
    }

    /// Whether the request's `If-None-Match` names this very tag.
    pub fn names(&self, headers: &HeaderMap) -> bool {
        if_none_match(headers).any(|t| t == self.0)
    }

    /// `304 Not Modified`, carrying the tag again.
    pub fn not_modified(&self) -> Response {
        self.attach(StatusCode::NOT_MODIFIED.into_response())
    }

    /// `200` with `body` as JSON and the tag.
    pub fn json<T: Serialize>(&self, body: &T) -> Response {
        self.attach(Json(body).into_response())
    }

    /// `200` with JSON already serialised and the tag.
    pub fn json_bytes(&self, body: Bytes) -> Response {
        self.attach(
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
        )
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

fn if_none_match(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
}

/// A read transaction on the caller's tenant database, for the shared queries of
/// [`pm_ws::query`].
pub(crate) async fn reader(state: &AppState, caller: &Identity) -> Result<Reader, ApiError> {
    Ok(state.realtime.service.reader(caller).await?)
}

/// A read transaction whose [`Validator`]s [`conditional::Validators`] can check later.
pub(crate) async fn validating_reader(
    state: &AppState,
    caller: &Identity,
) -> Result<Reader, ApiError> {
    Ok(state.realtime.service.validating_reader(caller).await?)
}
