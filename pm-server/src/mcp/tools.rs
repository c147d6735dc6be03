//! The tools. Read tools call the shared queries of `pm_ws::query`; write tools build the same
//! protobuf commands a `/ws` client sends and run them through `Service::execute`. Descriptions
//! are short and say which values are accepted: the whole list is sent to the model.

mod read;
mod write;

use std::collections::HashMap;

use pm_auth::Identity;
use pm_core::{
    ActivityEntry, DependencyType, Priority, ProjectRole, Timestamp, WorkItemStatus, WorkItemType,
};
use pm_ws::query::{self, Reader};
use rmcp::ErrorData;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::CallToolResult;
use rmcp::schemars::{Schema, SchemaGenerator, json_schema};
use serde::Serialize;

use super::PmTools;
use super::render::{self, Item, failed};
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
    enum_schema(crate::guide::KINDS.iter().copied())
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

/// Every tool, read and write; `needs` decides who sees which.
pub(crate) fn router() -> ToolRouter<PmTools> {
    PmTools::read_tools() + PmTools::write_tools()
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

// ---- helpers of every tool ---------------------------------------------------------------------

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
