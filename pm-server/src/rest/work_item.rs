//! `/projects/{project}/work-items` (filtered, paged by item number) and `/work-items/{item}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use pm_core::{SprintId, UserId, WorkItemStatus, WorkItemType};
use pm_ws::query::{self, ITEM_PAGE as PAGE, ITEM_PAGE_MAX as PAGE_MAX};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::conditional::Resource;
use super::error::{Access, ApiError, Common, NotModified};
use super::query::{FromQuery, Params, QueryReader, parse_each};
use super::view::{self, Descriptions};
use super::{ETag, reader, validating_reader};
use crate::state::AppState;

/// Characters of each description a list carries unless asked otherwise.
const LIST_DESCRIPTION_CHARS: u32 = 200;

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only these types (comma-separated or repeated).
    #[param(rename = "type", style = Form, explode = false, required = false)]
    #[param(schema_with = view::item_types_schema)]
    item_type: Vec<WorkItemType>,
    /// Only these statuses (comma-separated or repeated), e.g. `todo,in_progress`.
    #[param(style = Form, explode = false, required = false)]
    #[param(schema_with = view::item_statuses_schema)]
    status: Vec<WorkItemStatus>,
    /// Only items in this sprint (id); empty (`sprint=`) for items in no sprint.
    sprint: Option<String>,
    /// Only items assigned to this user; empty (`assignee=`) for unassigned items.
    assignee: Option<String>,
    /// Only children of this item (id or key, e.g. `WEB-1`); empty (`parent=`) for top-level
    /// items.
    parent: Option<String>,
    /// Only blocked (`true`) or only unblocked (`false`) items.
    blocked: Option<bool>,
    /// Case-insensitive text that the title or the description contains.
    text: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Items per page.
    #[param(default = 50, minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Characters of each description (0 leaves them out).
    #[param(default = 200, minimum = 0, maximum = 50000)]
    description_chars: Option<u32>,
}

impl FromQuery for ListParams {
    fn from_query(q: &mut QueryReader) -> Result<Self, ApiError> {
        let max_chars = u32::try_from(pm_core::DESCRIPTION_MAX_CHARS).unwrap_or(u32::MAX);
        Ok(Self {
            item_type: parse_each(&q.list("type"), "type", WorkItemType::parse)?,
            status: parse_each(&q.list("status"), "status", WorkItemStatus::parse)?,
            sprint: q.text("sprint")?,
            assignee: q.text("assignee")?,
            parent: q.text("parent")?,
            blocked: q.flag("blocked")?,
            text: q.text("text")?,
            cursor: q.text("cursor")?,
            limit: Some(q.limit("limit", PAGE, PAGE_MAX)?),
            description_chars: Some(q.bounded(
                "description_chars",
                LIST_DESCRIPTION_CHARS,
                0,
                max_chars,
            )?),
        })
    }
}

/// One page of work items.
#[derive(Serialize, ToSchema)]
pub(crate) struct WorkItemPage {
    /// In item-number order.
    pub items: Vec<view::WorkItem>,
    /// Pass as `cursor` for the next page; left out on the last page. Items created meanwhile get
    /// higher numbers, so paging to the end returns every item exactly once.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_cursor: Option<String>,
}

/// `Some(None)` for the empty value (the "none" filter), `Some(Some(v))` for a value.
fn nullable<T>(
    raw: Option<&str>,
    name: &str,
    parse: impl FnOnce(&str) -> pm_core::RuleResult<T>,
) -> Result<Option<Option<T>>, ApiError> {
    match raw.map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(v) => parse(v)
            .map(|v| Some(Some(v)))
            .map_err(|e| ApiError::bad_request(name, e.to_string())),
    }
}

