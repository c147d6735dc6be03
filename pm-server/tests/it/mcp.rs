//! `/mcp` end to end: rmcp's own client over real HTTP against a real server seeded with the demo
//! data, and WebSocket subscribers watching what the agent's writes do.

use pm_core::TenantRole;
use pm_proto::pb;
use reqwest::StatusCode;
use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::helpers::{Client, TestApp, change, request_id};

/// The demo tenant (see `pm_server::demo`): alice is an admin of SHOP, bob an editor, dave a
/// viewer.
const DEMO: &str = "demo";

async fn demo_app(adjust: impl FnOnce(&mut pm_server::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.demo = true;
        // Tests call as fast as they can; the rate limit is the REST limiter's, tested there.
        c.mcp_requests_per_second = 100_000;
        c.mcp_request_burst = 100_000;
        adjust(c);
    })
    .await
}

fn mcp_url(app: &TestApp) -> String {
    format!("http://{}/mcp", app.addr)
}

/// An MCP client of `user`, initialized.
struct Agent {
    client: RunningService<RoleClient, ()>,
}

impl Agent {
    async fn connect(app: &TestApp, tenant: &str, user: &str, role: TenantRole) -> Self {
        let config = StreamableHttpClientTransportConfig::with_uri(mcp_url(app))
            .auth_header(app.token(tenant, user, role));
        let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
        let client = ().serve(transport).await.expect("initialize");
        Self { client }
    }

    async fn tools(&self) -> Vec<Tool> {
        self.client.list_all_tools().await.expect("tools/list")
    }

    async fn tool_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .tools()
            .await
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        names
    }

    /// The tool's text and whether it is a tool error.
    async fn call(&self, name: &str, args: Value) -> (bool, String) {
        let Value::Object(args) = args else {
            panic!("arguments must be an object")
        };
        let result = self
            .client
            .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("");
        (result.is_error == Some(true), text)
    }

    /// A successful call's JSON.
    async fn ok(&self, name: &str, args: Value) -> Value {
        let (failed, text) = self.call(name, args).await;
        assert!(!failed, "{name} failed: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"))
    }

    /// A failed call's message.
    async fn err(&self, name: &str, args: Value) -> String {
        let (failed, text) = self.call(name, args).await;
        assert!(failed, "{name} succeeded: {text}");
        text
    }
}

const READ_TOOLS: [&str; 8] = [
    "changes_since",
    "get_docs",
    "get_work_item",
    "list_activity",
    "list_projects",
    "list_sprints",
    "project_context",
    "search_work_items",
];
const ITEM_TOOLS: [&str; 8] = [
    "add_comment",
    "add_dependency",
    "create_work_item",
    "move_work_item",
    "remove_dependency",
    "start_timer",
    "stop_timer",
    "update_work_item",
];
const SPRINT_TOOLS: [&str; 3] = ["complete_sprint", "create_sprint", "start_sprint"];

