//! The guide for agents, served by `GET /api/v1/llm/context` and the MCP tool `get_docs`: pm's
//! domain rules, the REST API's endpoints and JSON vocabulary, how writes happen, and worked
//! examples as API calls.
//!
//! The endpoints, their parameters and ETags, the JSON vocabulary and the MCP write tools are
//! generated from the OpenAPI document and the MCP tool router, so they are the real routes and
//! types. The hand-written sections (rules, writes, examples) are checked by the REST tests: every
//! name they quote in backticks is a field, parameter or value of the API, and every example
//! call is run against a demo server.

use std::fmt::Write as _;
use std::sync::LazyLock;

use serde_json::Value;

/// The kinds of section, in the order they are served.
pub(crate) const KINDS: &[&str] = &["rule", "api", "example"];

/// One section of the guide.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub kind: &'static str,
    pub topic: &'static str,
    pub title: &'static str,
    /// Markdown.
    pub body: String,
}

/// Every section, or those of one kind, in order.
pub(crate) fn sections(kind: Option<&str>) -> Vec<Section> {
    static ALL: LazyLock<Vec<Section>> = LazyLock::new(build);
    ALL.iter()
        .filter(|s| kind.is_none_or(|k| s.kind == k))
        .cloned()
        .collect()
}

const RULES: &[(&str, &str, &str)] = &[
    (
        "identifiers",
        "Ids, keys, times and absent values",
        "Projects are named by `id` (a UUID) or `key` (2-10 letters or digits starting with a \
         letter, e.g. `SHOP`); work items by `id` or `key` (`SHOP-42`, the project key and the \
         item's number, never reused). Keys are accepted in any letter case; responses carry the \
         canonical ones. Sprints, comments, time entries and dependencies are named by `id`. \
         Users are plain user ids (the token's `sub`). Instants (`created_at`, `updated_at`, \
         `started_at`, `starts_at`, …) are milliseconds since the Unix epoch (UTC); durations \
         are milliseconds (`duration_ms`, `logged_ms`). A value that is absent is left out of \
         the JSON, never null; so are empty lists and `false` flags such as `blocked`.",
    ),
    (
        "hierarchy",
        "Work item hierarchy",
        "A work item's `type` is epic, story or task. An epic has no parent; a story's parent \
         (`parent_id`) may be an epic; a task's parent may be a story. Stories and tasks may also \
         stand alone. A parent is in the same project. An item with live children cannot be \
         deleted.",
    ),
    (
        "fields",
        "Work item fields",
        "`status` is backlog, todo, in_progress, review or done: the board has one column per \
         status, ordered by `position` (compare as byte strings). `priority` is critical, high, \
         medium or low. `points` are story points from 0 to 100. `assignee` is a user id; \
         `sprint_id` the sprint the item is planned in. `version` increases with every change.",
    ),
    (
        "access",
        "Who may do what",
        "A user reads a project when they are a member of it (`role` viewer, editor or admin) or \
         an admin of the tenant. Viewers read; editors also create, update and move items, \
         comment and track time; project admins also delete, manage members and start, complete \
         or cancel sprints. A tenant viewer is read-only everywhere. A project of the caller's \
         tenant that they may not read answers 403; another tenant's ids answer 404.",
    ),
    (
        "versions",
        "Optimistic concurrency",
        "Every change of an existing item, project or sprint names the `version` it was based \
         on. When the stored version differs, the change is refused as a conflict carrying the \
         current version, and nothing is written: read again, decide again, retry with the new \
         version.",
    ),
    (
        "sprints",
        "Sprint lifecycle",
        "A sprint's `status` goes planned → active → completed, or planned or active → \
         cancelled. A project has at most one active sprint. Completing a sprint moves its \
         unfinished items to the backlog or to a named next sprint. Completed and cancelled \
         sprints no longer change. `totals` sum the sprint's items and points by status.",
    ),
    (
        "blocked",
        "Dependencies and blocked items",
        "A dependency links two items of one project. `type` blocks means the `blocking_id` item \
         must be done before the `blocked_id` one; these links never form a cycle. `type` \
         relates_to is an undirected association. An item is `blocked` while an item that blocks \
         it is not done.",
    ),
    (
        "time",
        "Time tracking",
        "A time entry records work on an item by a user, from `started_at` to `ended_at`. A user \
         has at most one running timer; starting another stops the running one in the same \
         change. An entry lasts at most 24 hours and does not end in the future.",
    ),
    (
        "changes",
        "Sequence numbers and the change feed",
        "Every committed change gets the tenant's next sequence number `seq`. A project context \
         carries the `seq` it is consistent with and the `history_epoch`; \
         `GET /api/v1/changes?since=<seq>&epoch=<history_epoch>` returns what changed after it. \
         A 410 answer means the gap cannot be filled (too old, ahead of the server, or another \
         history epoch after a restore): read the context again.",
    ),
];

