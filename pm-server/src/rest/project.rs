//! `/projects`, `/projects/{project}` and `/projects/{project}/context`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use pm_core::{ProjectRole, WorkItemStatus};
use pm_ws::query::{self, Reader};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::conditional::{BodyKey, Resource};
use super::error::{Access, ApiError, Common, NotModified};
use super::query::{FromQuery, Params, QueryReader};
use super::view::{self, Descriptions};
use super::{ETag, reader, validating_reader};
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

/// [`open`] in a transaction whose validator [`super::conditional`] can keep.
async fn open_validated(
    state: &AppState,
    caller: &pm_auth::Identity,
    id_or_key: &str,
) -> Result<(Reader, pm_core::Project, ProjectRole), ApiError> {
    let mut r = validating_reader(state, caller).await?;
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
    let resource = Resource::project(&id_or_key);
    let validators = &state.api.validators;
    if let Some(not_modified) = validators
        .not_modified(&state, &caller, &resource, &headers)
        .await
    {
        return Ok(not_modified);
    }
    let (mut r, project, role) = open_validated(&state, &caller, &id_or_key).await?;
    let validator = r.validator(project.id).await?;
    let etag = ETag::of(&validator);
    validators.remember(&caller, resource, validator, role);
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
    /// How many open (not done) items to include, first by number; `items_next_cursor` continues
    /// them.
    #[param(default = 200, minimum = 0, maximum = 500)]
    items: Option<u32>,
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
            items: Some(q.bounded(
                "items",
                query::project::OVERVIEW_ITEMS,
                0,
                query::project::OVERVIEW_ITEMS_MAX,
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

/// Live work items of the project in each status.
#[derive(Serialize, ToSchema)]
pub(crate) struct StatusCounts {
    pub backlog: i64,
    pub todo: i64,
    pub in_progress: i64,
    pub review: i64,
    pub done: i64,
}

impl StatusCounts {
    fn new(counts: &[(WorkItemStatus, i64)]) -> Self {
        let of = |status: WorkItemStatus| {
            counts
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n)
        };
        Self {
            backlog: of(WorkItemStatus::Backlog),
            todo: of(WorkItemStatus::Todo),
            in_progress: of(WorkItemStatus::InProgress),
            review: of(WorkItemStatus::Review),
            done: of(WorkItemStatus::Done),
        }
    }
}

/// What an agent needs to reason about a project, in one consistent snapshot and bounded in size
/// whatever the project's: the open work, the recently finished items, the active and planned
/// sprints and recent activity, with counts for the rest.
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
    /// The open work: live items that are not done, the first `items` (default 200) by number, as
    /// a tree: each with its open children nested (epic > story > task) and `parent_id` left out
    /// where the nesting says it. An item whose parent is not listed stays at the top and keeps
    /// its `parent_id`.
    pub items: Vec<TreeItem>,
    /// The number of work items in `items`, at every depth.
    pub item_count: usize,
    /// When open items were left out of `items`: pass it as `cursor` to
    /// `/projects/{project}/work-items?status=backlog,todo,in_progress,review` for the rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub items_next_cursor: Option<String>,
    /// The 20 done items changed most recently, newest first (every item, done ones included,
    /// pages from `/projects/{project}/work-items`).
    pub recently_done: Vec<view::WorkItem>,
    /// Live work items of the whole project per status, listed or not.
    pub status_counts: StatusCounts,
    /// Live work items of the whole project.
    pub total_items: i64,
    /// Live links with at least one side among the items listed, oldest first.
    pub dependencies: Vec<view::Dependency>,
    /// Active and planned sprints, with totals over all their items.
    pub sprints: Vec<view::Sprint>,
    /// Recent activity in the project, newest first.
    pub activity: Vec<view::Activity>,
}

/// Get a project's context: its members, board, open work as a tree, recently finished items,
/// counts per status, dependencies, active and planned sprints and recent activity.
///
/// One read transaction, so everything is consistent with `seq`. Bounded whatever the project's
/// size: at most `items` open items (continue with `items_next_cursor`), the 20 done items changed
/// last, descriptions shortened to `description_chars`. Every item, done or not, pages from
/// `/projects/{project}/work-items`. Also serves a client's first load.
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
    let resource = Resource::project(&id_or_key);
    let validators = &state.api.validators;
    if let Some(not_modified) = validators
        .not_modified(&state, &caller, &resource, &headers)
        .await
    {
        return Ok(not_modified);
    }
    let description_chars = params
        .description_chars
        .unwrap_or(CONTEXT_DESCRIPTION_CHARS);
    let items = params.items.unwrap_or(query::project::OVERVIEW_ITEMS);
    let activity = params.activity.unwrap_or(query::CONTEXT_ACTIVITY);
    let shape = (description_chars, items, activity);
    if let Some((etag, body)) = validators
        .context_body(&state, &caller, &resource, shape)
        .await
    {
        return Ok(etag.json_bytes(body));
    }
    let (mut r, project, role) = open_validated(&state, &caller, &id_or_key).await?;
    let validator = r.validator(project.id).await?;
    let etag = ETag::of(&validator);
    validators.remember(&caller, resource, validator.clone(), role);
    if etag.matches(&headers) {
        return Ok(etag.not_modified());
    }
    let descriptions =
        Descriptions::Chars(usize::try_from(description_chars).unwrap_or(usize::MAX));
    let o =
        query::project::overview(&mut r, &caller, &project.id.to_string(), items, activity).await?;
    let context = Context {
        seq: o.seq,
        history_epoch: o.history_epoch,
        project: view::Project::new(&o.project, Some(role)),
        members: o.members.iter().map(Into::into).collect(),
        swim_lanes: o.swim_lanes.iter().map(Into::into).collect(),
        items: tree(
            o.open_items
                .iter()
                .map(|i| view::WorkItem::of(i, descriptions))
                .collect(),
        ),
        item_count: o.open_items.len(),
        items_next_cursor: o.open_next_cursor,
        recently_done: o
            .recently_done
            .iter()
            .map(|i| view::WorkItem::of(i, descriptions))
            .collect(),
        total_items: o.status_counts.iter().map(|(_, n)| n).sum(),
        status_counts: StatusCounts::new(&o.status_counts),
        dependencies: o.links.iter().map(view::Dependency::of).collect(),
        sprints: o
            .sprints
            .iter()
            .map(|(s, totals)| view::Sprint::new(s, Some((*totals).into())))
            .collect(),
        activity: o.activity.iter().map(Into::into).collect(),
    };
    let body = Bytes::from(serde_json::to_vec(&context).map_err(|e| {
        tracing::error!(error = %e, "a context could not be serialised");
        ApiError::Internal
    })?);
    validators.keep_body(
        BodyKey {
            tenant: caller.tenant.clone(),
            project: project.id,
            role,
            params: shape,
        },
        validator,
        body.clone(),
    );
    Ok(etag.json_bytes(body))
}

