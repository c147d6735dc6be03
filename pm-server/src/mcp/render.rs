//! Compact JSON for models: items named by key (`WEB-42`), absent values and empty lists left
//! out, no internal ids unless a later call needs one (sprint and dependency ids, because those
//! have no keys), and errors that say how to correct the call.

use std::collections::HashMap;

use pm_core::{ItemKey, WorkItemId};
use pm_proto::pb;
use pm_ws::query::Item as QueryItem;
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

use crate::rest::view::{Descriptions, is_false};

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A tool's successful result: `value` as compact JSON text.
pub(crate) fn ok(value: &impl Serialize) -> CallToolResult {
    match serde_json::to_string(value) {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Err(e) => {
            tracing::error!(error = %e, "an MCP result could not be serialized");
            failed("internal error; retry later")
        }
    }
}

/// A tool error the model sees and can act on.
pub(crate) fn failed(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

/// A work item, compact.
#[derive(Serialize)]
pub(crate) struct Item {
    pub key: String,
    #[serde(rename = "type")]
    pub item_type: &'static str,
    pub title: String,
    pub status: &'static str,
    pub priority: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sprint_id: Option<String>,
    /// The parent's key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub blocked: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub logged_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub description_truncated: bool,
    /// Pass it back to update or move the item.
    pub version: i64,
}

impl Item {
    pub fn new(
        i: &QueryItem,
        keys: &HashMap<WorkItemId, ItemKey>,
        descriptions: Descriptions,
    ) -> Self {
        let w = &i.item;
        let (description, description_truncated) = match descriptions {
            // Left out on purpose: not worth a flag on every item.
            Descriptions::Chars(0) => (None, false),
            other => other.apply(&w.description.to_string()),
        };
        Self {
            key: w.key.to_string(),
            item_type: w.item_type.as_str(),
            title: w.title.to_string(),
            status: w.status.as_str(),
            priority: w.priority.as_str(),
            points: w.story_points.map(|p| p.get()),
            assignee: w.assignee.as_ref().map(ToString::to_string),
            sprint_id: w.sprint_id.map(|s| s.to_string()),
            parent: w.parent_id.map(|p| {
                keys.get(&p)
                    .map_or_else(|| p.to_string(), ToString::to_string)
            }),
            blocked: i.derived.blocked,
            logged_ms: i.derived.logged_ms,
            description,
            description_truncated,
            version: w.version,
        }
    }
}

/// The parent keys `items` need, from items already at hand.
pub(crate) fn keys_among(items: &[QueryItem]) -> HashMap<WorkItemId, ItemKey> {
    items
        .iter()
        .map(|i| (i.item.id, i.item.key.clone()))
        .collect()
}

/// Why a tool call was refused, in words a model can act on. `field` names are translated to the
/// tool's parameter names.
pub(crate) fn error(e: &pb::Error) -> String {
    let code = pb::ErrorCode::try_from(e.code).unwrap_or(pb::ErrorCode::Unspecified);
    let field = parameter(&e.field);
    let mut text = match code {
        pb::ErrorCode::Validation if !field.is_empty() => {
            format!("invalid argument `{field}`: {}.", e.message)
        }
        pb::ErrorCode::Validation => format!("invalid request: {}.", e.message),
        pb::ErrorCode::NotFound => format!(
            "not found: {}. Check the key or id (search_work_items, list_projects and \
             list_sprints show them).",
            e.message
        ),
        pb::ErrorCode::PermissionDenied => format!("permission denied: {}.", e.message),
        pb::ErrorCode::Conflict => format!("conflict: {}.", e.message),
        pb::ErrorCode::RateLimited => {
            format!("rate limited: retry in {} ms.", e.retry_after_ms.max(1))
        }
        pb::ErrorCode::Unavailable => "the server is busy; retry shortly.".to_owned(),
        _ => "internal error; retry later.".to_owned(),
    };
    if !e.cycle.is_empty() {
        let path = e.cycle.join(" → ");
        if !e.message.contains(&path) {
            text.push_str(&format!(" The link would close this cycle: {path}."));
        }
        text.push_str(" Remove a link on that path first, or link other items.");
    }
    text
}

/// The tool parameter a command field corresponds to.
fn parameter(field: &str) -> &str {
    match field {
        "work_item_id" | "work_item" => "item",
        "project_id" => "project",
        "parent_id" => "parent",
        "story_points" => "points",
        "blocking_id" => "blocking",
        "blocked_id" => "blocked",
        "after_id" => "after",
        "before_id" => "before",
        other => other,
    }
}
