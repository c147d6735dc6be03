//! `/projects`, `/projects/{project}` and `/projects/{project}/context`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use pm_core::{ProjectRole, SprintStatus};
use pm_ws::query::{self, Reader};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::{Access, ApiError, Common, NotModified};
use super::query::{FromQuery, Params, QueryReader};
use super::view::{self, Descriptions};
use super::{ETag, reader};
use crate::state::AppState;

/// Characters of each description the context carries unless asked otherwise.
pub(crate) const CONTEXT_DESCRIPTION_CHARS: u32 = 200;

#[derive(Serialize, ToSchema)]
pub(crate) struct ProjectList {
    /// The projects the caller may read, by key.
    pub projects: Vec<view::Project>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Include archived projects too.
    #[param(default = false)]
    include_archived: Option<bool>,
}

impl FromQuery for ListParams {
    fn from_query(q: &mut QueryReader) -> Result<Self, ApiError> {
        Ok(Self {
            include_archived: q.flag("include_archived")?,
        })
    }
}

/// List the projects the caller may read.
///
/// Members see their projects; tenant admins see every project of the tenant.
#[utoipa::path(
    get,
    operation_id = "listProjects",
    path = "/projects",
    tag = "projects",
    params(ListParams),
    responses(
        (status = 200, description = "The visible projects, by key", body = ProjectList),
        Common
    )
)]
pub(crate) async fn list(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Params(params): Params<ListParams>,
) -> Result<Json<ProjectList>, ApiError> {
    let mut r = reader(&state, &caller).await?;
    let projects =
        query::project::list(&mut r, &caller, params.include_archived.unwrap_or(false)).await?;
    Ok(Json(ProjectList {
        projects: projects
            .iter()
            .map(|(p, role)| view::Project::new(p, Some(*role)))
            .collect(),
    }))
}

/// Opens a read transaction and loads a project the caller may read.
pub(crate) async fn open(
    state: &AppState,
    caller: &pm_auth::Identity,
    id_or_key: &str,
) -> Result<(Reader, pm_core::Project, ProjectRole), ApiError> {
    let mut r = reader(state, caller).await?;
    let (project, role) = query::project::get(&mut r, caller, id_or_key).await?;
    Ok((r, project, role))
}