/// Nests items under their parents, keeping number order at every level. An item whose parent is
/// not among them (a done parent, or one past the page) stays at the top with its `parent_id`.
fn tree(items: Vec<view::WorkItem>) -> Vec<TreeItem> {
    let ids: std::collections::HashSet<String> = items.iter().map(|i| i.id.clone()).collect();
    let mut by_parent: HashMap<Option<String>, Vec<view::WorkItem>> = HashMap::new();
    for item in items {
        let parent = item.parent_id.clone().filter(|p| ids.contains(p));
        by_parent.entry(parent).or_default().push(item);
    }
    let mut top = nest(None, &mut by_parent, false);
    // Items on a parent cycle (which live data cannot have) are not reached from the top; they
    // are kept anyway, flat, rather than dropped.
    top.extend(by_parent.into_values().flatten().map(|item| TreeItem {
        item,
        children: Vec::new(),
    }));
    top
}

/// The items under `parent`, with theirs nested; `nested` says whether `parent` is an item (whose
/// children then leave their `parent_id` out: the nesting says it).
fn nest(
    parent: Option<String>,
    by_parent: &mut HashMap<Option<String>, Vec<view::WorkItem>>,
    nested: bool,
) -> Vec<TreeItem> {
    // Each item is taken out of the map once, so this ends whatever the data.
    let items = by_parent.remove(&parent).unwrap_or_default();
    items
        .into_iter()
        .map(|mut item| {
            let children = nest(Some(item.id.clone()), by_parent, true);
            if nested {
                item.parent_id = None;
            }
            TreeItem { item, children }
        })
        .collect()
}
