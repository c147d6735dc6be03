//! The write tools: each builds the protobuf command a `/ws` client would send and runs it through
//! `Service::execute` with no origin connection, so every subscriber of the project sees the
//! change live.

use std::collections::HashMap;

use pm_auth::Identity;
use pm_core::{DependencyType, EntityKind, Priority, WorkItemStatus, WorkItemType};
use pm_proto::pb::{self, client_message::Command, reply};
use pm_ws::query::{self, Reader};
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::schemars::JsonSchema;
use rmcp::{tool, tool_router};
use serde::Deserialize;

use super::{
    Change, LIST_DESCRIPTION_CHARS, Sprint, ToolResult, caller, clearable, dependency_type,
    descriptions, done, item_type, parse, parse_opt, priority, query_error, status, wire,
};
use crate::mcp::PmTools;
use crate::mcp::render::{self, Item, failed, ok};
use crate::rest::view::Descriptions;

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

#[tool_router(router = write_tools, vis = "pub(crate)")]
impl PmTools {
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
