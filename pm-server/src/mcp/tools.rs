//! The tools. Read tools call the shared queries of `pm_ws::query`; write tools build the same
//! protobuf commands a `/ws` client sends and run them through `Service::execute`. Descriptions
//! are short and say which values are accepted: the whole list is sent to the model.

use std::collections::HashMap;

use pm_auth::Identity;
use pm_core::{
    ActivityEntry, DependencyType, EntityKind, Priority, ProjectRole, SprintId, SprintStatus,
    Timestamp, UserId, WorkItemStatus, WorkItemType,
};
use pm_proto::pb::{self, client_message::Command, reply};
use pm_ws::query::{self, Reader};
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use rmcp::{ErrorData, tool, tool_router};
use serde::{Deserialize, Serialize};

use super::PmTools;
use super::render::{self, Item, failed, ok};
use crate::rest::view::{self, Descriptions};

/// What the server tells the model when it connects.
pub(crate) const INSTRUCTIONS: &str = "pm: agile projects with epics > stories > tasks, sprints \
and a board. Start with list_projects, then project_context. Items are named by key (WEB-42, any \
case). Updates and moves take the version you read; on a conflict, re-read the current values \
the error gives and retry. Writes appear live on every open board. get_docs explains the data \
model and rules.";

/// The role a tool needs in at least one project (tenant admins are admins everywhere).
pub(crate) fn needs(tool: &str) -> ProjectRole {
    match tool {
        "create_work_item" | "update_work_item" | "move_work_item" | "add_comment"
        | "start_timer" | "stop_timer" | "add_dependency" | "remove_dependency" => {
            ProjectRole::Editor
        }
        "create_sprint" | "start_sprint" | "complete_sprint" => ProjectRole::Admin,
        _ => ProjectRole::Viewer,
    }
}

/// Most items a context lists unless asked otherwise, and the most it may list.
const CONTEXT_ITEMS: u32 = 150;
const CONTEXT_ITEMS_MAX: u32 = 500;
/// Recent activity entries in a context unless asked otherwise.
const CONTEXT_ACTIVITY: u32 = 10;
/// Characters of each description in lists unless asked otherwise.
const LIST_DESCRIPTION_CHARS: u32 = 200;
/// Comments and history entries in an item's detail.
const DETAIL_COMMENTS: usize = 20;
const DETAIL_HISTORY: usize = 20;

fn enum_schema(values: impl Iterator<Item = &'static str>) -> Schema {
    let values: Vec<&str> = values.collect();
    json_schema!({"type": "string", "enum": values})
}

fn enum_list_schema(values: impl Iterator<Item = &'static str>) -> Schema {
    let values: Vec<&str> = values.collect();
    json_schema!({"type": "array", "items": {"type": "string", "enum": values}})
}

fn item_type(_: &mut SchemaGenerator) -> Schema {
    enum_schema(WorkItemType::ALL.iter().map(|v| v.as_str()))
}
fn item_types(_: &mut SchemaGenerator) -> Schema {
    enum_list_schema(WorkItemType::ALL.iter().map(|v| v.as_str()))
}
fn status(_: &mut SchemaGenerator) -> Schema {
    enum_schema(WorkItemStatus::ALL.iter().map(|v| v.as_str()))
}
fn statuses(_: &mut SchemaGenerator) -> Schema {
    enum_list_schema(WorkItemStatus::ALL.iter().map(|v| v.as_str()))
}
fn priority(_: &mut SchemaGenerator) -> Schema {
    enum_schema(Priority::ALL.iter().map(|v| v.as_str()))
}
fn dependency_type(_: &mut SchemaGenerator) -> Schema {
    enum_schema(DependencyType::ALL.iter().map(|v| v.as_str()))
}
fn doc_kind(_: &mut SchemaGenerator) -> Schema {
    enum_schema(query::docs::KINDS.iter().copied())
}
fn clearable(_: &mut SchemaGenerator) -> Schema {
    enum_list_schema(["assignee", "parent", "sprint", "points"].into_iter())
}

/// A bounded number: `default` when absent, refused (naming the argument) outside `min..=max`.
fn bounded(
    value: Option<u32>,
    name: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, String> {
    match value {
        None => Ok(default),
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(n) => Err(format!(
            "invalid argument `{name}`: {n} is outside {min}..={max}."
        )),
    }
}

fn parse<T>(
    raw: &str,
    name: &str,
    parser: fn(&str) -> pm_core::RuleResult<T>,
) -> Result<T, String> {
    parser(raw.trim()).map_err(|e| format!("invalid argument `{name}`: {e}."))
}

fn parse_opt<T>(
    raw: Option<&str>,
    name: &str,
    parser: fn(&str) -> pm_core::RuleResult<T>,
) -> Result<Option<T>, String> {
    raw.map(|r| parse(r, name, parser)).transpose()
}

/// A "none" filter: the empty string selects items without the value.
fn nullable<T>(
    raw: Option<&str>,
    name: &str,
    parser: fn(&str) -> pm_core::RuleResult<T>,
) -> Result<Option<Option<T>>, String> {
    match raw.map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(v) => Ok(Some(Some(parse(v, name, parser)?))),
    }
}

fn descriptions(chars: u32) -> Descriptions {
    Descriptions::Chars(usize::try_from(chars).unwrap_or(usize::MAX))
}

/// A failure of a shared query, for the model.
fn query_error(e: pm_ws::Error) -> String {
    if let pm_ws::Error::Internal(cause) = &e {
        tracing::error!(error = %cause, "an MCP read failed");
    }
    render::error(&e.to_wire())
}

