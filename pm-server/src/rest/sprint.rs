//! `/projects/{project}/sprints` and `/sprints/{sprint}`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use pm_core::SprintId;
use pm_db::{dependency, sprint, work_item};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::{Access, ApiError, Common};
use super::query::{FromQuery, Params, QueryReader};
use super::view::{self, Derived, Descriptions};
use super::{Reader, project};
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
    let (mut r, project, _) = project::open(&state, &caller, &id_or_key).await?;
    let sprints = sprint::list(&mut r, project.id).await?;
    let items = work_item::list(&mut r, project.id, &Default::default()).await?;
    let mut totals: HashMap<SprintId, view::SprintTotals> = HashMap::new();
    for item in &items {
        if let Some(s) = item.sprint_id {
            totals.entry(s).or_default().add(item);
        }
    }
    Ok(Json(SprintList {
        sprints: sprints
            .iter()
            .map(|s| view::Sprint::new(s, Some(totals.remove(&s.id).unwrap_or_default())))
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
    let id =
        SprintId::parse(&raw_id).map_err(|e| ApiError::bad_request("sprint", e.to_string()))?;
    let mut r = Reader::begin(&state, &caller).await?;
    let s = sprint::get(&mut r, id).await?;
    let project = pm_db::project::get(&mut r, s.project_id).await?;
    pm_ws::read::authorize_read(&mut r, &caller, &project).await?;
    let mut items = work_item::in_sprint(&mut r, s.id).await?;
    items.sort_by_key(|i| i.key.number);
    let blocked = dependency::blocked_items(&mut r, project.id).await?;
    let logged = work_item::logged_ms_by_item(&mut r, project.id).await?;
    let mut totals = view::SprintTotals::default();
    for item in &items {
        totals.add(item);
    }
    let descriptions = Descriptions::Chars(
        usize::try_from(params.description_chars.unwrap_or(ITEM_DESCRIPTION_CHARS))
            .unwrap_or(usize::MAX),
    );
    Ok(Json(SprintDetail {
        sprint: view::Sprint::new(&s, Some(totals)),
        project_key: project.key.to_string(),
        items: items
            .iter()
            .map(|i| {
                let derived = Derived {
                    blocked: blocked.contains(&i.id),
                    logged_ms: logged.get(&i.id).copied().unwrap_or(0),
                };
                view::WorkItem::new(i, derived, descriptions)
            })
            .collect(),
    }))
}