/// List a project's work items, filtered and paged.
///
/// Paging follows item numbers: pass `next_cursor` back as `cursor` until it is left out. Every
/// item that exists for the whole walk is returned exactly once, even while items are created.
#[utoipa::path(
    get,
    operation_id = "listWorkItems",
    path = "/projects/{project}/work-items",
    tag = "work-items",
    params(
        ("project" = String, Path, description = "Project id (UUID) or key, e.g. `WEB`"),
        ListParams
    ),
    responses(
        (status = 200, description = "One page of matching items", body = WorkItemPage),
        Access,
        Common
    )
)]
pub(crate) async fn list(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Path(id_or_key): Path<String>,
    Params(params): Params<ListParams>,
) -> Result<Json<WorkItemPage>, ApiError> {
    let mut r = reader(&state, &caller).await?;
    let search = query::work_item::Search {
        types: params.item_type,
        statuses: params.status,
        sprint: nullable(params.sprint.as_deref(), "sprint", SprintId::parse)?,
        assignee: nullable(params.assignee.as_deref(), "assignee", UserId::parse)?,
        parent: params.parent,
        blocked: params.blocked,
        text: params.text,
        cursor: params.cursor,
        limit: params.limit,
    };
    let page = query::work_item::search(&mut r, &caller, &id_or_key, &search).await?;
    let descriptions = Descriptions::Chars(
        usize::try_from(params.description_chars.unwrap_or(LIST_DESCRIPTION_CHARS))
            .unwrap_or(usize::MAX),
    );
    Ok(Json(WorkItemPage {
        items: page
            .items
            .iter()
            .map(|i| view::WorkItem::of(i, descriptions))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DetailParams {
    /// Characters of the description to include; the whole description when left out.
    #[param(minimum = 0, maximum = 50000)]
    description_chars: Option<u32>,
}

impl FromQuery for DetailParams {
    fn from_query(q: &mut QueryReader) -> Result<Self, ApiError> {
        let max_chars = u32::try_from(pm_core::DESCRIPTION_MAX_CHARS).unwrap_or(u32::MAX);
        Ok(Self {
            description_chars: q.optional_bounded("description_chars", 0, max_chars)?,
        })
    }
}

/// A work item's links, from its point of view.
#[derive(Serialize, ToSchema)]
pub(crate) struct Links {
    /// `blocks` links whose blocked side is this item.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<view::Dependency>,
    /// `blocks` links whose blocking side is this item.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocking: Vec<view::Dependency>,
    /// `relates_to` links in either direction.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<view::Dependency>,
}

/// Finished time per user.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserTime {
    pub user_id: String,
    pub logged_ms: i64,
}

/// A timer running on the item.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunningTimer {
    pub user_id: String,
    pub started_at: i64,
}

/// Time tracked on the item.
#[derive(Serialize, ToSchema)]
pub(crate) struct TimeSummary {
    /// Milliseconds of finished time entries.
    pub logged_ms: i64,
    /// Finished time per user, most first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_user: Vec<UserTime>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub running: Vec<RunningTimer>,
}

/// A work item with everything around it.
#[derive(Serialize, ToSchema)]
pub(crate) struct WorkItemDetail {
    pub work_item: view::WorkItem,
    /// Parent first, then its parent, up to the top.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<view::ItemRef>,
    /// Live children in number order, descriptions shortened to 200 characters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<view::WorkItem>,
    pub dependencies: Links,
    /// The newest 100 live comments, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<view::Comment>,
    /// All live comments, including any not listed.
    pub comment_count: usize,
    pub time: TimeSummary,
    /// The item's newest 50 activity entries, newest first (see `/activity` for more).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub activity: Vec<view::Activity>,
}

/// Get one work item by id or key (`WEB-42`), with its description, ancestors, children,
/// dependencies, comments, time and activity.
#[utoipa::path(
    get,
    operation_id = "getWorkItem",
    path = "/work-items/{item}",
    tag = "work-items",
    params(
        ("item" = String, Path, description = "Work item id (UUID) or key, e.g. `WEB-42`"),
        DetailParams,
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier response: 304 if nothing changed")
    ),
    responses(
        (status = 200, description = "The work item and what surrounds it", body = WorkItemDetail,
            headers(("ETag" = String, description = "Changes whenever anything in the item's project changes"))),
        NotModified,
        Access,
        Common
    )
)]
pub(crate) async fn get(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Path(id_or_key): Path<String>,
    Params(params): Params<DetailParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resource = Resource::work_item(&id_or_key);
    let validators = &state.api.validators;
    if let Some(not_modified) = validators
        .not_modified(&state, &caller, &resource, &headers)
        .await
    {
        return Ok(not_modified);
    }
    let mut r = validating_reader(&state, &caller).await?;
    let (item, project, role) =
        query::work_item::find_readable(&mut r, &caller, &id_or_key).await?;
    let validator = r.validator(project.id).await?;
    let etag = ETag::of(&validator);
    validators.remember(&caller, resource, validator, role);
    if etag.matches(&headers) {
        return Ok(etag.not_modified());
    }
    let d = query::work_item::detail(&mut r, item, project).await?;
    let descriptions = match params.description_chars {
        None => Descriptions::Full,
        Some(n) => Descriptions::Chars(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let child_descriptions =
        Descriptions::Chars(usize::try_from(LIST_DESCRIPTION_CHARS).unwrap_or(usize::MAX));
    let links = |links: &[query::project::Link]| links.iter().map(view::Dependency::of).collect();
    let detail = WorkItemDetail {
        work_item: view::WorkItem::of(&d.item, descriptions),
        ancestors: d.ancestors.iter().map(Into::into).collect(),
        children: d
            .children
            .iter()
            .map(|c| view::WorkItem::of(c, child_descriptions))
            .collect(),
        dependencies: Links {
            blocked_by: links(&d.links.blocked_by),
            blocking: links(&d.links.blocking),
            related: links(&d.links.related),
        },
        comments: d.comments.iter().map(Into::into).collect(),
        comment_count: d.comment_count,
        time: TimeSummary {
            logged_ms: d.time.logged_ms,
            per_user: d
                .time
                .per_user
                .iter()
                .map(|(user, ms)| UserTime {
                    user_id: user.to_string(),
                    logged_ms: *ms,
                })
                .collect(),
            running: d
                .time
                .running
                .iter()
                .map(|e| RunningTimer {
                    user_id: e.user_id.to_string(),
                    started_at: e.started_at.as_millis(),
                })
                .collect(),
        },
        activity: d.activity.iter().map(Into::into).collect(),
    };
    Ok(etag.json(&detail))
}