// ---- parameters ---------------------------------------------------------------------------------

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct ListProjects {
    /// Include archived projects.
    #[serde(default)]
    include_archived: bool,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct ProjectContext {
    /// Project key (e.g. WEB) or id.
    project: String,
    /// Also list done items (default: only open ones).
    #[serde(default)]
    include_done: bool,
    /// Most items to list, 0-500 (default 150).
    max_items: Option<u32>,
    /// Description characters per item, 0-2000 (default 0).
    description_chars: Option<u32>,
    /// Recent activity entries, 0-100 (default 10).
    activity: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct SearchWorkItems {
    /// Project key or id.
    project: String,
    /// Any of these types.
    #[serde(default, rename = "type")]
    #[schemars(schema_with = "item_types")]
    types: Vec<String>,
    /// Any of these statuses.
    #[serde(default, rename = "status")]
    #[schemars(schema_with = "statuses")]
    statuses: Vec<String>,
    /// Sprint id; "" for items in no sprint.
    sprint_id: Option<String>,
    /// User id; "" for unassigned items.
    assignee: Option<String>,
    /// Parent key or id; "" for top-level items.
    parent: Option<String>,
    /// Only blocked (true) or unblocked (false) items.
    blocked: Option<bool>,
    /// Text in title or description (case-insensitive).
    text: Option<String>,
    /// next_cursor of the previous page.
    cursor: Option<String>,
    /// Items per page, 1-200 (default 50).
    limit: Option<u32>,
    /// Description characters per item, 0-2000 (default 200).
    description_chars: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct GetWorkItem {
    /// Item key (WEB-42, any case) or id.
    item: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct ProjectOnly {
    /// Project key or id.
    project: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct ListActivity {
    /// Project key or id (default: every project you can read).
    project: Option<String>,
    /// Only this item (key or id).
    item: Option<String>,
    /// Only changes by this user.
    user: Option<String>,
    /// From this instant (ms since the Unix epoch).
    from: Option<i64>,
    /// Before this instant (ms since the Unix epoch).
    to: Option<i64>,
    /// next_cursor of the previous page.
    cursor: Option<String>,
    /// Entries per page, 1-500 (default 50).
    limit: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct ChangesSince {
    /// Sequence number: seq of project_context, or next_since of the previous call.
    since: u64,
    /// history_epoch that came with `since`.
    epoch: Option<String>,
    /// Changes per page, 1-500 (default 100).
    limit: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct GetDocs {
    /// Only rows of this kind.
    #[serde(default)]
    #[schemars(schema_with = "doc_kind")]
    kind: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct CreateWorkItem {
    /// Project key or id.
    project: String,
    #[serde(rename = "type")]
    #[schemars(schema_with = "item_type")]
    item_type: String,
    title: String,
    /// Markdown.
    description: Option<String>,
    /// Default backlog.
    #[serde(default)]
    #[schemars(schema_with = "status")]
    status: Option<String>,
    /// Default medium.
    #[serde(default)]
    #[schemars(schema_with = "priority")]
    priority: Option<String>,
    /// Story points, 0-100.
    points: Option<u32>,
    /// User id of a project member.
    assignee: Option<String>,
    /// Parent key: an epic for a story, a story for a task.
    parent: Option<String>,
    /// Sprint id (planned or active).
    sprint_id: Option<String>,
    /// UUID; a retry with the same id returns the first result.
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct UpdateWorkItem {
    /// Item key or id.
    item: String,
    /// The version you read.
    version: i64,
    title: Option<String>,
    description: Option<String>,
    #[serde(default, rename = "type")]
    #[schemars(schema_with = "item_type")]
    item_type: Option<String>,
    /// A new status puts the card at the bottom of that column.
    #[serde(default)]
    #[schemars(schema_with = "status")]
    status: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "priority")]
    priority: Option<String>,
    points: Option<u32>,
    assignee: Option<String>,
    /// Parent key or id.
    parent: Option<String>,
    sprint_id: Option<String>,
    /// Fields to empty.
    #[serde(default)]
    #[schemars(schema_with = "clearable")]
    clear: Vec<String>,
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct MoveWorkItem {
    /// Item key or id.
    item: String,
    /// The version you read.
    version: i64,
    /// Target column (default: the current one).
    #[serde(default)]
    #[schemars(schema_with = "status")]
    status: Option<String>,
    /// Key of the card to sit directly below.
    after: Option<String>,
    /// Key of the card to sit directly above. Neither: bottom of the column.
    before: Option<String>,
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct AddComment {
    /// Item key or id.
    item: String,
    /// Markdown.
    body: String,
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct StartTimer {
    /// Item key or id.
    item: String,
    /// What you are doing.
    note: Option<String>,
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct RequestOnly {
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct AddDependency {
    /// Key of the item that must be done first.
    blocking: String,
    /// Key of the item that waits.
    blocked: String,
    /// Default blocks.
    #[serde(default, rename = "type")]
    #[schemars(schema_with = "dependency_type")]
    dep_type: Option<String>,
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct RemoveDependency {
    /// dependency_id from get_work_item.
    dependency_id: String,
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct CreateSprint {
    /// Project key or id.
    project: String,
    name: String,
    goal: Option<String>,
    /// ms since the Unix epoch.
    starts_at: Option<i64>,
    /// ms since the Unix epoch.
    ends_at: Option<i64>,
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct SprintVersion {
    sprint_id: String,
    /// The version you read.
    version: i64,
    request_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct CompleteSprint {
    sprint_id: String,
    /// The version you read.
    version: i64,
    /// A planned sprint for the unfinished items (default: the backlog).
    move_open_items_to: Option<String>,
    request_id: Option<String>,
}

// ---- results ------------------------------------------------------------------------------------

#[derive(Serialize)]
struct ProjectView {
    key: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    status: &'static str,
    my_role: &'static str,
}

impl ProjectView {
    fn new(p: &pm_core::Project, role: ProjectRole, description_chars: u32) -> Self {
        Self {
            key: p.key.to_string(),
            title: p.title.to_string(),
            description: descriptions(description_chars)
                .apply(&p.description.to_string())
                .0,
            status: p.status.as_str(),
            my_role: role.as_str(),
        }
    }
}

/// What `project_context` returns, in reading order.
#[derive(Serialize)]
struct Context {
    /// Poll `changes_since` from here.
    seq: i64,
    history_epoch: String,
    project: ProjectView,
    members: Vec<Member>,
    columns: Vec<Column>,
    /// Active and planned sprints.
    sprints: Vec<Sprint>,
    item_count: usize,
    done_count: usize,
    items: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    items_omitted: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    blocks: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    activity: Vec<Change>,
}

#[derive(Serialize)]
struct Member {
    user: String,
    role: &'static str,
}

#[derive(Serialize)]
struct Column {
    status: &'static str,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    wip_limit: Option<u32>,
}

/// One activity row, compact.
#[derive(Serialize)]
struct Change {
    at: i64,
    by: String,
    entity: &'static str,
    /// The item's key for work items; the entity's id otherwise.
    of: String,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
}

impl Change {
    fn new(a: &ActivityEntry, keys: &HashMap<String, String>) -> Self {
        Self {
            at: a.at.as_millis(),
            by: a.actor.to_string(),
            entity: a.entity.as_str(),
            of: keys
                .get(&a.entity_id)
                .cloned()
                .unwrap_or_else(|| a.entity_id.clone()),
            action: a.action.as_str(),
            field: a.field.clone(),
            from: a.old_value.clone(),
            to: a.new_value.clone(),
        }
    }
}

#[derive(Serialize)]
struct Link {
    dependency_id: String,
    item: String,
}

impl Link {
    fn new(l: &query::project::Link, other_side_blocking: bool) -> Self {
        Self {
            dependency_id: l.link.id.to_string(),
            item: if other_side_blocking {
                l.blocking.to_string()
            } else {
                l.blocked.to_string()
            },
        }
    }
}

#[derive(Serialize)]
struct Comment {
    by: String,
    at: i64,
    body: String,
}

#[derive(Serialize)]
struct Sprint {
    id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    goal: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<i64>,
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    totals: Option<view::SprintTotals>,
}

impl Sprint {
    fn new(s: &pm_core::Sprint, totals: Option<query::SprintTotals>) -> Self {
        let goal = s.goal.to_string();
        Self {
            id: s.id.to_string(),
            name: s.name.to_string(),
            goal: (!goal.is_empty()).then_some(goal),
            status: s.status.as_str(),
            starts_at: s.starts_at.map(Timestamp::as_millis),
            ends_at: s.ends_at.map(Timestamp::as_millis),
            version: s.version,
            totals: totals.map(Into::into),
        }
    }
}

// ---- tools --------------------------------------------------------------------------------------

/// Every tool returns `Ok`: failures the model can act on are tool errors (`is_error`).
type ToolResult = Result<CallToolResult, ErrorData>;

fn done(result: Result<CallToolResult, String>) -> ToolResult {
    Ok(result.unwrap_or_else(failed))
}

impl PmTools {
    async fn reader(&self, caller: &Identity) -> Result<Reader, String> {
        self.state
            .realtime
            .service
            .reader(caller)
            .await
            .map_err(query_error)
    }
}

#[tool_router(vis = "pub(crate)")]
impl PmTools {
    /// The projects you can read, with your role in each.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn list_projects(
        &self,
        Parameters(p): Parameters<ListProjects>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let caller = caller(&parts)?;
                let mut r = self.reader(&caller).await?;
                let projects = query::project::list(&mut r, &caller, p.include_archived)
                    .await
                    .map_err(query_error)?;
                let projects: Vec<ProjectView> = projects
                    .iter()
                    .map(|(p, role)| ProjectView::new(p, *role, 200))
                    .collect();
                Ok(ok(&serde_json::json!({ "projects": projects })))
            }
            .await,
        )
    }

    /// A project for planning: members, columns, active and planned sprints with totals, open
    /// items (key, type, title, status, points, assignee, sprint, parent, blocked, version),
    /// blocking links and recent activity. Bounded by max_items; page with search_work_items.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn project_context(
        &self,
        Parameters(p): Parameters<ProjectContext>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let caller = caller(&parts)?;
                let max_items = bounded(
                    p.max_items,
                    "max_items",
                    CONTEXT_ITEMS,
                    0,
                    CONTEXT_ITEMS_MAX,
                )?;
                let chars = bounded(p.description_chars, "description_chars", 0, 0, 2000)?;
                let activity = bounded(
                    p.activity,
                    "activity",
                    CONTEXT_ACTIVITY,
                    0,
                    query::CONTEXT_ACTIVITY_MAX,
                )?;
                let mut r = self.reader(&caller).await?;
                let board = query::project::board(&mut r, &caller, &p.project, activity)
                    .await
                    .map_err(query_error)?;
                let keys = render::keys_among(&board.items);
                let selected: Vec<&query::Item> = board
                    .items
                    .iter()
                    .filter(|i| p.include_done || !i.item.status.is_done())
                    .collect();
                let shown = selected
                    .len()
                    .min(usize::try_from(max_items).unwrap_or(usize::MAX));
                let items: Vec<Item> = selected
                    .iter()
                    .take(shown)
                    .map(|i| Item::new(i, &keys, descriptions(chars)))
                    .collect();
                let done_count = board
                    .items
                    .iter()
                    .filter(|i| i.item.status.is_done())
                    .count();
                let blocks: Vec<String> = board
                    .links
                    .iter()
                    .filter(|l| l.link.dep_type == DependencyType::Blocks)
                    .map(|l| format!("{} blocks {}", l.blocking, l.blocked))
                    .collect();
                let entity_keys: HashMap<String, String> = board
                    .items
                    .iter()
                    .map(|i| (i.item.id.to_string(), i.item.key.to_string()))
                    .collect();
                let context = Context {
                    seq: board.seq,
                    history_epoch: board.history_epoch.clone(),
                    project: ProjectView::new(&board.project, board.role, 500),
                    members: board
                        .members
                        .iter()
                        .map(|m| Member {
                            user: m.user_id.to_string(),
                            role: m.role.as_str(),
                        })
                        .collect(),
                    columns: board
                        .swim_lanes
                        .iter()
                        .map(|l| Column {
                            status: l.status.as_str(),
                            name: l.name.to_string(),
                            wip_limit: l.wip_limit,
                        })
                        .collect(),
                    sprints: board
                        .sprints
                        .iter()
                        .filter(|(s, _)| {
                            matches!(s.status, SprintStatus::Active | SprintStatus::Planned)
                        })
                        .map(|(s, t)| Sprint::new(s, Some(*t)))
                        .collect(),
                    item_count: board.items.len(),
                    done_count,
                    items,
                    items_omitted: (shown < selected.len()).then(|| {
                        format!(
                            "{} more; page with search_work_items",
                            selected.len() - shown
                        )
                    }),
                    blocks,
                    activity: board
                        .activity
                        .iter()
                        .map(|a| Change::new(a, &entity_keys))
                        .collect(),
                };
                Ok(ok(&context))
            }
            .await,
        )
    }

    /// Find work items of a project: filters as in the REST list, plus text. Paged by cursor.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn search_work_items(
        &self,
        Parameters(p): Parameters<SearchWorkItems>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let caller = caller(&parts)?;
                let limit = bounded(p.limit, "limit", query::ITEM_PAGE, 1, query::ITEM_PAGE_MAX)?;
                let chars = bounded(
                    p.description_chars,
                    "description_chars",
                    LIST_DESCRIPTION_CHARS,
                    0,
                    2000,
                )?;
                let search = query::work_item::Search {
                    types: p
                        .types
                        .iter()
                        .map(|t| parse(t, "type", WorkItemType::parse))
                        .collect::<Result<_, _>>()?,
                    statuses: p
                        .statuses
                        .iter()
                        .map(|s| parse(s, "status", WorkItemStatus::parse))
                        .collect::<Result<_, _>>()?,
                    sprint: nullable(p.sprint_id.as_deref(), "sprint_id", SprintId::parse)?,
                    assignee: nullable(p.assignee.as_deref(), "assignee", UserId::parse)?,
                    parent: p.parent,
                    blocked: p.blocked,
                    text: p.text,
                    cursor: p.cursor,
                    limit: Some(limit),
                };
                let mut r = self.reader(&caller).await?;
                let page = query::work_item::search(&mut r, &caller, &p.project, &search)
                    .await
                    .map_err(query_error)?;
                let parents: Vec<_> = page.items.iter().filter_map(|i| i.item.parent_id).collect();
                let keys = query::work_item::keys(&mut r, parents)
                    .await
                    .map_err(query_error)?;
                let items: Vec<Item> = page
                    .items
                    .iter()
                    .map(|i| Item::new(i, &keys, descriptions(chars)))
                    .collect();
                let mut result = serde_json::json!({ "items": items });
                if let Some(cursor) = page.next_cursor {
                    result["next_cursor"] = serde_json::json!(cursor);
                }
                Ok(ok(&result))
            }
            .await,
        )
    }

    /// One work item by key (WEB-42, any case) or id: description, parents, children, links
    /// (with dependency_id), comments, time and recent history.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn get_work_item(
        &self,
        Parameters(p): Parameters<GetWorkItem>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(async {
            let caller = caller(&parts)?;
            let mut r = self.reader(&caller).await?;
            let (item, project, _) = query::work_item::find_readable(&mut r, &caller, &p.item)
                .await
                .map_err(query_error)?;
            let d = query::work_item::detail(&mut r, item, project)
                .await
                .map_err(query_error)?;
            let mut keys = render::keys_among(&d.children);
            keys.extend(d.ancestors.iter().map(|a| (a.id, a.key.clone())));
            keys.insert(d.item.item.id, d.item.item.key.clone());
            let own: HashMap<String, String> =
                HashMap::from([(d.item.item.id.to_string(), d.item.item.key.to_string())]);
            let mut result = serde_json::json!({
                "item": Item::new(&d.item, &keys, Descriptions::Full),
                "project": d.project.key.to_string(),
            });
            let put = |result: &mut serde_json::Value, name: &str, value: serde_json::Value| {
                if value.as_array().is_none_or(|a| !a.is_empty()) {
                    result[name] = value;
                }
            };
            put(
                &mut result,
                "ancestors",
                serde_json::json!(
                    d.ancestors
                        .iter()
                        .map(|a| format!("{} {} ({}, {})", a.key, a.title, a.item_type, a.status))
                        .collect::<Vec<_>>()
                ),
            );
            put(
                &mut result,
                "children",
                serde_json::json!(
                    d.children
                        .iter()
                        .map(|c| Item::new(c, &keys, descriptions(0)))
                        .collect::<Vec<_>>()
                ),
            );
            put(
                &mut result,
                "blocked_by",
                serde_json::json!(d.links.blocked_by.iter().map(|l| Link::new(l, true)).collect::<Vec<_>>()),
            );
            put(
                &mut result,
                "blocking",
                serde_json::json!(d.links.blocking.iter().map(|l| Link::new(l, false)).collect::<Vec<_>>()),
            );
            let id = d.item.item.id;
            put(
                &mut result,
                "related",
                serde_json::json!(
                    d.links
                        .related
                        .iter()
                        .map(|l| Link::new(l, l.link.blocked_id == id))
                        .collect::<Vec<_>>()
                ),
            );
            let skip = d.comments.len().saturating_sub(DETAIL_COMMENTS);
            put(
                &mut result,
                "comments",
                serde_json::json!(
                    d.comments
                        .iter()
                        .skip(skip)
                        .map(|c| Comment {
                            by: c.author.to_string(),
                            at: c.created_at.as_millis(),
                            body: c.body.to_string(),
                        })
                        .collect::<Vec<_>>()
                ),
            );
            if d.comment_count > DETAIL_COMMENTS {
                result["comment_count"] = serde_json::json!(d.comment_count);
            }
            put(
                &mut result,
                "time_by_user_ms",
                serde_json::json!(
                    d.time
                        .per_user
                        .iter()
                        .map(|(u, ms)| serde_json::json!({"user": u.to_string(), "ms": ms}))
                        .collect::<Vec<_>>()
                ),
            );
            put(
                &mut result,
                "running_timers",
                serde_json::json!(
                    d.time
                        .running
                        .iter()
                        .map(|t| serde_json::json!({"user": t.user_id.to_string(), "since": t.started_at.as_millis()}))
                        .collect::<Vec<_>>()
                ),
            );
            put(
                &mut result,
                "history",
                serde_json::json!(
                    d.activity
                        .iter()
                        .take(DETAIL_HISTORY)
                        .map(|a| Change::new(a, &own))
                        .collect::<Vec<_>>()
                ),
            );
            Ok(ok(&result))
        }
        .await)
    }

    /// A project's sprints (any status, oldest first) with item and point totals.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn list_sprints(
        &self,
        Parameters(p): Parameters<ProjectOnly>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let caller = caller(&parts)?;
                let mut r = self.reader(&caller).await?;
                let (_, sprints) = query::sprint::list_with_totals(&mut r, &caller, &p.project)
                    .await
                    .map_err(query_error)?;
                let sprints: Vec<Sprint> = sprints
                    .iter()
                    .map(|(s, t)| Sprint::new(s, Some(*t)))
                    .collect();
                Ok(ok(&serde_json::json!({ "sprints": sprints })))
            }
            .await,
        )
    }

    /// Who changed what, newest first, one entry per changed field. Paged by cursor.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn list_activity(
        &self,
        Parameters(p): Parameters<ListActivity>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        use pm_ws::commands::activity;
        done(
            async {
                let caller = caller(&parts)?;
                let limit = bounded(
                    p.limit,
                    "limit",
                    activity::DEFAULT_PAGE,
                    1,
                    activity::MAX_PAGE,
                )?;
                let instant = |ms: Option<i64>, name: &str| {
                    ms.map(|ms| {
                        Timestamp::parse_millis(ms).map_err(|_| {
                        format!(
                            "invalid argument `{name}`: milliseconds since the Unix epoch, from \
                             {} to {}.",
                            pm_core::TIMESTAMP_MIN_MS,
                            pm_core::TIMESTAMP_MAX_MS
                        )
                    })
                    })
                    .transpose()
                };
                let from = instant(p.from, "from")?;
                let to = instant(p.to, "to")?;
                let actor = parse_opt(p.user.as_deref(), "user", UserId::parse)?;
                let mut r = self.reader(&caller).await?;
                let project = match p.project.as_deref() {
                    Some(raw) => Some(
                        query::project::get(&mut r, &caller, raw)
                            .await
                            .map_err(query_error)?
                            .0,
                    ),
                    None => None,
                };
                let mut keys = HashMap::new();
                let entity = match p.item.as_deref() {
                    Some(raw) => {
                        let (item, _, _) = query::work_item::find_readable(&mut r, &caller, raw)
                            .await
                            .map_err(query_error)?;
                        keys.insert(item.id.to_string(), item.key.to_string());
                        Some((EntityKind::WorkItem, item.id.to_string()))
                    }
                    None => None,
                };
                let page = activity::page(
                    &mut r,
                    &caller,
                    &activity::Query {
                        project: project.map(|p| p.id),
                        entity,
                        actor,
                        from,
                        to,
                        cursor: p.cursor,
                        limit: Some(limit),
                    },
                )
                .await
                .map_err(query_error)?;
                let entries: Vec<Change> =
                    page.entries.iter().map(|a| Change::new(a, &keys)).collect();
                let mut result = serde_json::json!({ "activity": entries });
                if let Some(cursor) = page.next_cursor {
                    result["next_cursor"] = serde_json::json!(cursor);
                }
                Ok(ok(&result))
            }
            .await,
        )
    }

    /// Changes after a sequence number in the projects you can read: what live boards received.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn changes_since(
        &self,
        Parameters(p): Parameters<ChangesSince>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let caller = caller(&parts)?;
                let limit = bounded(
                    p.limit,
                    "limit",
                    query::CHANGE_PAGE,
                    1,
                    query::CHANGE_PAGE_MAX,
                )?;
                let page = self
                    .state
                    .realtime
                    .service
                    .change_page(&caller, p.since, p.epoch.as_deref(), limit)
                    .await
                    .map_err(query_error)?
                    .map_err(|gap| crate::rest::change::gone_message(p.since, &gap))?;
                let changes: Vec<_> = page
                    .events
                    .iter()
                    .map(|e| crate::rest::change::event(e, descriptions(LIST_DESCRIPTION_CHARS)))
                    .collect();
                Ok(ok(&serde_json::json!({
                    "changes": changes,
                    "next_since": page.next_since,
                    "has_more": page.has_more,
                    "history_epoch": page.history_epoch,
                })))
            }
            .await,
        )
    }

    /// pm's data model, business rules and examples (kind: schema, rule or example).
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn get_docs(
        &self,
        Parameters(p): Parameters<GetDocs>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let caller = caller(&parts)?;
                let mut r = self.reader(&caller).await?;
                let rows = query::docs::list(&mut r, p.kind.as_deref())
                    .await
                    .map_err(query_error)?;
                let docs: Vec<_> = rows
                    .iter()
                    .map(|row| {
                        serde_json::json!({
                            "kind": row.kind,
                            "topic": row.topic,
                            "title": row.title,
                            "body": row.body,
                        })
                    })
                    .collect();
                Ok(ok(&serde_json::json!({ "docs": docs })))
            }
            .await,
        )
    }

    /// Create an epic, story or task (stories under epics, tasks under stories).
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn create_work_item(
        &self,
        Parameters(p): Parameters<CreateWorkItem>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let command = Command::CreateWorkItem(pb::CreateWorkItem {
                    project_id: p.project,
                    r#type: wire(parse(&p.item_type, "type", WorkItemType::parse)?),
                    parent_id: p.parent,
                    title: p.title,
                    description: p.description.unwrap_or_default(),
                    status: parse_opt(p.status.as_deref(), "status", WorkItemStatus::parse)?
                        .map(wire),
                    priority: parse_opt(p.priority.as_deref(), "priority", Priority::parse)?
                        .map(wire),
                    story_points: p.points,
                    assignee: p.assignee,
                    sprint_id: p.sprint_id,
                });
                self.write(&parts, p.request_id, command, None).await
            }
            .await,
        )
    }

    /// Change any fields of a work item. Pass the version you read; `clear` empties fields.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn update_work_item(
        &self,
        Parameters(p): Parameters<UpdateWorkItem>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let clear = |name: &str| p.clear.iter().any(|c| c == name);
                for c in &p.clear {
                    if !["assignee", "parent", "sprint", "points"].contains(&c.as_str()) {
                        return Err(format!(
                            "invalid argument `clear`: {c:?}; expected assignee, parent, sprint or \
                         points."
                        ));
                    }
                }
                let patch = |value: Option<String>, cleared: bool| -> Option<pb::StringPatch> {
                    if cleared {
                        Some(pb::StringPatch { value: None })
                    } else {
                        value.map(|v| pb::StringPatch { value: Some(v) })
                    }
                };
                let command = Command::UpdateWorkItem(pb::UpdateWorkItem {
                    work_item_id: p.item.clone(),
                    version: p.version,
                    r#type: parse_opt(p.item_type.as_deref(), "type", WorkItemType::parse)?
                        .map(wire),
                    parent_id: patch(p.parent, clear("parent")),
                    title: p.title,
                    description: p.description,
                    status: parse_opt(p.status.as_deref(), "status", WorkItemStatus::parse)?
                        .map(wire),
                    priority: parse_opt(p.priority.as_deref(), "priority", Priority::parse)?
                        .map(wire),
                    story_points: if clear("points") {
                        Some(pb::PointsPatch { value: None })
                    } else {
                        p.points.map(|v| pb::PointsPatch { value: Some(v) })
                    },
                    assignee: patch(p.assignee, clear("assignee")),
                    sprint_id: patch(p.sprint_id, clear("sprint")),
                });
                self.write(&parts, p.request_id, command, Some(p.version))
                    .await
            }
            .await,
        )
    }

    /// Move a card: to another status column and/or between two cards. Pass the version you read.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn move_work_item(
        &self,
        Parameters(p): Parameters<MoveWorkItem>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let command = Command::MoveWorkItem(pb::MoveWorkItem {
                    work_item_id: p.item.clone(),
                    version: p.version,
                    status: parse_opt(p.status.as_deref(), "status", WorkItemStatus::parse)?
                        .map(wire),
                    after_id: p.after,
                    before_id: p.before,
                    sprint_id: None,
                });
                self.write(&parts, p.request_id, command, Some(p.version))
                    .await
            }
            .await,
        )
    }

    /// Comment on a work item (markdown).
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn add_comment(
        &self,
        Parameters(p): Parameters<AddComment>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let command = Command::AddComment(pb::AddComment {
                    work_item_id: p.item,
                    body: p.body,
                });
                self.write(&parts, p.request_id, command, None).await
            }
            .await,
        )
    }

    /// Start your timer on a work item (stops your running one).
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn start_timer(
        &self,
        Parameters(p): Parameters<StartTimer>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let command = Command::StartTimer(pb::StartTimer {
                    work_item_id: p.item,
                    description: p.note.unwrap_or_default(),
                });
                self.write(&parts, p.request_id, command, None).await
            }
            .await,
        )
    }

    /// Stop your running timer; the time is logged on its item.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn stop_timer(
        &self,
        Parameters(p): Parameters<RequestOnly>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            self.write(
                &parts,
                p.request_id,
                Command::StopTimer(pb::StopTimer {}),
                None,
            )
            .await,
        )
    }

    /// Link two items of a project: `blocking` must be done before `blocked` (or relates_to).
    /// A link that would close a cycle is refused, naming the cycle.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn add_dependency(
        &self,
        Parameters(p): Parameters<AddDependency>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                let dep_type = parse_opt(p.dep_type.as_deref(), "type", DependencyType::parse)?
                    .unwrap_or(DependencyType::Blocks);
                let command = Command::AddDependency(pb::AddDependency {
                    blocking_id: p.blocking,
                    blocked_id: p.blocked,
                    r#type: wire(dep_type),
                });
                self.write(&parts, p.request_id, command, None).await
            }
            .await,
        )
    }

    /// Remove a link (dependency_id from get_work_item).
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = true,
        open_world_hint = false
    ))]
    async fn remove_dependency(
        &self,
        Parameters(p): Parameters<RemoveDependency>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            self.write(
                &parts,
                p.request_id,
                Command::RemoveDependency(pb::RemoveDependency {
                    dependency_id: p.dependency_id,
                }),
                None,
            )
            .await,
        )
    }

    /// Plan a sprint (project admins).
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn create_sprint(
        &self,
        Parameters(p): Parameters<CreateSprint>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            self.write(
                &parts,
                p.request_id,
                Command::CreateSprint(pb::CreateSprint {
                    project_id: p.project,
                    name: p.name,
                    goal: p.goal.unwrap_or_default(),
                    starts_at: p.starts_at,
                    ends_at: p.ends_at,
                }),
                None,
            )
            .await,
        )
    }

    /// Start a planned sprint (project admins; one active sprint per project).
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn start_sprint(
        &self,
        Parameters(p): Parameters<SprintVersion>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            self.write(
                &parts,
                p.request_id,
                Command::StartSprint(pb::StartSprint {
                    sprint_id: p.sprint_id,
                    version: p.version,
                }),
                None,
            )
            .await,
        )
    }

    /// Complete the active sprint (project admins); unfinished items go to the backlog or to
    /// move_open_items_to.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = false
    ))]
    async fn complete_sprint(
        &self,
        Parameters(p): Parameters<CompleteSprint>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            self.write(
                &parts,
                p.request_id,
                Command::CompleteSprint(pb::CompleteSprint {
                    sprint_id: p.sprint_id,
                    version: p.version,
                    move_open_items_to: p.move_open_items_to,
                }),
                None,
            )
            .await,
        )
    }
}

