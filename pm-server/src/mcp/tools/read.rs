//! The read tools: each decodes its arguments, calls a shared query of `pm_ws::query` and renders
//! the result compactly.

use std::collections::HashMap;

use pm_core::{
    DependencyType, EntityKind, SprintId, SprintStatus, Timestamp, UserId, WorkItemStatus,
    WorkItemType,
};
use pm_ws::query;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::schemars::JsonSchema;
use rmcp::{tool, tool_router};
use serde::Deserialize;

use super::{
    CONTEXT_ACTIVITY, CONTEXT_ITEMS, CONTEXT_ITEMS_MAX, Change, Column, Comment, Context,
    DETAIL_COMMENTS, DETAIL_HISTORY, LIST_DESCRIPTION_CHARS, Link, Member, ProjectView, Sprint,
    ToolResult, bounded, caller, descriptions, doc_kind, done, item_types, nullable, parse,
    parse_opt, query_error, statuses,
};
use crate::mcp::PmTools;
use crate::mcp::render::{self, Item, ok};
use crate::rest::view::Descriptions;

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
    /// Only sections of this kind.
    #[serde(default)]
    #[schemars(schema_with = "doc_kind")]
    kind: Option<String>,
}

#[tool_router(router = read_tools, vis = "pub(crate)")]
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

    /// The guide: pm's domain rules, the REST API's endpoints and JSON vocabulary, how writes
    /// happen, and worked examples (kind: rule, api or example).
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn get_docs(
        &self,
        Parameters(p): Parameters<GetDocs>,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> ToolResult {
        done(
            async {
                caller(&parts)?;
                if let Some(k) = &p.kind
                    && !crate::guide::KINDS.contains(&k.as_str())
                {
                    return Err(render::error(
                        &pm_ws::Error::validation(
                            "kind",
                            format!("expected one of: {}", crate::guide::KINDS.join(", ")),
                        )
                        .to_wire(),
                    ));
                }
                let docs: Vec<_> = crate::guide::sections(p.kind.as_deref())
                    .into_iter()
                    .map(|s| {
                        serde_json::json!({
                            "kind": s.kind,
                            "topic": s.topic,
                            "title": s.title,
                            "body": s.body,
                        })
                    })
                    .collect();
                Ok(ok(&serde_json::json!({ "docs": docs })))
            }
            .await,
        )
    }
}