/// Get one project by id or key.
#[utoipa::path(
    get,
    operation_id = "getProject",
    path = "/projects/{project}",
    tag = "projects",
    params(
        ("project" = String, Path, description = "Project id (UUID) or key, e.g. `WEB`"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier response: 304 if nothing changed")
    ),
    responses(
        (status = 200, description = "The project", body = view::Project,
            headers(("ETag" = String, description = "Changes whenever the project or anything in it changes"))),
        NotModified,
        Access,
        Common
    )
)]
pub(crate) async fn get(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Path(id_or_key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (mut r, project, role) = open(&state, &caller, &id_or_key).await?;
    let etag = ETag::new(
        &r.history_epoch().await?,
        query::project_seq(&mut r, project.id).await?,
    );
    if etag.matches(&headers) {
        return Ok(etag.not_modified());
    }
    Ok(etag.json(&view::Project::new(&project, Some(role))))
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ContextParams {
    /// Characters of each description to include (0 leaves them out; shortened ones end with
    /// `…` and carry `description_truncated`).
    #[param(default = 200, minimum = 0, maximum = 50000)]
    description_chars: Option<u32>,
    /// How many recent activity entries to include.
    #[param(default = 20, minimum = 0, maximum = 100)]
    activity: Option<u32>,
}

impl FromQuery for ContextParams {
    fn from_query(q: &mut QueryReader) -> Result<Self, ApiError> {
        let max_chars = u32::try_from(pm_core::DESCRIPTION_MAX_CHARS).unwrap_or(u32::MAX);
        Ok(Self {
            description_chars: Some(q.bounded(
                "description_chars",
                CONTEXT_DESCRIPTION_CHARS,
                0,
                max_chars,
            )?),
            activity: Some(q.bounded(
                "activity",
                query::CONTEXT_ACTIVITY,
                0,
                query::CONTEXT_ACTIVITY_MAX,
            )?),
        })
    }
}

/// A work item with its children nested below it.
#[derive(Serialize, ToSchema)]
pub(crate) struct TreeItem {
    #[serde(flatten)]
    pub item: view::WorkItem,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub children: Vec<TreeItem>,
}

/// Everything an agent needs to reason about a project, in one consistent snapshot.
#[derive(Serialize, ToSchema)]
pub(crate) struct Context {
    /// The tenant's change-log sequence number this context is consistent with: poll
    /// `/changes?since=` (or subscribe over `/ws`) from it to stay current.
    pub seq: i64,
    /// The history epoch `seq` belongs to: send it as `/changes?epoch=` (see the change feed).
    pub history_epoch: String,
    pub project: view::Project,
    pub members: Vec<view::Member>,
    pub swim_lanes: Vec<view::SwimLane>,
    /// Every live work item as a tree: top-level items in number order, each with its children
    /// (epic > story > task). `parent_id` is left out: the nesting says it.
    pub items: Vec<TreeItem>,
    /// The number of work items in `items`, at every depth.
    pub item_count: usize,
    /// Live links between items, oldest first.
    pub dependencies: Vec<view::Dependency>,
    /// Active and planned sprints, with totals.
    pub sprints: Vec<view::Sprint>,
    /// Recent activity in the project, newest first.
    pub activity: Vec<view::Activity>,
}

/// Get a project's context: its members, board, work-item tree, dependencies, active and planned
/// sprints and recent activity.
///
/// One read transaction, so everything is consistent with `seq`. Descriptions are shortened to
/// `description_chars`. Also serves a client's first load.
#[utoipa::path(
    get,
    operation_id = "getProjectContext",
    path = "/projects/{project}/context",
    tag = "projects",
    params(
        ("project" = String, Path, description = "Project id (UUID) or key, e.g. `WEB`"),
        ContextParams,
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier response: 304 if nothing changed")
    ),
    responses(
        (status = 200, description = "The project's context", body = Context,
            headers(("ETag" = String, description = "Changes whenever the project or anything in it changes"))),
        NotModified,
        Access,
        Common
    )
)]
pub(crate) async fn context(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Path(id_or_key): Path<String>,
    Params(params): Params<ContextParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (mut r, project, role) = open(&state, &caller, &id_or_key).await?;
    let etag = ETag::new(
        &r.history_epoch().await?,
        query::project_seq(&mut r, project.id).await?,
    );
    if etag.matches(&headers) {
        return Ok(etag.not_modified());
    }
    let descriptions = Descriptions::Chars(
        usize::try_from(
            params
                .description_chars
                .unwrap_or(CONTEXT_DESCRIPTION_CHARS),
        )
        .unwrap_or(usize::MAX),
    );
    let board = query::project::board(
        &mut r,
        &caller,
        &project.id.to_string(),
        params.activity.unwrap_or(query::CONTEXT_ACTIVITY),
    )
    .await?;
    let item_count = board.items.len();
    let context = Context {
        seq: board.seq,
        history_epoch: board.history_epoch,
        project: view::Project::new(&board.project, Some(role)),
        members: board.members.iter().map(Into::into).collect(),
        swim_lanes: board.swim_lanes.iter().map(Into::into).collect(),
        items: tree(
            board
                .items
                .iter()
                .map(|i| view::WorkItem::of(i, descriptions))
                .collect(),
        ),
        item_count,
        dependencies: board.links.iter().map(view::Dependency::of).collect(),
        sprints: board
            .sprints
            .iter()
            .filter(|(s, _)| matches!(s.status, SprintStatus::Active | SprintStatus::Planned))
            .map(|(s, totals)| view::Sprint::new(s, Some((*totals).into())))
            .collect(),
        activity: board.activity.iter().map(Into::into).collect(),
    };
    Ok(etag.json(&context))
}

/// Nests items under their parents, keeping number order at every level. An item whose parent is
/// not among them (which live data does not have) stays at the top.
fn tree(items: Vec<view::WorkItem>) -> Vec<TreeItem> {
    let ids: std::collections::HashSet<String> = items.iter().map(|i| i.id.clone()).collect();
    let mut by_parent: HashMap<Option<String>, Vec<view::WorkItem>> = HashMap::new();
    for item in items {
        let parent = item.parent_id.clone().filter(|p| ids.contains(p));
        by_parent.entry(parent).or_default().push(item);
    }
    let mut top = nest(None, &mut by_parent);
    // Items on a parent cycle (which live data cannot have) are not reached from the top; they
    // are kept anyway, flat, rather than dropped.
    top.extend(by_parent.into_values().flatten().map(|item| TreeItem {
        item,
        children: Vec::new(),
    }));
    top
}

fn nest(
    parent: Option<String>,
    by_parent: &mut HashMap<Option<String>, Vec<view::WorkItem>>,
) -> Vec<TreeItem> {
    // Each item is taken out of the map once, so this ends whatever the data.
    let items = by_parent.remove(&parent).unwrap_or_default();
    items
        .into_iter()
        .map(|mut item| {
            let children = nest(Some(item.id.clone()), by_parent);
            item.parent_id = None;
            TreeItem { item, children }
        })
        .collect()
}