fn wire<T: pm_proto::WireEnum>(value: T) -> i32 {
    value.to_wire()
}

fn caller(parts: &axum::http::request::Parts) -> Result<Identity, String> {
    parts
        .extensions
        .get::<Identity>()
        .cloned()
        .ok_or_else(|| "the request was not authenticated".to_owned())
}

impl PmTools {
    /// Runs `command` as `/ws` would (no origin connection: every subscriber gets the events) and
    /// renders its reply. `versioned` is the item version an update or move was sent with, so a
    /// stale version can be explained.
    async fn write(
        &self,
        parts: &axum::http::request::Parts,
        request_id: Option<String>,
        command: Command,
        versioned: Option<i64>,
    ) -> Result<CallToolResult, String> {
        let caller = caller(parts)?;
        let request_id = request_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let outcome = self
            .state
            .realtime
            .service
            .execute(&caller, &request_id, command, None)
            .await;
        match outcome.result {
            reply::Result::Error(e) => Err(self.explain(&caller, &e, versioned).await),
            result => self.rendered(&caller, result).await,
        }
    }

    /// A refused write, for the model; a stale version lists the current values and what changed
    /// since the version it sent.
    async fn explain(&self, caller: &Identity, e: &pb::Error, versioned: Option<i64>) -> String {
        let mut text = render::error(e);
        let (Some(pb::error::Current::WorkItem(current)), Some(sent)) =
            (e.current.as_ref(), versioned)
        else {
            return text;
        };
        let Ok(item) = pm_core::WorkItem::try_from(current) else {
            return text;
        };
        let derived = pm_proto::WorkItemDerived {
            blocked: current.blocked,
            logged_ms: current.logged_ms,
        };
        let changes = self.changes_since_version(caller, &item, sent).await;
        let item = query::Item { item, derived };
        let keys = match self.reader(caller).await {
            Ok(mut r) => query::work_item::keys(&mut r, item.item.parent_id)
                .await
                .unwrap_or_default(),
            Err(_) => HashMap::new(),
        };
        let current = Item::new(&item, &keys, Descriptions::Full);
        text.push_str(&format!(
            " Current values: {}.",
            serde_json::to_string(&current).unwrap_or_default()
        ));
        if !changes.is_empty() {
            text.push_str(&format!(
                " Changed since version {sent}: {}.",
                serde_json::to_string(&changes).unwrap_or_default()
            ));
        }
        text.push_str(&format!(
            " Re-apply your change to these values if it still makes sense and call again with \
             version {}.",
            current.version
        ));
        text
    }