const READING: &str = "Authenticate every request with `Authorization: Bearer <token>` (a JWT \
naming the user, the tenant and the tenant role); only `/api/v1/openapi.json` needs none. Errors \
are `{\"error\": {\"code\", \"message\", \"field\"}}`, where `field` names the parameter at \
fault. Lists return `next_cursor`: pass it back as `cursor` until it is left out. Unknown query \
parameters are refused with 400, so a misspelt filter never returns everything. Endpoints marked \
ETag answer `If-None-Match` with 304 and no body while nothing changed. The full contract is the \
OpenAPI document, `GET /api/v1/openapi.json`.";

const WRITES: &str = "The REST API is read-only: any method but GET answers 405. Writes happen \
in two places, both running the same commands with the same rules, activity, sequence numbers \
and live events:\n\n\
- **MCP** at `/mcp` (Streamable HTTP, the same bearer token): an agent calls the write tools \
below with `tools/call`. Each takes items by key (`SHOP-42`), an optional `request_id` (a retry \
with the same id is applied once), and, for changes of an existing item, the `version` it read; \
a stale version is answered with the current values.\n\
- **WebSocket** at `/ws`: protobuf commands (`docs/protocol.md`), for interactive clients.\n\n\
After a write, read the result through the API: the context's `seq` and the change feed include \
it.\n\nMCP write tools (offered to editors and admins when the server enables them):\n";

const EXAMPLES: &[(&str, &str, &str)] = &[
    (
        "board",
        "The board of a project",
        "GET /api/v1/projects/SHOP/context?description_chars=0\n\n\
         `items` is the open work as a tree (each item with its `children`), `recently_done` the \
         20 items finished last and `status_counts` how many items each column holds; group by \
         `status` for the columns of `swim_lanes` and order each column by `position`. A big \
         project's open items continue from `items_next_cursor` on \
         `/projects/SHOP/work-items?status=backlog,todo,in_progress,review`; every item pages from \
         `/projects/SHOP/work-items`. `sprints` holds the active and planned sprints with their \
         `totals`.",
    ),
    (
        "blocked",
        "What is blocked right now",
        "GET /api/v1/projects/SHOP/work-items?blocked=true&description_chars=0\n\n\
         Each item answered has `blocked`; `GET /api/v1/work-items/<key>` lists, under \
         `dependencies`, the `blocked_by` links with the blocking items' keys.",
    ),
    (
        "in-progress",
        "Work in progress, unassigned first",
        "GET /api/v1/projects/SHOP/work-items?status=in_progress,review&assignee=\n\n\
         An empty `assignee=` selects unassigned items; `status` takes several values.",
    ),
    (
        "item",
        "One item with everything around it",
        "GET /api/v1/work-items/shop-1\n\n\
         The answer has the whole `description`, `ancestors`, `children`, `dependencies`, `comments`, \
         `time` (logged per user) and `activity`; its `ETag` answers `If-None-Match` with 304 \
         until the item's project changes.",
    ),
    (
        "sprints",
        "Sprints and their progress",
        "GET /api/v1/projects/SHOP/sprints\n\n\
         Each sprint has `status` and `totals` (items and points, done and remaining); \
         `GET /api/v1/sprints/<id>` adds its items.",
    ),
    (
        "activity",
        "Who changed what",
        "GET /api/v1/activity?project=SHOP&user=alice&limit=20\n\n\
         Newest first, one entry per changed `field` with `old_value` and `new_value`, the \
         `actor` and the instant `at`. `entity` with `entity_id` narrows it to one item.",
    ),
    (
        "changes",
        "Staying current",
        "GET /api/v1/changes?since=0&limit=10\n\n\
         Pass `next_since` back as `since` (and `history_epoch` as `epoch`) while `has_more`; \
         or re-read a context with `If-None-Match` and its `ETag`.",
    ),
    (
        "write",
        "Moving an item, over MCP",
        "POST /mcp with `{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"tools/call\", \
         \"params\": {\"name\": \"move_work_item\", \"arguments\": {\"item\": \"SHOP-12\", \
         \"status\": \"review\", \"version\": 3}}}`: the answer names the item's new `version`; \
         a stale `version` is answered with what changed since.",
    ),
];

