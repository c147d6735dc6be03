//! `/projects/{project}/sprints` and `/sprints/{sprint}`.

use axum::Json;
use axum::extract::{Path, State};
use pm_ws::query;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::{Access, ApiError, Common};
use super::query::{FromQuery, Params, QueryReader};
use super::reader;
use super::view::{self, Descriptions};
use crate::state::AppState;

/// Characters of each item description a sprint carries unless asked otherwise.
const ITEM_DESCRIPTION_CHARS: u32 = 200;

#[derive(Serialize, ToSchema)]
pub(crate) struct SprintList {
    /// Every live sprint of the project (any status), oldest first, with totals.
    pub sprints: Vec<view::Sprint>,
}

/// List a project's sprints with their totals.
#[utoipa::path(
    get,
    operation_id = "listSprints",
    path = "/projects/{project}/sprints",
    tag = "sprints",
    params(("project" = String, Path, description = "Project id (UUID) or key, e.g. `WEB`")),
    responses(
        (status = 200, description = "The project's sprints", body = SprintList),
        Access,
        Common
    )
)]
pub(crate) async fn list(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Path(id_or_key): Path<String>,
    Params(()): Params<()>,
) -> Result<Json<SprintList>, ApiError> {
    let mut r = reader(&state, &caller).await?;
    let (_, sprints) = query::sprint::list_with_totals(&mut r, &caller, &id_or_key).await?;
    Ok(Json(SprintList {
        sprints: sprints
            .iter()
            .map(|(s, totals)| view::Sprint::new(s, Some((*totals).into())))
            .collect(),
    }))
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DetailParams {
    /// Characters of each item description (0 leaves them out).
    #[param(default = 200, minimum = 0, maximum = 50000)]
    description_chars: Option<u32>,
}

impl FromQuery for DetailParams {
    fn from_query(q: &mut QueryReader) -> Result<Self, ApiError> {
        let max_chars = u32::try_from(pm_core::DESCRIPTION_MAX_CHARS).unwrap_or(u32::MAX);
        Ok(Self {
            description_chars: Some(q.bounded(
                "description_chars",
                ITEM_DESCRIPTION_CHARS,
                0,
                max_chars,
            )?),
        })
    }
}

/// A sprint with its items.
#[derive(Serialize, ToSchema)]
pub(crate) struct SprintDetail {
    pub sprint: view::Sprint,
    /// The key of the sprint's project.
    pub project_key: String,
    /// The sprint's live items in number order.
    pub items: Vec<view::WorkItem>,
}

/// Get one sprint with its items and totals.
#[utoipa::path(
    get,
    operation_id = "getSprint",
    path = "/sprints/{sprint}",
    tag = "sprints",
    params(
        ("sprint" = String, Path, description = "Sprint id (UUID)"),
        DetailParams
    ),
    responses(
        (status = 200, description = "The sprint, its items and totals", body = SprintDetail),
        Access,
        Common
    )
)]
pub(crate) async fn get(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    Params(params): Params<DetailParams>,
) -> Result<Json<SprintDetail>, ApiError> {
    let mut r = reader(&state, &caller).await?;
    let detail = query::sprint::get(&mut r, &caller, &raw_id).await?;
    let descriptions = Descriptions::Chars(
        usize::try_from(params.description_chars.unwrap_or(ITEM_DESCRIPTION_CHARS))
            .unwrap_or(usize::MAX),
    );
    Ok(Json(SprintDetail {
        sprint: view::Sprint::new(&detail.sprint, Some(detail.totals.into())),
        project_key: detail.project.key.to_string(),
        items: detail
            .items
            .iter()
            .map(|i| view::WorkItem::of(i, descriptions))
            .collect(),
    }))
}