    /// The field changes of the item after version `sent` (each update is one version; a
    /// `blocked` flip is reported without one).
    async fn changes_since_version(
        &self,
        caller: &Identity,
        item: &pm_core::WorkItem,
        sent: i64,
    ) -> Vec<Change> {
        use pm_ws::commands::activity;
        let versions = usize::try_from(item.version - sent).unwrap_or(0);
        if versions == 0 {
            return Vec::new();
        }
        let Ok(mut r) = self.reader(caller).await else {
            return Vec::new();
        };
        let Ok(page) = activity::page(
            &mut r,
            caller,
            &activity::Query {
                entity: Some((EntityKind::WorkItem, item.id.to_string())),
                limit: Some(activity::MAX_PAGE),
                ..Default::default()
            },
        )
        .await
        else {
            return Vec::new();
        };
        let keys = HashMap::from([(item.id.to_string(), item.key.to_string())]);
        let mut seqs: Vec<Option<i64>> = Vec::new();
        let mut out = Vec::new();
        for a in &page.entries {
            if a.field.as_deref() == Some("blocked") {
                continue;
            }
            if !seqs.contains(&a.seq) {
                if seqs.len() == versions {
                    break;
                }
                seqs.push(a.seq);
            }
            out.push(Change::new(a, &keys));
        }
        out
    }

