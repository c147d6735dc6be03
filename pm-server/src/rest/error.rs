//! The one mapping from every failure of the REST API to HTTP: a status and
//! `{"error": {"code", "message", "field"}}`. Codes are stable and match the protocol's `ErrorCode`
//! names; messages are for people. Internal causes are logged here, once, and never sent.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every error response of the API.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "validation", "message": "expected a number", "field": "limit"}}))]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable, machine-readable: `validation` (400), `unauthenticated` (401),
    /// `permission_denied` (403), `not_found` (404), `method_not_allowed` (405),
    /// `resync_required` (410), `rate_limited` (429), `internal` (500), `unavailable` (503).
    #[schema(schema_with = code_schema)]
    pub code: &'static str,
    /// For people; not stable.
    pub message: String,
    /// The query or path parameter at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
}

const CODES: &[&str] = &[
    "validation",
    "unauthenticated",
    "permission_denied",
    "not_found",
    "method_not_allowed",
    "resync_required",
    "rate_limited",
    "internal",
    "unavailable",
];

fn code_schema() -> utoipa::openapi::Object {
    super::view::string_enum(CODES.iter().copied())
}

/// Why a request failed.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// A parameter is malformed or breaks a rule.
    BadRequest {
        field: Option<String>,
        message: String,
    },
    /// No token, or one that does not verify.
    Unauthenticated(&'static str),
    /// The caller may not read this (not a member of the project).
    Forbidden(String),
    /// No such id or key in the caller's tenant, or no such endpoint.
    NotFound {
        message: String,
        field: Option<String>,
    },
    MethodNotAllowed,
    /// The change log no longer holds what was asked for: reload, then poll from the new `seq`.
    Gone(String),
    RateLimited {
        retry_after: Duration,
    },
    Unavailable,
    Internal,
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Option<String>) {
        match self {
            Self::BadRequest { field, message } => (
                StatusCode::BAD_REQUEST,
                "validation",
                naming(field.as_deref(), message),
                field.clone(),
            ),
            Self::Unauthenticated(message) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                (*message).to_owned(),
                None,
            ),
            Self::Forbidden(message) => (
                StatusCode::FORBIDDEN,
                "permission_denied",
                message.clone(),
                None,
            ),
            Self::NotFound { message, field } => (
                StatusCode::NOT_FOUND,
                "not_found",
                message.clone(),
                field.clone(),
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "the API is read-only: only GET is served".to_owned(),
                None,
            ),
            Self::Gone(message) => (StatusCode::GONE, "resync_required", message.clone(), None),
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; retry after the Retry-After header's seconds".to_owned(),
                None,
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server is busy; retry shortly".to_owned(),
                None,
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error".to_owned(),
                None,
            ),
        }
    }
}

/// The message of a refused parameter, naming the parameter that `field` names: a message that
/// starts with another name (a domain parser's own, e.g. `sprint_id` for the parameter `sprint`)
/// is renamed, and one that names none is prefixed with it.
fn naming(field: Option<&str>, message: &str) -> String {
    let Some(field) = field else {
        return message.to_owned();
    };
    if message.starts_with(field)
        && message[field.len()..].starts_with(|c: char| !c.is_alphanumeric() && c != '_')
    {
        return message.to_owned();
    }
    // "sprint_id is invalid: …" → "sprint is invalid: …".
    let own_name = message
        .split_once(' ')
        .map(|(first, _)| first)
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    match (own_name, message.split_once(" is invalid: ")) {
        (Some(_), Some((_, reason))) => format!("{field} is invalid: {reason}"),
        _ => format!("{field}: {message}"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, field) = self.parts();
        let unauthenticated = status == StatusCode::UNAUTHORIZED;
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                field,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if unauthenticated {
            // RFC 6750: a 401 names the scheme the client must use.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="pm""#),
            );
        }
        if let Self::RateLimited { retry_after } = self {
            // Whole seconds, rounded up: a client that waits this long finds a token.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

impl From<pm_ws::Error> for ApiError {
    fn from(e: pm_ws::Error) -> Self {
        use pm_ws::Error as E;
        match e {
            E::Validation { field, message, .. } => Self::BadRequest {
                field: field.map(str::to_owned),
                message,
            },
            E::NotFound { entity } => Self::NotFound {
                message: format!("{entity} not found"),
                field: None,
            },
            E::PermissionDenied(message) => Self::Forbidden(message.to_owned()),
            E::RateLimited { retry_after_ms } => Self::RateLimited {
                retry_after: Duration::from_millis(u64::from(retry_after_ms)),
            },
            E::InvalidMessage => Self::BadRequest {
                field: None,
                message: "the request is not valid".to_owned(),
            },
            E::Unavailable(cause) => {
                tracing::warn!(error = %cause, "REST request found storage unavailable");
                Self::Unavailable
            }
            // Only writes queue for a tenant's writer; mapped like any unavailability.
            E::Overloaded { .. } => Self::Unavailable,
            // Reads never conflict; one that does is a bug, reported like any internal failure.
            E::Conflict { message, .. } => {
                tracing::error!(error = %message, "REST read met a conflict");
                Self::Internal
            }
            E::Internal(cause) => {
                tracing::error!(error = %cause, "REST request failed");
                Self::Internal
            }
        }
    }
}

/// Requests under `/api/v1` that name no endpoint.
pub(crate) async fn unknown_endpoint() -> ApiError {
    ApiError::NotFound {
        message: "no such endpoint; see /api/v1/openapi.json".to_owned(),
        field: Some("path".to_owned()),
    }
}

/// Any method but GET on an endpoint.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

// ---- the error responses, as the OpenAPI document lists them ----------------------------------
// These types only document responses (`responses(..)` of `#[utoipa::path]`); `ApiError` is what
// handlers return.

/// Errors every authenticated endpoint may answer.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "documents responses; never constructed")]
pub(crate) enum Common {
    /// A parameter is malformed, out of range or unknown; `field` names it.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No bearer token, or one that does not verify.
    #[response(status = 401, headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"pm\"`")))]
    Unauthenticated(ErrorBody),
    /// Too many requests from this user; wait `Retry-After` seconds.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait")))]
    RateLimited(ErrorBody),
    /// An internal failure (logged on the server).
    #[response(status = 500)]
    Internal(ErrorBody),
    /// Storage is busy or unavailable; retry shortly.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Errors of endpoints that name a project or something in one.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "documents responses; never constructed")]
pub(crate) enum Access {
    /// The caller is not a member of the project.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such id or key in the caller's tenant (another tenant's ids are never found).
    #[response(status = 404)]
    NotFound(ErrorBody),
}

/// The representation has not changed since the `ETag` given in `If-None-Match`.
#[derive(utoipa::IntoResponses)]
#[response(status = 304, headers(("ETag" = String, description = "The unchanged tag")))]
pub(crate) struct NotModified;

/// `since` is older than the retained change log (or ahead of it): reload what you mirror, then
/// poll from the `seq` of a fresh project context.
#[derive(utoipa::IntoResponses)]
#[response(status = 410)]
#[expect(dead_code, reason = "documents responses; never constructed")]
pub(crate) struct Gone(ErrorBody);