fn sorted(groups: &[&[&str]]) -> Vec<String> {
    let mut names: Vec<String> = groups
        .iter()
        .flat_map(|g| g.iter().map(|n| (*n).to_owned()))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn initialize_names_the_server_and_tools_list_follows_the_callers_role() {
    let app = demo_app(|_| {}).await;
    let viewer = Agent::connect(&app, DEMO, "dave", TenantRole::Editor).await;
    let info = viewer.client.peer_info().expect("initialized");
    assert_eq!(info.server_info.as_ref().unwrap().name, "pm");
    assert!(
        info.instructions
            .as_deref()
            .unwrap()
            .contains("project_context")
    );

    assert_eq!(viewer.tool_names().await, sorted(&[&READ_TOOLS]));
    let editor = Agent::connect(&app, DEMO, "bob", TenantRole::Editor).await;
    assert_eq!(
        editor.tool_names().await,
        sorted(&[&READ_TOOLS, &ITEM_TOOLS])
    );
    let admin = Agent::connect(&app, DEMO, "alice", TenantRole::Editor).await;
    assert_eq!(
        admin.tool_names().await,
        sorted(&[&READ_TOOLS, &ITEM_TOOLS, &SPRINT_TOOLS])
    );

    // Annotations tell a client what is safe to call without asking.
    for tool in admin.tools().await {
        let a = tool.annotations.as_ref().expect("annotated");
        let read = READ_TOOLS.contains(&tool.name.as_ref());
        assert_eq!(a.read_only_hint, Some(read), "{}", tool.name);
        assert_eq!(a.open_world_hint, Some(false), "{}", tool.name);
        if !read {
            assert_eq!(
                a.destructive_hint,
                Some(tool.name == "remove_dependency"),
                "{}",
                tool.name
            );
        }
        assert!(tool.description.is_some(), "{}", tool.name);
    }

    // A tool the role cannot use is refused even when called by name.
    let refused = viewer
        .err(
            "create_work_item",
            json!({"project": "SHOP", "type": "task", "title": "Sneaky"}),
        )
        .await;
    assert!(refused.contains("editor"), "{refused}");
}

#[tokio::test]
async fn every_read_tool_answers_on_the_demo_data() {
    let app = demo_app(|_| {}).await;
    let agent = Agent::connect(&app, DEMO, "bob", TenantRole::Editor).await;

    let projects = agent.ok("list_projects", json!({})).await;
    assert_eq!(projects["projects"][0]["key"], "SHOP");
    assert_eq!(projects["projects"][0]["my_role"], "editor");

    let context = agent
        .ok("project_context", json!({"project": "shop"}))
        .await;
    assert_eq!(context["project"]["key"], "SHOP");
    assert!(context["seq"].as_i64().unwrap() > 0);
    assert_eq!(context["members"].as_array().unwrap().len(), 5);
    let sprints = context["sprints"].as_array().unwrap();
    assert!(
        sprints
            .iter()
            .any(|s| s["status"] == "active" && s["totals"]["items"].as_u64().unwrap() > 0),
        "{sprints:?}"
    );
    let items = context["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|i| i["status"] != "done"),
        "only open items"
    );
    assert!(items.len() <= 150, "bounded by max_items");
    assert!(
        context["item_count"].as_u64().unwrap() > items.len() as u64,
        "the demo has done items too"
    );
    assert!(!context["blocks"].as_array().unwrap().is_empty());
    assert!(
        items.iter().all(|i| i.get("id").is_none()),
        "items are named by key"
    );
    let small = agent
        .ok(
            "project_context",
            json!({"project": "SHOP", "max_items": 3}),
        )
        .await;
    assert_eq!(small["items"].as_array().unwrap().len(), 3);
    assert!(
        small["items_omitted"]
            .as_str()
            .unwrap()
            .contains("search_work_items")
    );

    let page = agent
        .ok(
            "search_work_items",
            json!({"project": "SHOP", "type": ["story"], "status": ["in_progress", "review"], "limit": 2}),
        )
        .await;
    let found = page["items"].as_array().unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|i| i["type"] == "story"));
    assert!(page["next_cursor"].is_string());
    let text = agent
        .ok(
            "search_work_items",
            json!({"project": "SHOP", "text": "TYPO-TOLERANT", "parent": "shop-24"}),
        )
        .await;
    let keys: Vec<&str> = text["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"SHOP-25"), "{keys:?}");
    let bad = agent
        .err(
            "search_work_items",
            json!({"project": "SHOP", "limit": 201}),
        )
        .await;
    assert!(bad.contains("`limit`"), "{bad}");

    let item = agent.ok("get_work_item", json!({"item": "shop-25"})).await;
    assert_eq!(item["item"]["key"], "SHOP-25");
    assert_eq!(item["item"]["parent"], "SHOP-24");
    assert_eq!(item["item"]["blocked"], true);
    assert_eq!(item["blocked_by"][0]["item"], "SHOP-20");
    assert!(item["blocked_by"][0]["dependency_id"].is_string());
    let children = item["children"].as_array().unwrap();
    assert!(!children.is_empty());
    assert!(
        children.iter().all(|c| c["parent"] == "SHOP-25"),
        "{children:?}"
    );
    assert!(!item["comments"].as_array().unwrap().is_empty());
    assert!(!item["history"].as_array().unwrap().is_empty());
    assert!(
        item["ancestors"][0]
            .as_str()
            .unwrap()
            .starts_with("SHOP-24")
    );

    let sprints = agent.ok("list_sprints", json!({"project": "SHOP"})).await;
    assert!(sprints["sprints"].as_array().unwrap().len() >= 2);

    let activity = agent
        .ok("list_activity", json!({"item": "SHOP-25", "limit": 5}))
        .await;
    let entries = activity["activity"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["of"] == "SHOP-25"));

    let seq = context["seq"].as_u64().unwrap();
    let changes = agent
        .ok(
            "changes_since",
            json!({"since": seq - 2, "epoch": context["history_epoch"]}),
        )
        .await;
    assert_eq!(changes["changes"].as_array().unwrap().len(), 2);
    assert_eq!(changes["next_since"], seq);
    let gone = agent
        .err("changes_since", json!({"since": seq, "epoch": "another"}))
        .await;
    assert!(gone.contains("history"), "{gone}");

    let docs = agent.ok("get_docs", json!({"kind": "rule"})).await;
    let docs = docs["docs"].as_array().unwrap();
    assert!(!docs.is_empty());
    assert!(docs.iter().all(|d| d["kind"] == "rule"));
}