    /// A successful write's reply, compact.
    async fn rendered(
        &self,
        caller: &Identity,
        result: reply::Result,
    ) -> Result<CallToolResult, String> {
        use reply::Result as R;
        let invalid = |e: pm_proto::Error| {
            tracing::error!(error = %e, "a reply could not be rendered for MCP");
            "internal error; the change was made, but its result could not be shown: re-read it"
                .to_owned()
        };
        let mut r = self.reader(caller).await?;
        let item_of = |w: &pb::WorkItem| -> Result<query::Item, String> {
            Ok(query::Item {
                item: pm_core::WorkItem::try_from(w).map_err(invalid)?,
                derived: pm_proto::WorkItemDerived {
                    blocked: w.blocked,
                    logged_ms: w.logged_ms,
                },
            })
        };
        let key_of = async |r: &mut Reader, raw: &str| -> String {
            match pm_core::WorkItemId::parse(raw) {
                Ok(id) => query::work_item::keys(r, [id])
                    .await
                    .ok()
                    .and_then(|k| k.get(&id).map(ToString::to_string))
                    .unwrap_or_else(|| raw.to_owned()),
                Err(_) => raw.to_owned(),
            }
        };
        Ok(match result {
            R::WorkItem(w) => {
                let item = item_of(w.work_item.as_ref().ok_or("empty reply")?)?;
                let keys = query::work_item::keys(&mut r, item.item.parent_id)
                    .await
                    .map_err(query_error)?;
                ok(&serde_json::json!({
                    "item": Item::new(&item, &keys, descriptions(LIST_DESCRIPTION_CHARS))
                }))
            }
            R::Comment(c) => {
                let c = c.comment.ok_or("empty reply")?;
                let item = key_of(&mut r, &c.work_item_id).await;
                ok(&serde_json::json!({
                    "comment": {"id": c.id, "item": item, "by": c.author, "at": c.created_at}
                }))
            }
            R::Timer(t) => {
                let entry = t.entry.ok_or("empty reply")?;
                let mut result = serde_json::json!({
                    "timer": {
                        "item": key_of(&mut r, &entry.work_item_id).await,
                        "started_at": entry.started_at,
                    }
                });
                if let Some(ended) = entry.ended_at {
                    result["timer"]["ended_at"] = serde_json::json!(ended);
                    result["timer"]["logged_ms"] = serde_json::json!(entry.duration_ms);
                }
                if let Some(stopped) = t.stopped {
                    result["stopped"] = serde_json::json!({
                        "item": key_of(&mut r, &stopped.work_item_id).await,
                        "logged_ms": stopped.duration_ms,
                    });
                }
                ok(&result)
            }
            R::Dependency(d) => {
                let d = d.dependency.ok_or("empty reply")?;
                let dep_type = pm_proto::WireEnum::from_wire(d.r#type, "type")
                    .map_or("blocks", DependencyType::as_str);
                ok(&serde_json::json!({
                    "dependency": {
                        "dependency_id": d.id,
                        "type": dep_type,
                        "blocking": d.blocking_key,
                        "blocked": d.blocked_key,
                    }
                }))
            }
            R::Deleted(d) => ok(&serde_json::json!({ "removed": d.id })),
            R::Sprint(s) => {
                let s = pm_core::Sprint::try_from(s.sprint.as_ref().ok_or("empty reply")?)
                    .map_err(invalid)?;
                ok(&serde_json::json!({ "sprint": Sprint::new(&s, None) }))
            }
            R::SprintCompleted(c) => {
                let s = pm_core::Sprint::try_from(c.sprint.as_ref().ok_or("empty reply")?)
                    .map_err(invalid)?;
                let moved: Vec<&str> = c.moved.iter().map(|w| w.key.as_str()).collect();
                ok(&serde_json::json!({ "sprint": Sprint::new(&s, None), "moved": moved }))
            }
            other => {
                tracing::error!(reply = ?other, "an MCP write got an unexpected reply");
                failed("internal error; re-read what you changed")
            }
        })
    }
}
