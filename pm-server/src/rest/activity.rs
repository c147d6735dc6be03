//! `/activity`: who changed what, newest first, across the projects the caller may read.

use axum::Json;
use axum::extract::State;
use pm_core::{EntityKind, Timestamp, UserId};
use pm_ws::commands::activity;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::{Access, ApiError, Common};
use super::query::{FromQuery, Params, QueryReader};
use super::view;
use super::{project, reader};
use crate::state::AppState;

use activity::{DEFAULT_PAGE as PAGE, MAX_PAGE as PAGE_MAX};

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only this project (id or key).
    project: Option<String>,
    /// Only this kind of entity; requires `entity_id`.
    #[param(schema_with = view::entity_kind_schema, required = false)]
    entity: Option<String>,
    /// Only this entity (its id; for members `PROJECT_ID/USER_ID`); requires `entity`.
    entity_id: Option<String>,
    /// Only changes made by this user.
    user: Option<String>,
    /// Only changes at or after this instant (milliseconds since the Unix epoch, up to the end of
    /// year 9999).
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    from: Option<i64>,
    /// Only changes before this instant (milliseconds since the Unix epoch, up to the end of year
    /// 9999).
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    to: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Entries per page.
    #[param(default = 50, minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

impl FromQuery for ListParams {
    fn from_query(q: &mut QueryReader) -> Result<Self, ApiError> {
        let ms = "milliseconds since the Unix epoch";
        Ok(Self {
            project: q.text("project")?,
            entity: q.text("entity")?,
            entity_id: q.text("entity_id")?,
            user: q.text("user")?,
            from: q.parse("from", ms)?,
            to: q.parse("to", ms)?,
            cursor: q.text("cursor")?,
            limit: Some(q.limit("limit", PAGE, PAGE_MAX)?),
        })
    }
}

/// One page of activity.
#[derive(Serialize, ToSchema)]
pub(crate) struct ActivityPage {
    /// Newest first.
    pub activity: Vec<view::Activity>,
    /// Pass as `cursor` for the next (older) page; left out on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_cursor: Option<String>,
}

/// List activity, newest first, filtered and paged.
///
/// Without `project`, covers every project the caller may read.
#[utoipa::path(
    get,
    operation_id = "listActivity",
    path = "/activity",
    tag = "activity",
    params(ListParams),
    responses(
        (status = 200, description = "One page of activity", body = ActivityPage),
        Access,
        Common
    )
)]
pub(crate) async fn list(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Params(params): Params<ListParams>,
) -> Result<Json<ActivityPage>, ApiError> {
    let entity = match (params.entity.as_deref(), params.entity_id) {
        (None, None) => None,
        (Some(kind), Some(id)) => Some((
            EntityKind::parse(kind).map_err(|e| ApiError::bad_request("entity", e.to_string()))?,
            id,
        )),
        (Some(_), None) => return Err(ApiError::bad_request("entity_id", "required with entity")),
        (None, Some(_)) => return Err(ApiError::bad_request("entity", "required with entity_id")),
    };
    let actor = params
        .user
        .as_deref()
        .map(|u| UserId::parse(u).map_err(|e| ApiError::bad_request("user", e.to_string())))
        .transpose()?;
    let (mut r, project_id) = match params.project.as_deref() {
        Some(p) => {
            let (r, project, _) = project::open(&state, &caller, p).await?;
            (r, Some(project.id))
        }
        None => (reader(&state, &caller).await?, None),
    };
    // The same query as the `list_activity` command: one set of rules for every surface.
    let page = activity::page(
        &mut r,
        &caller,
        &activity::Query {
            project: project_id,
            entity,
            actor,
            from: instant(params.from, "from")?,
            to: instant(params.to, "to")?,
            cursor: params.cursor,
            limit: params.limit,
        },
    )
    .await?;
    Ok(Json(ActivityPage {
        activity: page.entries.iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A `from`/`to` query parameter, within the range of instants pm accepts from clients.
fn instant(ms: Option<i64>, field: &'static str) -> Result<Option<Timestamp>, ApiError> {
    ms.map(|ms| {
        Timestamp::parse_millis(ms).map_err(|_| {
            ApiError::bad_request(
                field,
                format!(
                    "must be milliseconds since the epoch, from {} to {} (got {ms})",
                    pm_core::TIMESTAMP_MIN_MS,
                    pm_core::TIMESTAMP_MAX_MS
                ),
            )
        })
    })
    .transpose()
}