fn build() -> Vec<Section> {
    let mut out: Vec<Section> = RULES
        .iter()
        .map(|&(topic, title, body)| Section {
            kind: "rule",
            topic,
            title,
            body: body.to_owned(),
        })
        .collect();
    let document = crate::router::openapi_json();
    out.push(Section {
        kind: "api",
        topic: "reading",
        title: "Reading: authentication, errors, paging, ETags",
        body: READING.to_owned(),
    });
    out.push(Section {
        kind: "api",
        topic: "endpoints",
        title: "Endpoints and their parameters",
        body: endpoints(&document),
    });
    out.push(Section {
        kind: "api",
        topic: "vocabulary",
        title: "JSON vocabulary: every object and its fields",
        body: vocabulary(&document),
    });
    let mut writes = WRITES.to_owned();
    for (name, description) in crate::mcp::write_tool_summaries() {
        let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = writeln!(writes, "- `{name}`: {description}");
    }
    out.push(Section {
        kind: "api",
        topic: "writes",
        title: "How writes happen",
        body: writes,
    });
    out.extend(EXAMPLES.iter().map(|&(topic, title, body)| Section {
        kind: "example",
        topic,
        title,
        body: body.to_owned(),
    }));
    out
}

/// Each endpoint with its summary, parameters (with their types, defaults and limits) and
/// whether it answers `If-None-Match`.
fn endpoints(document: &Value) -> String {
    let mut out = String::new();
    let Some(paths) = document["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        let op = &item["get"];
        let summary = op["summary"]
            .as_str()
            .unwrap_or_default()
            .replace('\n', " ");
        let etag = op["responses"].get("304").is_some();
        let _ = writeln!(
            out,
            "### GET {path}{}\n{summary}",
            if etag { " (ETag)" } else { "" }
        );
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["in"] == "header" {
                continue;
            }
            let name = p["name"].as_str().unwrap_or_default();
            let mut facts = vec![type_of(&p["schema"])];
            if p["required"] == true {
                facts.push("required".to_owned());
            }
            let schema = &p["schema"];
            if let Some(default) = schema.get("default") {
                facts.push(format!("default {default}"));
            }
            if let Some(max) = schema.get("maximum") {
                facts.push(format!("at most {max}"));
            }
            let description = p["description"].as_str().unwrap_or_default();
            let _ = writeln!(
                out,
                "- `{name}` ({}){}{}",
                facts.join(", "),
                if description.is_empty() { "" } else { ": " },
                description.replace('\n', " ")
            );
        }
        out.push('\n');
    }
    out
}

/// Every object of the API with its fields, types and meanings.
fn vocabulary(document: &Value) -> String {
    let mut out = String::new();
    let Some(schemas) = document["components"]["schemas"].as_object() else {
        return out;
    };
    for (name, schema) in schemas {
        let description = schema["description"].as_str().unwrap_or_default();
        let _ = writeln!(out, "### {name}\n{}", description.replace('\n', " "));
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            let always = if required.contains(&field.as_str()) {
                ", always present"
            } else {
                ""
            };
            let meaning = property["description"].as_str().unwrap_or_default();
            let _ = writeln!(
                out,
                "- `{field}` ({}{always}){}{}",
                type_of(property),
                if meaning.is_empty() { "" } else { ": " },
                meaning.replace('\n', " ")
            );
        }
        if let Some(variants) = schema["oneOf"].as_array() {
            let names: Vec<String> = variants.iter().map(type_of).collect();
            let _ = writeln!(out, "- one of: {}", names.join(", "));
        }
        out.push('\n');
    }
    out
}

/// A schema's type in a few words: `string`, `one of todo, done`, `WorkItem`, `list of Comment`.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        return format!("one of {}", values.join(", "));
    }
    if let Some(variants) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let types: Vec<String> = variants
            .iter()
            .filter(|v| v["type"] != "null")
            .map(type_of)
            .collect();
        return types.join(" or ");
    }
    match schema["type"].as_str() {
        Some("array") => format!("list of {}", type_of(&schema["items"])),
        Some(t) => t.to_owned(),
        None => match schema["type"].as_array() {
            Some(types) => types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect::<Vec<_>>()
                .join(" or "),
            None => "object".to_owned(),
        },
    }
}
