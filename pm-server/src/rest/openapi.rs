//! The OpenAPI 3.1 document of the REST API, generated from the code: the handlers'
//! `#[utoipa::path]` attributes and the views' `ToSchema` derives, collected by the routes that
//! `router.rs` registers. Nothing here is written by hand but the preamble.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pm REST API",
        description = "Read-only JSON access to pm for LLM agents, scripts and integrations. \
            Authenticate with the same JWT as the WebSocket (`Authorization: Bearer <token>`). \
            Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`. Timestamps are \
            milliseconds since the Unix epoch (UTC). Absent values are left out, never null. \
            See docs/api.md for a walkthrough."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ErrorBody)),
    tags(
        (name = "projects", description = "Projects and the one-call project context"),
        (name = "work-items", description = "Work items: filtered lists and full details"),
        (name = "sprints", description = "Sprints with their items and totals"),
        (name = "activity", description = "Who changed what, newest first"),
        (name = "changes", description = "The change feed, for integrations that poll"),
        (name = "docs", description = "Documentation for agents and this document")
    )
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The token the WebSocket accepts: claims sub, tenant_id, role, exp.",
                    ))
                    .build(),
            ),
        );
    }
}

/// This document.
///
/// Served without authentication, so an agent can learn the API before it has a token.
#[utoipa::path(
    get,
    operation_id = "getOpenApiDocument",
    path = "/openapi.json",
    tag = "docs",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json")
    )
)]
pub(crate) async fn document(
    Extension(document): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Response {
    Json(document.as_ref()).into_response()
}