/// The next event on `watcher`, which must be of the kind `expect` accepts.
async fn saw(watcher: &mut Client, what: &str, expect: impl Fn(&pb::change::Change) -> bool) {
    let event = watcher.next_event().await;
    assert!(expect(change(&event)), "{what}: got {event:?}");
    assert_eq!(event.actor, "alice", "{what}");
}

#[tokio::test]
async fn every_write_tool_reaches_websocket_subscribers_live() {
    use pb::change::Change as C;

    let app = demo_app(|_| {}).await;
    let mut watcher = app.client(DEMO, "bob", TenantRole::Editor).await;
    watcher.subscribe("SHOP").await;
    let agent = Agent::connect(&app, DEMO, "alice", TenantRole::Editor).await;

    let created = agent
        .ok(
            "create_work_item",
            json!({"project": "SHOP", "type": "story", "title": "Gift cards", "parent": "shop-1",
                   "points": 3, "assignee": "bob", "priority": "high"}),
        )
        .await;
    let item = &created["item"];
    assert_eq!(item["parent"], "SHOP-1");
    assert_eq!(item["points"], 3);
    let key = item["key"].as_str().unwrap().to_owned();
    saw(
        &mut watcher,
        "create",
        |c| matches!(c, C::WorkItem(w) if w.key == key && w.title == "Gift cards"),
    )
    .await;

    let updated = agent
        .ok(
            "update_work_item",
            json!({"item": key, "version": 1, "title": "Gift cards and vouchers", "clear": ["points"]}),
        )
        .await;
    assert_eq!(updated["item"]["version"], 2);
    assert!(updated["item"].get("points").is_none());
    saw(&mut watcher, "update", |c| {
        matches!(c, C::WorkItem(w) if w.title == "Gift cards and vouchers" && w.story_points.is_none())
    })
    .await;

    let moved = agent
        .ok(
            "move_work_item",
            json!({"item": key.to_lowercase(), "version": 2, "status": "in_progress"}),
        )
        .await;
    assert_eq!(moved["item"]["status"], "in_progress");
    saw(
        &mut watcher,
        "move",
        |c| matches!(c, C::WorkItem(w) if w.status == i32::from(pb::WorkItemStatus::InProgress)),
    )
    .await;

    agent
        .ok(
            "add_comment",
            json!({"item": key, "body": "Drafted by an agent."}),
        )
        .await;
    saw(
        &mut watcher,
        "comment",
        |c| matches!(c, C::Comment(m) if m.body == "Drafted by an agent."),
    )
    .await;

    let timer = agent.ok("start_timer", json!({"item": key})).await;
    assert_eq!(timer["timer"]["item"], key);
    saw(
        &mut watcher,
        "start timer",
        |c| matches!(c, C::TimeEntry(t) if t.ended_at.is_none()),
    )
    .await;
    let stopped = agent.ok("stop_timer", json!({})).await;
    assert!(stopped["timer"]["ended_at"].is_i64());
    saw(
        &mut watcher,
        "stop timer",
        |c| matches!(c, C::TimeEntry(t) if t.ended_at.is_some()),
    )
    .await;
    // Stopping also updated the item's logged time.
    watcher.drain_events().await;

    let link = agent
        .ok(
            "add_dependency",
            json!({"blocking": "SHOP-1", "blocked": key}),
        )
        .await;
    let dependency_id = link["dependency"]["dependency_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(link["dependency"]["blocked"], key);
    saw(
        &mut watcher,
        "add dependency",
        |c| matches!(c, C::Dependency(d) if d.id == dependency_id),
    )
    .await;
    let blocked_flip = watcher.drain_events().await;
    assert!(
        blocked_flip
            .iter()
            .all(|e| matches!(change(e), C::BlockedChanged(_))),
        "{blocked_flip:?}"
    );

    agent
        .ok("remove_dependency", json!({"dependency_id": dependency_id}))
        .await;
    saw(
        &mut watcher,
        "remove dependency",
        |c| matches!(c, C::Deleted(d) if d.id == dependency_id),
    )
    .await;
    watcher.drain_events().await;

    let sprint = agent
        .ok(
            "create_sprint",
            json!({"project": "SHOP", "name": "Sprint 16", "goal": "Gift cards"}),
        )
        .await;
    let sprint_id = sprint["sprint"]["id"].as_str().unwrap().to_owned();
    saw(
        &mut watcher,
        "create sprint",
        |c| matches!(c, C::Sprint(s) if s.id == sprint_id),
    )
    .await;

    let sprints = agent.ok("list_sprints", json!({"project": "SHOP"})).await;
    let active = sprints["sprints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "active")
        .unwrap()
        .clone();
    let completed = agent
        .ok(
            "complete_sprint",
            json!({"sprint_id": active["id"], "version": active["version"], "move_open_items_to": sprint_id}),
        )
        .await;
    assert_eq!(completed["sprint"]["status"], "completed");
    assert!(!completed["moved"].as_array().unwrap().is_empty());
    let events = watcher.drain_events().await;
    assert!(
        events
            .iter()
            .any(|e| matches!(change(e), C::Sprint(s) if s.id == active["id"].as_str().unwrap())),
        "complete sprint: {events:?}"
    );

    let started = agent
        .ok(
            "start_sprint",
            json!({"sprint_id": sprint_id, "version": 1}),
        )
        .await;
    assert_eq!(started["sprint"]["status"], "active");
    saw(&mut watcher, "start sprint", |c| {
        matches!(c, C::Sprint(s) if s.id == sprint_id && s.status == i32::from(pb::SprintStatus::Active))
    })
    .await;
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_that_gives_the_current_values_and_what_changed() {
    let app = demo_app(|_| {}).await;
    let agent = Agent::connect(&app, DEMO, "bob", TenantRole::Editor).await;
    let read = agent.ok("get_work_item", json!({"item": "SHOP-6"})).await;
    let version = read["item"]["version"].as_i64().unwrap();
    // Someone else changes it first.
    let mut carol = app.client(DEMO, "carol", TenantRole::Editor).await;
    carol
        .ok(pb::UpdateWorkItem {
            work_item_id: "SHOP-6".to_owned(),
            version,
            title: Some("Address autocomplete (EU only)".to_owned()),
            ..Default::default()
        })
        .await;

    let conflict = agent
        .err(
            "update_work_item",
            json!({"item": "SHOP-6", "version": version, "priority": "high"}),
        )
        .await;
    assert!(conflict.starts_with("conflict:"), "{conflict}");
    assert!(
        conflict.contains(r#""title":"Address autocomplete (EU only)""#),
        "current values: {conflict}"
    );
    assert!(
        conflict.contains(r#""field":"title""#) && conflict.contains(r#""by":"carol""#),
        "what changed: {conflict}"
    );
    assert!(
        conflict.contains(&format!("version {}", version + 1)),
        "{conflict}"
    );
    // The retry the error suggests works.
    let retried = agent
        .ok(
            "update_work_item",
            json!({"item": "SHOP-6", "version": version + 1, "priority": "high"}),
        )
        .await;
    assert_eq!(retried["item"]["priority"], "high");
}

#[tokio::test]
async fn a_link_that_closes_a_cycle_is_refused_naming_the_cycle() {
    let app = demo_app(|_| {}).await;
    let agent = Agent::connect(&app, DEMO, "bob", TenantRole::Editor).await;
    agent
        .ok(
            "add_dependency",
            json!({"blocking": "SHOP-3", "blocked": "SHOP-4"}),
        )
        .await;
    agent
        .ok(
            "add_dependency",
            json!({"blocking": "SHOP-4", "blocked": "SHOP-5"}),
        )
        .await;
    let refused = agent
        .err(
            "add_dependency",
            json!({"blocking": "shop-5", "blocked": "shop-3"}),
        )
        .await;
    assert!(refused.starts_with("invalid argument"), "{refused}");
    assert!(refused.contains("SHOP-3 → SHOP-4 → SHOP-5"), "{refused}");
}

#[tokio::test]
async fn a_retried_write_with_the_same_request_id_returns_the_first_result() {
    let app = demo_app(|_| {}).await;
    let agent = Agent::connect(&app, DEMO, "bob", TenantRole::Editor).await;
    let id = request_id();
    let args = json!({"project": "SHOP", "type": "task", "title": "Once", "request_id": id});
    let first = agent.ok("create_work_item", args.clone()).await;
    let again = agent.ok("create_work_item", args).await;
    assert_eq!(first, again);
    let other = agent
        .err(
            "create_work_item",
            json!({"project": "SHOP", "type": "task", "title": "Twice", "request_id": id}),
        )
        .await;
    assert!(other.contains("`request_id`"), "{other}");
    let count = agent
        .ok(
            "search_work_items",
            json!({"project": "SHOP", "text": "Once"}),
        )
        .await;
    assert_eq!(count["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_valid_token_mcp_answers_401_with_www_authenticate() {
    let app = demo_app(|_| {}).await;
    let http = reqwest::Client::new();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "curl", "version": "1"}}});
    for token in [None, Some("not-a-jwt")] {
        let mut request = http
            .post(mcp_url(&app))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="pm""#
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    // With one, the same request initializes.
    let response = http
        .post(mcp_url(&app))
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(app.token(DEMO, "bob", TenantRole::Editor))
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn another_tenants_projects_and_items_are_not_found() {
    let app = demo_app(|_| {}).await;
    let mut demo = app.client(DEMO, "bob", TenantRole::Editor).await;
    let id = demo
        .ok(pb::GetWorkItem {
            work_item: "SHOP-25".to_owned(),
        })
        .await
        .work_item
        .unwrap()
        .id;
    // An admin of another tenant.
    let stranger = Agent::connect(&app, "acme", "mallory", TenantRole::Admin).await;
    for item in ["SHOP-25", id.as_str()] {
        let answer = stranger.err("get_work_item", json!({"item": item})).await;
        assert!(answer.starts_with("not found"), "{item}: {answer}");
    }
    let answer = stranger
        .err("project_context", json!({"project": "SHOP"}))
        .await;
    assert!(answer.starts_with("not found"), "{answer}");
    let answer = stranger
        .err(
            "update_work_item",
            json!({"item": id, "version": 1, "title": "Mine now"}),
        )
        .await;
    assert!(answer.starts_with("not found"), "{answer}");
    let projects = stranger.ok("list_projects", json!({})).await;
    assert_eq!(projects["projects"], json!([]));
}

#[tokio::test]
async fn write_tools_and_the_endpoint_can_be_switched_off() {
    let app = demo_app(|c| c.mcp_write_tools = false).await;
    let admin = Agent::connect(&app, DEMO, "alice", TenantRole::Editor).await;
    assert_eq!(admin.tool_names().await, sorted(&[&READ_TOOLS]));
    let refused = admin
        .err(
            "add_comment",
            json!({"item": "SHOP-1", "body": "Not through MCP"}),
        )
        .await;
    assert!(refused.contains("mcp_write_tools"), "{refused}");

    let off = demo_app(|c| c.mcp_enabled = false).await;
    let response = reqwest::Client::new()
        .post(mcp_url(&off))
        .bearer_auth(off.token(DEMO, "alice", TenantRole::Editor))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn mcp_has_its_own_per_user_rate_limit() {
    let app = demo_app(|c| {
        c.mcp_requests_per_second = 1;
        c.mcp_request_burst = 2;
    })
    .await;
    let http = reqwest::Client::new();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let send = |user: &str| {
        http.post(mcp_url(&app))
            .header("accept", "application/json, text/event-stream")
            .bearer_auth(app.token(DEMO, user, TenantRole::Editor))
            .json(&ping)
            .send()
    };
    for _ in 0..2 {
        assert_ne!(
            send("bob").await.unwrap().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let limited = send("bob").await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    // Another user has a bucket of their own, and the REST API's limit is separate.
    assert_ne!(
        send("carol").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let rest = http
        .get(format!("http://{}/api/v1/projects", app.addr))
        .bearer_auth(app.token(DEMO, "bob", TenantRole::Editor))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::OK);
}

/// The tool list a model receives, in tokens (≈ bytes / 4): `docs/api.md` states it, rounded to
/// the hundred, and this keeps the statement true.
#[tokio::test]
async fn the_tool_list_is_small_and_its_documented_size_is_current() {
    let app = demo_app(|_| {}).await;
    let admin = Agent::connect(&app, DEMO, "alice", TenantRole::Editor).await;
    let bytes = serde_json::to_string(&admin.tools().await).unwrap().len();
    let tokens = bytes / 4;
    assert!(tokens < 6_000, "the tool list is {tokens} tokens");
    let rounded = (tokens + 50) / 100 * 100;
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).unwrap();
    let stated = format!("about {rounded} tokens");
    assert!(
        docs.contains(&stated),
        "docs/api.md must say the tool list is {stated:?} ({bytes} bytes)"
    );
}
