//! The read-only REST API under `/api/v1`: a real server, data created through `/ws`, read back
//! with a real HTTP client.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use pm_core::TenantRole;
use pm_proto::pb::{
    self, DependencyType, Priority, ProjectRole, WorkItemStatus as Status, WorkItemType as Type,
    change::Change,
};
use reqwest::StatusCode;
use reqwest::header::{ETAG, HeaderMap, IF_NONE_MATCH};
use serde_json::Value;

use crate::helpers::*;

/// These tests send many requests; the rate limit has its own test.
async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

async fn spawn_with(adjust: impl FnOnce(&mut pm_server::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.api_requests_per_second = 100_000;
        c.api_request_burst = 100_000;
        c.command_burst = 100_000;
        adjust(c);
    })
    .await
}

/// An HTTP client of the API, authenticated as one user (or not at all).
struct Http {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A response: status, headers and the JSON body (`Null` when there is none).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    fn error_field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or_default()
    }

    fn etag(&self) -> String {
        self.headers[ETAG].to_str().unwrap().to_owned()
    }
}

impl Http {
    fn new(app: &TestApp, token: Option<String>) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: format!("http://{}/api/v1", app.addr),
            token,
        }
    }

    fn as_user(app: &TestApp, tenant: &str, user: &str, role: TenantRole) -> Self {
        Self::new(app, Some(app.token(tenant, user, role)))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    async fn get_if_none_match(&self, path: &str, etag: &str) -> Answer {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .header(IF_NONE_MATCH, etag),
        )
        .await
    }

    /// The body of a GET that must succeed; it never holds a null anywhere.
    async fn json(&self, path: &str) -> Value {
        let answer = self.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        assert_no_nulls(path, &answer.body);
        answer.body
    }

    /// Asserts that a GET fails with `status` and `code`; returns the answer.
    async fn fails(&self, path: &str, status: StatusCode, code: &str) -> Answer {
        let answer = self.get(path).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert_eq!(answer.error_code(), code, "{path}: {}", answer.body);
        assert!(
            answer.body["error"]["message"].is_string(),
            "{path}: {}",
            answer.body
        );
        answer
    }
}

fn assert_no_nulls(path: &str, value: &Value) {
    match value {
        Value::Null => panic!("{path}: the response holds a null"),
        Value::Array(items) => items.iter().for_each(|v| assert_no_nulls(path, v)),
        Value::Object(map) => map.values().for_each(|v| assert_no_nulls(path, v)),
        _ => {}
    }
}

fn keys(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_owned())
        .collect()
}

fn hour_ago() -> i64 {
    pm_core::Timestamp::now().as_millis() - 3_600_000
}

async fn create(
    client: &mut Client,
    project: &pb::Project,
    kind: Type,
    title: &str,
    adjust: impl FnOnce(&mut pb::CreateWorkItem),
) -> pb::WorkItem {
    let mut request = pb::CreateWorkItem {
        project_id: project.id.clone(),
        r#type: kind.into(),
        title: title.to_owned(),
        ..Default::default()
    };
    adjust(&mut request);
    client.ok(request).await.work_item.unwrap()
}

/// A project WEB with a little of everything, made by alice over `/ws`; bob is a viewer member.
struct Board {
    alice: Client,
    web: pb::Project,
    epic: pb::WorkItem,
    story: pb::WorkItem,
    task: pb::WorkItem,
    blocker: pb::WorkItem,
    sprint: pb::Sprint,
}

async fn board(app: &TestApp) -> Board {
    let mut alice = app.editor("alice").await;
    let web = alice
        .ok(pb::CreateProject {
            key: "WEB".to_owned(),
            title: "Web shop".to_owned(),
            description: "The customer-facing shop.".to_owned(),
        })
        .await
        .project
        .unwrap();
    alice.add_member(&web, "bob", ProjectRole::Viewer).await;
    let sprint = alice
        .ok(pb::CreateSprint {
            project_id: web.id.clone(),
            name: "Sprint 1".to_owned(),
            goal: "Checkout works".to_owned(),
            ..Default::default()
        })
        .await
        .sprint
        .unwrap();
    let sprint = alice
        .ok(pb::StartSprint {
            sprint_id: sprint.id.clone(),
            version: sprint.version,
        })
        .await
        .sprint
        .unwrap();
    let epic = create(&mut alice, &web, Type::Epic, "Checkout", |c| {
        c.description = "Everything between the cart and the receipt.".to_owned();
    })
    .await;
    let story = create(&mut alice, &web, Type::Story, "Pay by card", |c| {
        c.parent_id = Some(epic.id.clone());
        c.story_points = Some(5);
        c.assignee = Some("alice".to_owned());
        c.sprint_id = Some(sprint.id.clone());
        c.status = Some(Status::InProgress.into());
        c.priority = Some(Priority::High.into());
    })
    .await;
    let task = create(&mut alice, &web, Type::Task, "Card form", |c| {
        c.parent_id = Some(story.id.clone());
        c.story_points = Some(2);
        c.sprint_id = Some(sprint.id.clone());
        c.status = Some(Status::Done.into());
    })
    .await;
    let blocker = create(
        &mut alice,
        &web,
        Type::Story,
        "Payment provider contract",
        |_| {},
    )
    .await;
    alice
        .ok(pb::AddDependency {
            blocking_id: blocker.id.clone(),
            blocked_id: story.id.clone(),
            r#type: DependencyType::Blocks.into(),
        })
        .await;
    alice
        .ok(pb::AddComment {
            work_item_id: story.id.clone(),
            body: "Stripe or Adyen?".to_owned(),
        })
        .await;
    alice
        .ok(pb::AddTimeEntry {
            work_item_id: story.id.clone(),
            started_at: hour_ago(),
            ended_at: None,
            duration_ms: Some(1_800_000),
            description: "spike".to_owned(),
        })
        .await;
    Board {
        alice,
        web,
        epic,
        story,
        task,
        blocker,
        sprint,
    }
}

#[tokio::test]
async fn projects_are_listed_and_found_by_id_or_key() {
    let app = spawn().await;
    let b = board(&app).await;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);

    let listed = alice.json("/projects").await;
    let projects = listed["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0]["key"], "WEB");
    assert_eq!(projects[0]["my_role"], "admin");
    assert_eq!(projects[0]["status"], "active");

    let by_key = alice.json("/projects/WEB").await;
    let by_id = alice.json(&format!("/projects/{}", b.web.id)).await;
    assert_eq!(by_key, by_id);
    assert_eq!(by_key["id"], b.web.id);
    assert_eq!(by_key["title"], "Web shop");
    assert_eq!(by_key["description"], "The customer-facing shop.");

    let bob = Http::as_user(&app, "acme", "bob", TenantRole::Editor);
    assert_eq!(bob.json("/projects/WEB").await["my_role"], "viewer");
}

#[tokio::test]
async fn the_context_holds_the_open_work_in_one_snapshot_and_counts_the_rest() {
    let app = spawn().await;
    let mut b = board(&app).await;
    let head = b.alice.subscribe(&b.web.id).await.head_seq;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);

    let context = alice.json("/projects/WEB/context").await;
    assert_eq!(context["seq"], head, "consistent with the newest change");
    assert_eq!(context["project"]["key"], "WEB");
    let members: BTreeMap<_, _> = context["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["user_id"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        members,
        BTreeMap::from([("alice", "admin"), ("bob", "viewer")])
    );
    assert_eq!(context["swim_lanes"].as_array().unwrap().len(), 5);
    // The task is done: it is counted and listed among the recently done, not in the open work.
    assert_eq!(context["item_count"], 3);
    assert_eq!(context["total_items"], 4);
    assert_eq!(
        context["status_counts"],
        serde_json::json!({"backlog": 2, "todo": 0, "in_progress": 1, "review": 0, "done": 1})
    );
    assert_eq!(keys(&context["recently_done"]), ["WEB-3"]);
    assert_eq!(context["recently_done"][0]["parent_id"], b.story.id);
    assert!(
        context.get("items_next_cursor").is_none(),
        "all open work is here"
    );

    // The tree: the epic holds the story; the blocker stands alone.
    let top = context["items"].as_array().unwrap();
    assert_eq!(keys(&context["items"]), ["WEB-1", "WEB-4"]);
    let epic = &top[0];
    assert_eq!(epic["type"], "epic");
    assert_eq!(
        epic["description"],
        "Everything between the cart and the receipt."
    );
    assert!(epic.get("parent_id").is_none(), "a top-level item");
    let story = &epic["children"][0];
    assert_eq!(story["key"], "WEB-2");
    assert!(story.get("parent_id").is_none(), "the nesting says it");
    assert_eq!(story["status"], "in_progress");
    assert_eq!(story["priority"], "high");
    assert_eq!(story["points"], 5);
    assert_eq!(story["assignee"], "alice");
    assert_eq!(story["sprint_id"], b.sprint.id);
    assert_eq!(story["blocked"], true);
    assert_eq!(story["logged_ms"], 1_800_000);
    assert!(story.get("children").is_none(), "empty lists are left out");
    assert!(top[1].get("blocked").is_none(), "false flags are left out");

    let deps = context["dependencies"].as_array().unwrap();
    assert_eq!(deps.len(), 1);
    assert_eq!(deps[0]["type"], "blocks");
    assert_eq!(deps[0]["blocking"], "WEB-4");
    assert_eq!(deps[0]["blocked"], "WEB-2");

    let sprints = context["sprints"].as_array().unwrap();
    assert_eq!(sprints.len(), 1);
    assert_eq!(sprints[0]["status"], "active");
    assert_eq!(
        sprints[0]["totals"],
        serde_json::json!({"items": 2, "done_items": 1, "points": 7, "done_points": 2})
    );
    let activity = context["activity"].as_array().unwrap();
    assert!(!activity.is_empty());
    let ids: Vec<i64> = activity.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    // Descriptions shorten on request; 0 leaves them out but says there is one.
    let short = alice
        .json("/projects/WEB/context?description_chars=10&activity=0")
        .await;
    assert_eq!(short["items"][0]["description"], "Everything…");
    assert_eq!(short["items"][0]["description_truncated"], true);
    assert!(short.get("activity").is_none() || short["activity"] == serde_json::json!([]));
    let none = alice
        .json("/projects/WEB/context?description_chars=0")
        .await;
    assert!(none["items"][0].get("description").is_none());
    assert_eq!(none["items"][0]["description_truncated"], true);
}

#[tokio::test]
async fn a_work_item_is_found_by_key_or_id_with_everything_around_it() {
    let app = spawn().await;
    let b = board(&app).await;
    let bob = Http::as_user(&app, "acme", "bob", TenantRole::Editor);

    let detail = bob.json("/work-items/WEB-2").await;
    assert_eq!(
        detail,
        bob.json(&format!("/work-items/{}", b.story.id)).await
    );
    let item = &detail["work_item"];
    assert_eq!(item["id"], b.story.id);
    assert_eq!(item["title"], "Pay by card");
    assert_eq!(item["parent_id"], b.epic.id);
    assert_eq!(keys(&detail["ancestors"]), ["WEB-1"]);
    assert_eq!(keys(&detail["children"]), ["WEB-3"]);
    assert_eq!(detail["children"][0]["id"], b.task.id);
    let blocked_by = detail["dependencies"]["blocked_by"].as_array().unwrap();
    assert_eq!(blocked_by.len(), 1);
    assert_eq!(blocked_by[0]["blocking"], "WEB-4");
    assert_eq!(blocked_by[0]["blocking_id"], b.blocker.id);
    assert_eq!(detail["comments"][0]["body"], "Stripe or Adyen?");
    assert_eq!(detail["comments"][0]["author"], "alice");
    assert_eq!(detail["comment_count"], 1);
    assert_eq!(detail["time"]["logged_ms"], 1_800_000);
    assert_eq!(detail["time"]["per_user"][0]["user_id"], "alice");
    let activity = detail["activity"].as_array().unwrap();
    assert!(
        activity
            .iter()
            .all(|a| a["entity"] == "work_item" && a["entity_id"] == b.story.id)
    );
    assert!(activity.iter().any(|a| a["action"] == "created"));

    // The blocker sees the link from the other side.
    let blocker = bob.json("/work-items/WEB-4").await;
    assert_eq!(blocker["dependencies"]["blocking"][0]["blocked"], "WEB-2");
}

#[tokio::test]
async fn sprints_are_listed_and_shown_with_items_and_totals() {
    let app = spawn().await;
    let mut b = board(&app).await;
    b.alice
        .ok(pb::CreateSprint {
            project_id: b.web.id.clone(),
            name: "Sprint 2".to_owned(),
            ..Default::default()
        })
        .await;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);

    let listed = alice.json("/projects/WEB/sprints").await;
    let sprints = listed["sprints"].as_array().unwrap();
    let names: Vec<_> = sprints
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Sprint 1", "Sprint 2"]);
    assert_eq!(sprints[0]["totals"]["points"], 7);
    assert_eq!(
        sprints[1]["totals"],
        serde_json::json!({"items": 0, "done_items": 0, "points": 0, "done_points": 0})
    );
    assert_eq!(sprints[1]["status"], "planned");

    let detail = alice.json(&format!("/sprints/{}", b.sprint.id)).await;
    assert_eq!(detail["sprint"]["goal"], "Checkout works");
    assert_eq!(detail["project_key"], "WEB");
    assert_eq!(keys(&detail["items"]), ["WEB-2", "WEB-3"]);
    assert_eq!(detail["sprint"]["totals"]["done_points"], 2);
}

#[tokio::test]
async fn activity_and_documentation_are_served() {
    let app = spawn().await;
    let b = board(&app).await;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);

    let page = alice.json("/activity?project=WEB").await;
    let rows = page["activity"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|a| a["project_id"] == b.web.id));

    let docs = alice.json("/llm/context").await;
    let all = docs["docs"].as_array().unwrap();
    assert!(all.iter().any(|d| d["kind"] == "api"));
    let rules = alice.json("/llm/context?kind=rule").await;
    let rules = rules["docs"].as_array().unwrap();
    assert!(!rules.is_empty() && rules.len() < all.len());
    assert!(rules.iter().all(|d| d["kind"] == "rule"));
    alice
        .fails(
            "/llm/context?kind=poem",
            StatusCode::BAD_REQUEST,
            "validation",
        )
        .await;
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let app = spawn().await;
    board(&app).await;
    let anonymous = Http::new(&app, None);
    let forged = Http::new(&app, Some("not.a.token".to_owned()));
    let other_key = pm_auth::Signer::new(&pm_auth::KeyConfig::Hs256 {
        secret: b"another-secret-that-is-long-enough-for-hs256".to_vec(),
    })
    .unwrap()
    .issue(
        &pm_core::TenantId::parse("acme").unwrap(),
        &pm_core::UserId::parse("alice").unwrap(),
        TenantRole::Admin,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let wrong_key = Http::new(&app, Some(other_key));
    for client in [&anonymous, &forged, &wrong_key] {
        for path in [
            "/projects",
            "/projects/WEB/context",
            "/work-items/WEB-1",
            "/changes?since=0",
            "/llm/context",
        ] {
            let answer = client
                .fails(path, StatusCode::UNAUTHORIZED, "unauthenticated")
                .await;
            assert_eq!(
                answer.headers[reqwest::header::WWW_AUTHENTICATE],
                r#"Bearer realm="pm""#,
                "{path}"
            );
        }
    }
    // The document itself is public, so an agent can learn the API first.
    assert_eq!(anonymous.get("/openapi.json").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_non_member_gets_403_and_another_tenants_ids_are_404() {
    let app = spawn().await;
    let b = board(&app).await;
    let sprint = format!("/sprints/{}", b.sprint.id);
    let paths = [
        format!("/projects/{}", b.web.id),
        format!("/projects/{}/context", b.web.id),
        format!("/projects/{}/work-items", b.web.id),
        format!("/projects/{}/sprints", b.web.id),
        format!("/work-items/{}", b.story.id),
        sprint.clone(),
        format!("/activity?project={}", b.web.id),
    ];

    let carol = Http::as_user(&app, "acme", "carol", TenantRole::Editor);
    for path in &paths {
        carol
            .fails(path, StatusCode::FORBIDDEN, "permission_denied")
            .await;
    }
    assert_eq!(
        carol.json("/projects").await["projects"],
        serde_json::json!([])
    );
    // Her activity and change feed skip the project instead.
    assert_eq!(
        carol.json("/activity").await["activity"],
        serde_json::json!([])
    );
    assert_eq!(
        carol.json("/changes?since=0").await["changes"],
        serde_json::json!([])
    );

    // The same ids from another tenant do not exist: 404, as for ids never used.
    let mallory = Http::as_user(&app, "globex", "mallory", TenantRole::Admin);
    for path in &paths {
        mallory
            .fails(path, StatusCode::NOT_FOUND, "not_found")
            .await;
    }
    mallory
        .fails("/work-items/WEB-2", StatusCode::NOT_FOUND, "not_found")
        .await;
    assert_eq!(
        mallory.json("/projects").await["projects"],
        serde_json::json!([])
    );
    assert_eq!(
        mallory.json("/changes?since=0").await["changes"],
        serde_json::json!([])
    );

    // A tenant admin sees every project of their tenant without being a member.
    let root = Http::as_user(&app, "acme", "root", TenantRole::Admin);
    assert_eq!(root.json("/projects/WEB").await["my_role"], "admin");
    root.json(&sprint).await;
}

#[tokio::test]
async fn viewers_can_read_everything_of_their_projects() {
    let app = spawn().await;
    let b = board(&app).await;
    // bob is a project viewer; with a tenant viewer token he is read-only everywhere.
    let bob = Http::as_user(&app, "acme", "bob", TenantRole::Viewer);
    assert_eq!(
        bob.json("/projects").await["projects"][0]["my_role"],
        "viewer"
    );
    bob.json("/projects/WEB/context").await;
    bob.json("/projects/WEB/work-items?status=done").await;
    bob.json("/work-items/WEB-3").await;
    bob.json("/projects/WEB/sprints").await;
    bob.json(&format!("/sprints/{}", b.sprint.id)).await;
    bob.json("/activity").await;
    let changes = bob.json("/changes?since=0").await;
    assert!(!changes["changes"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_ids_are_404_and_bad_parameters_are_400_naming_the_parameter() {
    let app = spawn().await;
    board(&app).await;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);
    let unknown = uuid::Uuid::now_v7();
    for path in [
        "/projects/NOPE".to_owned(),
        format!("/projects/{unknown}/context"),
        "/work-items/WEB-999".to_owned(),
        "/work-items/NOPE-1".to_owned(),
        format!("/work-items/{unknown}"),
        format!("/sprints/{unknown}"),
    ] {
        alice.fails(&path, StatusCode::NOT_FOUND, "not_found").await;
    }
    let cases = [
        ("/projects/not a key!", "project"),
        ("/work-items/not-a-key", "work_item"),
        ("/sprints/not-a-uuid", "sprint"),
        ("/projects?include_archived=maybe", "include_archived"),
        ("/projects/WEB/work-items?limit=0", "limit"),
        ("/projects/WEB/work-items?limit=201", "limit"),
        ("/projects/WEB/work-items?status=doing", "status"),
        ("/projects/WEB/work-items?type=bug", "type"),
        ("/projects/WEB/work-items?cursor=abc", "cursor"),
        ("/projects/WEB/work-items?sprint=nope", "sprint"),
        ("/projects/WEB/work-items?parent=WEB-999", "parent"),
        ("/projects/WEB/work-items?blocked=yes", "blocked"),
        ("/projects/WEB/work-items?assignee=a%01b", "assignee"),
        ("/projects/WEB/work-items?stauts=done", "stauts"),
        ("/projects/WEB/work-items?limit=1&limit=2", "limit"),
        (
            "/projects/WEB/context?description_chars=-1",
            "description_chars",
        ),
        ("/projects/WEB/sprints?page=2", "page"),
        ("/activity?entity=work_item", "entity_id"),
        ("/activity?entity_id=x", "entity"),
        ("/activity?entity=thing&entity_id=x", "entity"),
        ("/activity?from=yesterday", "from"),
        ("/activity?from=-1", "from"),
        ("/activity?to=253402300800000", "to"),
        ("/activity?limit=501", "limit"),
        ("/changes", "since"),
        ("/changes?since=-1", "since"),
        ("/changes?since=0&limit=501", "limit"),
    ];
    for (path, field) in cases {
        let answer = alice
            .fails(path, StatusCode::BAD_REQUEST, "validation")
            .await;
        assert_eq!(answer.error_field(), field, "{path}: {}", answer.body);
        // The message names the parameter that `field` names, and no other.
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{field} ")) || message.starts_with(&format!("{field}:")),
            "{path}: {message}"
        );
    }
    // Lists of accepted values are written with commas.
    let answer = alice
        .fails(
            "/projects/WEB/work-items?status=doing",
            StatusCode::BAD_REQUEST,
            "validation",
        )
        .await;
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("expected one of: backlog, todo, in_progress, review, done"),
        "{}",
        answer.body
    );

    // A path that names no endpoint, and a method the read-only API does not serve.
    let answer = alice
        .fails("/nothing/here", StatusCode::NOT_FOUND, "not_found")
        .await;
    assert_eq!(answer.error_field(), "path");
    let post = alice
        .send(alice.client.post(format!("{}/projects", alice.base)))
        .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.error_code(), "method_not_allowed");
}

#[tokio::test]
async fn filters_select_exactly_the_matching_items() {
    let app = spawn().await;
    let b = board(&app).await;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);
    let list = |query: String| {
        let alice = &alice;
        async move {
            let page = alice
                .json(&format!("/projects/WEB/work-items?{query}"))
                .await;
            assert!(page.get("next_cursor").is_none(), "{query}: one page");
            keys(&page["items"])
        }
    };
    assert_eq!(
        list(String::new()).await,
        ["WEB-1", "WEB-2", "WEB-3", "WEB-4"]
    );
    assert_eq!(list("type=story".into()).await, ["WEB-2", "WEB-4"]);
    assert_eq!(list("type=epic,task".into()).await, ["WEB-1", "WEB-3"]);
    assert_eq!(list("type=epic&type=task".into()).await, ["WEB-1", "WEB-3"]);
    assert_eq!(
        list("status=in_progress,done".into()).await,
        ["WEB-2", "WEB-3"]
    );
    assert_eq!(
        list(format!("sprint={}", b.sprint.id)).await,
        ["WEB-2", "WEB-3"]
    );
    assert_eq!(list("sprint=".into()).await, ["WEB-1", "WEB-4"]);
    assert_eq!(list("assignee=alice".into()).await, ["WEB-2"]);
    assert_eq!(list("assignee=".into()).await, ["WEB-1", "WEB-3", "WEB-4"]);
    assert_eq!(list("parent=WEB-1".into()).await, ["WEB-2"]);
    assert_eq!(list(format!("parent={}", b.story.id)).await, ["WEB-3"]);
    assert_eq!(list("parent=".into()).await, ["WEB-1", "WEB-4"]);
    assert_eq!(list("blocked=true".into()).await, ["WEB-2"]);
    assert_eq!(
        list("blocked=false".into()).await,
        ["WEB-1", "WEB-3", "WEB-4"]
    );
    assert_eq!(list("text=CARD".into()).await, ["WEB-2", "WEB-3"]);
    assert_eq!(
        list("text=receipt".into()).await,
        ["WEB-1"],
        "descriptions too"
    );
    assert_eq!(list("type=story&blocked=false".into()).await, ["WEB-4"]);
    assert_eq!(list("text=100%25".into()).await, Vec::<String>::new());

    let page = alice
        .json("/projects/WEB/work-items?type=epic&description_chars=5")
        .await;
    assert_eq!(page["items"][0]["description"], "Every…");
}

/// Pages through `path` (a work-item list) with `limit`, calling `between` after every page.
async fn walk(http: &Http, path: &str, limit: u32, mut between: impl AsyncFnMut()) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&limit={limit}&cursor={c}"),
            None => format!("{path}&limit={limit}"),
        };
        let page = http.json(&url).await;
        let items = keys(&page["items"]);
        assert!(items.len() <= limit as usize);
        seen.extend(items);
        between().await;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return seen,
        }
    }
}

fn number(key: &str) -> i64 {
    key.rsplit('-').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn pages_return_every_item_exactly_once_while_items_are_added() {
    let app = spawn().await;
    let mut alice = app.editor("alice").await;
    let web = alice.create_project("WEB").await;
    for n in 0..25 {
        let kind = if n % 3 == 0 { Type::Task } else { Type::Story };
        alice.create_item(&web, kind, &format!("item {n}")).await;
    }
    let http = Http::as_user(&app, "acme", "alice", TenantRole::Editor);

    // Another connection keeps creating items, truly concurrently with the walks below.
    let mut writer = app.editor("alice").await;
    let writer_web = web.clone();
    let background = tokio::spawn(async move {
        for n in 0..30 {
            writer
                .create_item(&writer_web, Type::Task, &format!("late {n}"))
                .await;
        }
    });

    // And between pages this test adds items itself, so every walk certainly meets new ones.
    let mut added: i64 = 0;
    let all = walk(&http, "/projects/WEB/work-items?", 7, async || {
        alice.create_item(&web, Type::Story, "between pages").await;
        added += 1;
    })
    .await;
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no item twice: {all:?}");
    let numbers: Vec<i64> = all.iter().map(|k| number(k)).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in number order");
    // Nothing was skipped: every number up to the last one seen is there (none were deleted).
    let last = *numbers.last().unwrap();
    assert_eq!(numbers, (1..=last).collect::<Vec<_>>());
    assert!(
        last >= 25 + added,
        "the items added during the walk were reached"
    );

    // A filtered walk: tasks only, same guarantees.
    let tasks = walk(&http, "/projects/WEB/work-items?type=task", 4, async || {
        alice
            .create_item(&web, Type::Task, "task between pages")
            .await;
        alice
            .create_item(&web, Type::Story, "story between pages")
            .await;
    })
    .await;
    let unique: HashSet<_> = tasks.iter().collect();
    assert_eq!(unique.len(), tasks.len(), "no task twice");
    background.await.unwrap();
    // Every task up to the last one the walk saw, and nothing else.
    let last = number(tasks.last().unwrap());
    let everything = walk(
        &http,
        "/projects/WEB/work-items?type=task",
        200,
        async || {},
    )
    .await;
    let expected: Vec<_> = everything
        .into_iter()
        .filter(|k| number(k) <= last)
        .collect();
    assert_eq!(tasks, expected);
}

#[tokio::test]
async fn activity_pages_newest_first_and_filters() {
    let app = spawn().await;
    let b = board(&app).await;
    let mut bob = app.client("acme", "bob", TenantRole::Editor).await;
    // Bob (a viewer) cannot write; make him an editor of his own project so he has activity.
    let own = bob.create_project("BOB").await;
    bob.create_item(&own, Type::Task, "bob's task").await;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);
    let root = Http::as_user(&app, "acme", "root", TenantRole::Admin);

    // Root (a tenant admin) pages through everything: each entry once, newest first.
    let everything = root.json("/activity?limit=500").await["activity"].clone();
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = root.json(&format!("/activity?limit=3{cursor}")).await;
        ids.extend(
            page["activity"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let all_ids: Vec<i64> = everything
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, all_ids);
    assert!(ids.windows(2).all(|w| w[0] > w[1]));

    // Alice is not a member of BOB: her unfiltered activity leaves it out.
    let hers = alice.json("/activity?limit=500").await;
    let projects: BTreeSet<_> = hers["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["project_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(projects, BTreeSet::from([b.web.id.clone()]));

    let by_bob = root.json("/activity?user=bob&limit=500").await;
    assert!(
        by_bob["activity"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["actor"] == "bob")
    );
    let entity = root
        .json(&format!(
            "/activity?entity=work_item&entity_id={}",
            b.task.id
        ))
        .await;
    let rows = entity["activity"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "created, nothing since");
    assert_eq!(rows[0]["action"], "created");
    let at = rows[0]["at"].as_i64().unwrap();
    let window = root
        .json(&format!(
            "/activity?entity=work_item&entity_id={}&from={at}&to={}",
            b.task.id,
            at + 1
        ))
        .await;
    assert_eq!(window["activity"].as_array().unwrap().len(), 1);
    let later = root
        .json(&format!(
            "/activity?entity=work_item&entity_id={}&from={}",
            b.task.id,
            at + 1
        ))
        .await;
    assert_eq!(later["activity"], serde_json::json!([]));
}

#[tokio::test]
async fn etags_answer_304_until_something_changes() {
    let app = spawn().await;
    let mut b = board(&app).await;
    let mut other = b.alice.create_project("OPS").await;
    let bob = Http::as_user(&app, "acme", "bob", TenantRole::Editor);

    for path in [
        "/projects/WEB/context",
        "/projects/WEB",
        "/work-items/WEB-2",
    ] {
        let first = bob.get(path).await;
        assert_eq!(first.status, StatusCode::OK);
        let etag = first.etag();
        let again = bob.get_if_none_match(path, &etag).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.etag(), etag);
        assert_eq!(again.body, Value::Null);
        let listed = bob.get_if_none_match(path, &format!("\"0\", {etag}")).await;
        assert_eq!(listed.status, StatusCode::NOT_MODIFIED, "{path}: in a list");

        // A change in another project leaves this one's tag alone.
        other = b
            .alice
            .ok(pb::UpdateProject {
                project_id: other.id.clone(),
                version: other.version,
                title: Some(format!("Ops {}", other.version)),
                ..Default::default()
            })
            .await
            .project
            .unwrap();
        assert_eq!(
            bob.get_if_none_match(path, &etag).await.status,
            StatusCode::NOT_MODIFIED,
            "{path}"
        );

        // A change in this project: 200 with a new tag.
        b.alice
            .ok(pb::AddComment {
                work_item_id: b.epic.id.clone(),
                body: format!("touching {path}"),
            })
            .await;
        let changed = bob.get_if_none_match(path, &etag).await;
        assert_eq!(changed.status, StatusCode::OK, "{path}");
        assert_ne!(changed.etag(), etag);
        assert_eq!(
            bob.get_if_none_match(path, &changed.etag()).await.status,
            StatusCode::NOT_MODIFIED
        );
    }
}

/// The id of the entity a change is about, and the kind of change, as the feed names them.
fn wire_change(event: &pb::Event) -> (u64, &'static str, String) {
    let (kind, id) = match change(event) {
        Change::Project(p) => ("project", p.id.clone()),
        Change::Member(m) => ("member", m.user_id.clone()),
        Change::MemberRemoved(m) => ("member_removed", m.user_id.clone()),
        Change::WorkItem(w) => ("work_item", w.id.clone()),
        Change::Sprint(s) => ("sprint", s.id.clone()),
        Change::Comment(c) => ("comment", c.id.clone()),
        Change::TimeEntry(t) => ("time_entry", t.id.clone()),
        Change::Dependency(d) => ("dependency", d.id.clone()),
        Change::SwimLane(l) => ("swim_lane", l.id.clone()),
        Change::Deleted(d) => ("deleted", d.id.clone()),
        Change::BlockedChanged(b) => ("blocked_changed", b.work_item_id.clone()),
    };
    (event.seq, kind, id)
}

fn json_change(event: &Value) -> (u64, String, String) {
    let change = event["change"].as_object().unwrap();
    assert_eq!(change.len(), 1, "exactly one kind: {event}");
    let (kind, body) = change.iter().next().unwrap();
    let id = ["id", "user_id", "work_item_id"]
        .iter()
        .find_map(|k| body[*k].as_str())
        .unwrap()
        .to_owned();
    (event["seq"].as_u64().unwrap(), kind.clone(), id)
}

#[tokio::test]
async fn the_change_feed_holds_what_a_subscriber_received() {
    let app = spawn().await;
    let mut b = board(&app).await;
    let mut watcher = app.client("acme", "bob", TenantRole::Editor).await;
    let since = watcher.subscribe(&b.web.id).await.head_seq;

    // A bit of everything, by alice; bob watches.
    let bug = create(&mut b.alice, &b.web, Type::Task, "Fix rounding", |c| {
        c.parent_id = Some(b.story.id.clone());
    })
    .await;
    b.alice
        .ok(pb::UpdateWorkItem {
            work_item_id: b.blocker.id.clone(),
            version: b.blocker.version,
            status: Some(Status::Done.into()),
            ..Default::default()
        })
        .await;
    b.alice
        .add_member(&b.web, "carol", ProjectRole::Editor)
        .await;
    b.alice
        .ok(pb::RemoveMember {
            project_id: b.web.id.clone(),
            user_id: "carol".to_owned(),
        })
        .await;
    b.alice
        .ok(pb::DeleteWorkItem {
            work_item_id: bug.id.clone(),
            version: bug.version,
        })
        .await;
    b.alice
        .ok(pb::StartTimer {
            work_item_id: b.task.id.clone(),
            description: String::new(),
        })
        .await;
    b.alice.ok(pb::StopTimer {}).await;
    let received: Vec<_> = watcher.drain_events().await;
    let expected: Vec<_> = received.iter().map(wire_change).collect();
    assert!(expected.len() >= 7, "{expected:?}");
    let kinds: BTreeSet<_> = expected.iter().map(|(_, k, _)| *k).collect();
    assert!(kinds.is_superset(&BTreeSet::from([
        "work_item",
        "member",
        "member_removed",
        "deleted",
        "blocked_changed",
        "time_entry"
    ])));

    // Read it back in small pages, as an integration polls.
    let bob = Http::as_user(&app, "acme", "bob", TenantRole::Editor);
    let mut polled = Vec::new();
    let mut next = since;
    loop {
        let page = bob.json(&format!("/changes?since={next}&limit=3")).await;
        for event in page["changes"].as_array().unwrap() {
            assert_eq!(event["project_id"], b.web.id);
            assert_eq!(event["actor"], "alice");
            polled.push(json_change(event));
        }
        next = page["next_since"].as_u64().unwrap();
        if !page["has_more"].as_bool().unwrap() {
            assert_eq!(next, page["head"].as_u64().unwrap());
            break;
        }
    }
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(seq, kind, id)| (seq, kind.to_owned(), id))
        .collect();
    assert_eq!(polled, expected);

    // The bodies carry the entity's state, as JSON.
    let page = bob.json(&format!("/changes?since={since}&limit=1")).await;
    let created = &page["changes"][0]["change"]["work_item"];
    assert_eq!(created["title"], "Fix rounding");
    assert_eq!(created["parent_id"], b.story.id);
    assert!(page["changes"][0]["request_id"].is_string());
    // Up to date: an empty page that stays where it is.
    let idle = bob.json(&format!("/changes?since={next}")).await;
    assert_eq!(idle["changes"], serde_json::json!([]));
    assert_eq!(idle["next_since"], next);
    assert_eq!(idle["has_more"], false);
}

#[tokio::test]
async fn a_since_outside_the_retained_change_log_is_410() {
    let app = spawn_with(|c| c.change_log_max_rows = 3).await;
    let mut alice = app.editor("alice").await;
    let web = alice.create_project("WEB").await;
    for n in 0..5 {
        alice.create_item(&web, Type::Task, &format!("t{n}")).await;
    }
    let http = Http::as_user(&app, "acme", "alice", TenantRole::Editor);
    let head = http.json("/projects/WEB/context").await["seq"]
        .as_u64()
        .unwrap();
    let gone = http
        .fails("/changes?since=0", StatusCode::GONE, "resync_required")
        .await;
    assert!(
        gone.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reload")
    );
    http.fails(
        &format!("/changes?since={}", head - 4),
        StatusCode::GONE,
        "resync_required",
    )
    .await;
    http.fails(
        &format!("/changes?since={}", head + 1),
        StatusCode::GONE,
        "resync_required",
    )
    .await;
    // The oldest retained entry is head - 2: asking from just before it still works.
    let page = http.json(&format!("/changes?since={}", head - 3)).await;
    assert_eq!(page["changes"].as_array().unwrap().len(), 3);
    let page = http.json(&format!("/changes?since={head}")).await;
    assert_eq!(page["changes"], serde_json::json!([]));
}

#[tokio::test]
async fn a_user_over_the_rate_limit_gets_429_with_retry_after() {
    let app = spawn_with(|c| {
        c.api_requests_per_second = 1;
        c.api_request_burst = 3;
    })
    .await;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);
    // Far more requests than the burst at once: refilling them would take many seconds.
    let answers = futures_util::future::join_all((0..40).map(|_| alice.get("/projects"))).await;
    let limited: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(limited.len() >= 30, "only {} were limited", limited.len());
    let first = limited[0];
    assert_eq!(first.error_code(), "rate_limited");
    let retry: u64 = first.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    // The bucket is per user: another user is not limited.
    let bob = Http::as_user(&app, "acme", "bob", TenantRole::Editor);
    assert_eq!(bob.get("/projects").await.status, StatusCode::OK);
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_configured() {
    let preflight = |app: &TestApp, origin: &str| {
        let client = reqwest::Client::new();
        let url = format!("http://{}/api/v1/projects", app.addr);
        let origin = origin.to_owned();
        async move {
            client
                .request(reqwest::Method::OPTIONS, url)
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "authorization")
                .send()
                .await
                .unwrap()
        }
    };
    let off = spawn().await;
    let answer = preflight(&off, "https://app.example").await;
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let on = spawn_with(|c| c.cors_allowed_origins = vec!["https://app.example".to_owned()]).await;
    let answer = preflight(&on, "https://app.example").await;
    assert_eq!(
        answer.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let answer = preflight(&on, "https://evil.example").await;
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let http = Http::as_user(&on, "acme", "alice", TenantRole::Editor);
    let get = http
        .send(
            http.client
                .get(format!("{}/projects", http.base))
                .header("origin", "https://app.example"),
        )
        .await;
    assert_eq!(
        get.headers["access-control-allow-origin"],
        "https://app.example"
    );
}

#[test]
fn cors_origins_come_from_a_comma_separated_setting_and_are_checked() {
    use pm_server::config::ConfigArgs;
    let flags = [
        "--cors-allowed-origins",
        "https://a.example, http://localhost:5173,",
    ];
    let config = pm_server::Config::resolve(&ConfigArgs::from_flags(flags).unwrap(), None).unwrap();
    assert_eq!(
        config.cors_allowed_origins,
        ["https://a.example", "http://localhost:5173"]
    );
    for bad in [
        "a.example",
        "https://a.example/",
        "https://a.example/path\n",
    ] {
        let args = ConfigArgs::from_flags(["--cors-allowed-origins", bad]).unwrap();
        let err = pm_server::Config::resolve(&args, None).unwrap_err();
        assert!(err.to_string().contains("cors_allowed_origins"), "{err}");
    }
}

/// A value for each path parameter of the document, from the board.
fn sample_path(path: &str, b: &Board) -> String {
    path.replace("{project}", "WEB")
        .replace("{item}", "WEB-2")
        .replace("{sprint}", &b.sprint.id)
}

/// A plausible value for each documented query parameter.
fn sample_query(name: &str) -> &'static str {
    match name {
        "since" => "0",
        "limit" | "activity" | "description_chars" | "items" => "5",
        "include_archived" | "blocked" => "false",
        "type" => "task",
        "status" => "todo",
        "kind" => "rule",
        "project" => "WEB",
        "user" => "alice",
        "entity" => "work_item&entity_id=none",
        "entity_id" => "none&entity=work_item",
        "from" | "to" => "0",
        _ => "",
    }
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_covers_every_route() {
    let app = spawn().await;
    let b = board(&app).await;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);
    let doc = alice.json("/openapi.json").await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Every `$ref` resolves.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for r in &refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling {r}"
        );
    }

    // The router registers each route together with its operation (`routes!` in router.rs), so
    // the document is the list of routes; here each one is served, answers as documented and
    // accepts each documented query parameter (an undocumented one is refused with 400).
    let paths = doc["paths"].as_object().unwrap();
    let listed: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    let expected = BTreeSet::from([
        "/api/v1/projects",
        "/api/v1/projects/{project}",
        "/api/v1/projects/{project}/context",
        "/api/v1/projects/{project}/work-items",
        "/api/v1/projects/{project}/sprints",
        "/api/v1/work-items/{item}",
        "/api/v1/sprints/{sprint}",
        "/api/v1/activity",
        "/api/v1/changes",
        "/api/v1/llm/context",
        "/api/v1/openapi.json",
    ]);
    assert_eq!(listed, expected);
    let root = Http::new(&app, alice.token.clone());
    let mut operation_ids = BTreeSet::new();
    for (path, item) in paths {
        let operations = item.as_object().unwrap();
        assert_eq!(
            operations.keys().collect::<Vec<_>>(),
            ["get"],
            "{path}: read-only"
        );
        let op = &operations["get"];
        assert!(op["summary"].is_string(), "{path}: summary");
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(
            id.starts_with("get") || id.starts_with("list"),
            "{path}: operation id {id:?} is not descriptive"
        );
        assert!(
            operation_ids.insert(id),
            "{path}: operation id {id} is not unique"
        );
        let responses = op["responses"].as_object().unwrap();
        let documented: BTreeSet<&str> = responses.keys().map(String::as_str).collect();
        if path != "/api/v1/openapi.json" {
            for status in ["200", "400", "401", "429", "500", "503"] {
                assert!(documented.contains(status), "{path}: no {status}");
            }
            for (_, response) in responses.iter().filter(|(s, _)| s.as_str() != "200") {
                if let Some(content) = response.get("content") {
                    assert_eq!(
                        content["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{path}"
                    );
                }
            }
        }
        let url = sample_path(path.strip_prefix("/api/v1").unwrap(), &b);
        let query: Vec<String> = op["parameters"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| {
                let name = p["name"].as_str().unwrap();
                format!("{name}={}", sample_query(name))
            })
            .collect();
        for params in std::iter::once(String::new()).chain(query.iter().cloned()) {
            let url = if params.is_empty() && path.ends_with("/changes") {
                format!("{url}?since=0")
            } else if params.is_empty() {
                url.clone()
            } else if path.ends_with("/changes") && !params.starts_with("since=") {
                format!("{url}?since=0&{params}")
            } else {
                format!("{url}?{params}")
            };
            let answer = root.get(&url).await;
            assert!(
                documented.contains(answer.status.as_str()),
                "{url}: {} is not documented",
                answer.status
            );
            assert_eq!(answer.status, StatusCode::OK, "{url}: {}", answer.body);
            assert_matches_schema(&doc, path, "200", &url, &answer.body);
        }
        if path != "/api/v1/openapi.json" {
            let anonymous = Http::new(&app, None).get(&url).await;
            assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
            assert_matches_schema(&doc, path, "401", &url, &anonymous.body);
        }
    }
}

/// Checks a response body against the schema the OpenAPI document gives for `path`'s `status`
/// response (JSON Schema 2020-12, as OpenAPI 3.1 uses), with the document's components for `$ref`s.
fn assert_matches_schema(doc: &Value, path: &str, status: &str, url: &str, body: &Value) {
    let content = &doc["paths"][path]["get"]["responses"][status]["content"];
    let schema = &content["application/json"]["schema"];
    if schema.is_null() {
        // Documented without a schema (the OpenAPI document itself).
        assert!(
            content.is_null() || content["application/json"].is_object(),
            "{path} {status}"
        );
        return;
    }
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::new(&root).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} (at {})", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{url} {status}: {errors:#?}");
}

fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn pm_server_openapi_prints_the_document_the_server_serves() {
    let app = spawn().await;
    let served = Http::as_user(&app, "acme", "alice", TenantRole::Editor)
        .json("/openapi.json")
        .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pm-server"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, served);
}

/// Every word written `like_this` in backticks in `text`.
fn quoted_names(text: &str) -> Vec<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            w.starts_with(|c: char| c.is_ascii_lowercase())
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// Every property name, parameter name and enum value of the OpenAPI document.
fn api_vocabulary(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                out.extend(properties.keys().cloned());
            }
            if let (Some(Value::String(name)), Some(Value::String(_))) =
                (map.get("name"), map.get("in"))
            {
                out.insert(name.clone());
            }
            if let Some(Value::Array(values)) = map.get("enum") {
                out.extend(values.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            map.values().for_each(|v| api_vocabulary(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| api_vocabulary(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_agents_guide_speaks_the_apis_vocabulary_and_its_example_calls_answer() {
    let app = spawn_with(|c| c.demo = true).await;
    let http = Http::as_user(&app, "demo", "demo", TenantRole::Admin);
    let guide = http.json("/llm/context").await;
    let sections = guide["docs"].as_array().unwrap();
    let kinds: BTreeSet<&str> = sections
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["rule", "api", "example"]));

    // Names the API has: the JSON fields, parameters and values of the OpenAPI document, and
    // the MCP write tools and their shared arguments (the guide lists the tools from the router).
    let mut known = BTreeSet::new();
    api_vocabulary(&http.json("/openapi.json").await, &mut known);
    // `sub` is the token's claim naming the user; `request_id` and `clear` are MCP arguments.
    known.extend(["true", "false", "sub", "request_id", "clear"].map(str::to_owned));
    let writes = sections.iter().find(|d| d["topic"] == "writes").unwrap();
    for line in writes["body"].as_str().unwrap().lines() {
        if let Some(tool) = line.strip_prefix("- `").and_then(|l| l.split('`').next()) {
            known.insert(tool.to_owned());
        }
    }
    let mut unknown = Vec::new();
    for section in sections {
        let body = section["body"].as_str().unwrap();
        for name in quoted_names(body) {
            if !known.contains(name) {
                unknown.push(format!("{}: `{name}`", section["title"]));
            }
        }
        // The storage's names and SQL are not the API's.
        for internal in [
            "story_points",
            "item_number",
            "change_log",
            "idempotency_keys",
            "SELECT ",
        ] {
            assert!(
                !body.contains(internal),
                "{}: mentions {internal}",
                section["title"]
            );
        }
    }

    assert!(unknown.is_empty(), "not names of the API: {unknown:#?}");

    // Every endpoint is described, with its parameters.
    let endpoints = sections.iter().find(|d| d["topic"] == "endpoints").unwrap();
    let endpoints = endpoints["body"].as_str().unwrap();
    for line in [
        "### GET /api/v1/projects/{project}/context (ETag)",
        "- `blocked` (boolean)",
    ] {
        assert!(endpoints.contains(line), "{line} missing");
    }

    // Every example call answers, against the demo data the guide's examples use.
    let mut calls = 0;
    for section in sections.iter().filter(|d| d["kind"] == "example") {
        for line in section["body"].as_str().unwrap().lines() {
            if let Some(path) = line.strip_prefix("GET /api/v1") {
                let answer = http.get(path).await;
                assert_eq!(answer.status, StatusCode::OK, "{line}: {}", answer.body);
                calls += 1;
            }
        }
    }
    assert!(calls >= 5, "{calls} example calls");
}

const API_DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md");

#[tokio::test]
async fn docs_api_md_names_every_query_parameter_and_its_demo_numbers_are_current() {
    let app = spawn_with(|c| c.demo = true).await;
    let http = Http::as_user(&app, "demo", "demo", TenantRole::Admin);
    let page = std::fs::read_to_string(API_DOCS).unwrap();

    let document = http.json("/openapi.json").await;
    for (path, item) in document["paths"].as_object().unwrap() {
        for p in item["get"]["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            if p["in"] == "query" {
                assert!(
                    page.contains(&format!("`{name}")),
                    "docs/api.md does not name {path}'s parameter {name}"
                );
            }
        }
    }

    // "The demo project has N open items; this answer is K KB", of the context example above it.
    let claim = page
        .split("The demo project has ")
        .nth(1)
        .expect("the context example states its size");
    let (items, rest) = claim.split_once(" open items; this answer is ").unwrap();
    let kb = rest.split_once(" KB").unwrap().0;
    let context = http
        .get("/projects/SHOP/context?description_chars=60&activity=3")
        .await;
    assert_eq!(context.body["item_count"].to_string(), items);
    let bytes = serde_json::to_vec(&context.body).unwrap().len();
    assert_eq!(
        ((bytes + 500) / 1000).to_string(),
        kb,
        "the context is {bytes} bytes"
    );
    assert!(
        !page.contains("WEB-42"),
        "the walkthrough uses the demo's keys"
    );
}

/// Reads begun on the server's tenant databases so far, from `/metrics`.
async fn reads_begun(app: &TestApp) -> u64 {
    let text = reqwest::get(format!("http://{}/metrics", app.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("pm_database_reads_begun "))
        .expect("the metric is exported")
        .trim()
        .parse()
        .unwrap()
}

const CONDITIONAL_PATHS: [&str; 3] = [
    "/projects/WEB/context",
    "/projects/web",
    "/work-items/WEB-2",
];

/// Bob's current tag of each conditional path, checked once to answer 304.
async fn tags(bob: &Http) -> Vec<String> {
    let mut tags = Vec::new();
    for path in CONDITIONAL_PATHS {
        let first = bob.get(path).await;
        assert_eq!(first.status, StatusCode::OK, "{path}: {}", first.body);
        tags.push(first.etag());
    }
    tags
}

#[tokio::test]
async fn a_304_is_answered_without_reading_the_database() {
    let app = spawn().await;
    let mut b = board(&app).await;
    let bob = Http::as_user(&app, "acme", "bob", TenantRole::Editor);
    let tags = tags(&bob).await;

    let before = reads_begun(&app).await;
    for _ in 0..3 {
        for (path, tag) in CONDITIONAL_PATHS.iter().zip(&tags) {
            let answer = bob.get_if_none_match(path, tag).await;
            assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{path}");
            assert_eq!(&answer.etag(), tag);
        }
    }
    assert_eq!(reads_begun(&app).await, before, "no 304 read SQLite");

    // A context already rendered for bob's role is sent again from memory, the same JSON.
    let rendered = bob.get(CONDITIONAL_PATHS[0]).await;
    let again = bob.get(CONDITIONAL_PATHS[0]).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, rendered.body);
    assert_eq!(again.etag(), tags[0]);
    assert_eq!(again.headers["content-type"], "application/json");
    let before = reads_begun(&app).await;
    assert_eq!(bob.get(CONDITIONAL_PATHS[0]).await.body, rendered.body);
    assert_eq!(reads_begun(&app).await, before, "served from memory");

    // The counter does count: a tag that is no longer current goes to the database.
    b.alice
        .ok(pb::AddComment {
            work_item_id: b.epic.id.clone(),
            body: "moved on".to_owned(),
        })
        .await;
    let changed = bob.get_if_none_match(CONDITIONAL_PATHS[0], &tags[0]).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert!(reads_begun(&app).await > before);
}

#[tokio::test]
async fn a_removed_member_is_refused_not_answered_from_memory() {
    let app = spawn().await;
    let mut b = board(&app).await;
    let bob = Http::as_user(&app, "acme", "bob", TenantRole::Editor);
    let tags = tags(&bob).await;
    for (path, tag) in CONDITIONAL_PATHS.iter().zip(&tags) {
        assert_eq!(
            bob.get_if_none_match(path, tag).await.status,
            StatusCode::NOT_MODIFIED,
            "{path}"
        );
    }
    b.alice
        .ok(pb::RemoveMember {
            project_id: b.web.id.clone(),
            user_id: "bob".to_owned(),
        })
        .await;
    for (path, tag) in CONDITIONAL_PATHS.iter().zip(&tags) {
        let answer = bob.get_if_none_match(path, tag).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            answer.body
        );
        assert_eq!(answer.error_code(), "permission_denied", "{path}");
        let plain = bob.get(path).await;
        assert_eq!(
            plain.status,
            StatusCode::FORBIDDEN,
            "{path}: not from memory"
        );
    }
    // Alice, still a member, holds a validator of her own: it moved on with the removal.
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);
    let current = alice.get(CONDITIONAL_PATHS[0]).await.etag();
    assert_ne!(current, tags[0]);
}

#[tokio::test]
async fn a_restored_history_invalidates_the_tags_kept_in_memory() {
    // One open tenant at a time: touching another tenant closes this one, as idleness would.
    let app = spawn_with(|c| c.max_open_tenants = 1).await;
    let b = board(&app).await;
    let backup = tempfile::tempdir().unwrap();
    let mut config = pm_server::Config::for_data_dir(app.dir.path());
    config.jwt_secret = Some(SECRET.to_vec().into());
    pm_server::admin::backup(&config, backup.path(), pm_server::admin::WhenEmpty::Refuse)
        .await
        .unwrap();
    let Board { mut alice, web, .. } = b;
    create(&mut alice, &web, Type::Task, "After the backup", |_| {}).await;
    drop(alice);
    let bob = Http::as_user(&app, "acme", "bob", TenantRole::Editor);
    let tags = tags(&bob).await;
    for (path, tag) in CONDITIONAL_PATHS.iter().zip(&tags) {
        assert_eq!(
            bob.get_if_none_match(path, tag).await.status,
            StatusCode::NOT_MODIFIED
        );
    }

    // Close acme by opening another tenant until it is gone (alice's connection lets go of it
    // as it ends), then put the backup in its place: an older history, so a new epoch.
    let other = Http::as_user(&app, "other", "olga", TenantRole::Editor);
    let mut closed = false;
    for _ in 0..200 {
        other.json("/projects").await;
        let metrics = reqwest::get(format!("http://{}/metrics", app.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("pm_open_tenant_databases 1") {
            // The one open is "other" (it was just used).
            closed = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(closed, "acme was closed");
    let live = app.dir.path().join("tenants/acme");
    std::fs::copy(
        backup.path().join("tenants/acme/pm.sqlite3"),
        live.join("copy.tmp"),
    )
    .unwrap();
    std::fs::rename(live.join("copy.tmp"), live.join("pm.sqlite3")).unwrap();
    for stale in ["pm.sqlite3-wal", "pm.sqlite3-shm"] {
        let _ = std::fs::remove_file(live.join(stale));
    }

    for (path, tag) in CONDITIONAL_PATHS.iter().zip(&tags) {
        let answer = bob.get_if_none_match(path, tag).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: a new history");
        assert_ne!(&answer.etag(), tag);
    }
}

/// A project of `n` open items (and `done` finished ones), created over `/ws`.
async fn big_project(app: &TestApp, key: &str, n: usize, done: usize) -> pb::Project {
    let mut alice = app.editor("alice").await;
    let project = alice.create_project(key).await;
    for i in 0..n + done {
        create(
            &mut alice,
            &project,
            Type::Task,
            &format!("Item {i}"),
            |c| {
                c.description = "x".repeat(300);
                if i % 7 == 0 {
                    c.status = Some(Status::InProgress.into());
                }
                if i >= n {
                    c.status = Some(Status::Done.into());
                }
            },
        )
        .await;
    }
    project
}

#[tokio::test]
async fn the_context_of_a_big_project_is_bounded_and_paging_returns_every_item_once() {
    let app = spawn().await;
    let (open, done) = (620, 30);
    big_project(&app, "BIG", open, done).await;
    let alice = Http::as_user(&app, "acme", "alice", TenantRole::Editor);

    let context = alice.json("/projects/BIG/context").await;
    assert_eq!(context["item_count"], 200, "the default bound");
    assert_eq!(context["items"].as_array().unwrap().len(), 200);
    assert_eq!(context["recently_done"].as_array().unwrap().len(), 20);
    assert_eq!(context["total_items"], open + done);
    let in_progress = (0..open).filter(|i| i % 7 == 0).count();
    assert_eq!(
        context["status_counts"],
        serde_json::json!({
            "backlog": open - in_progress, "todo": 0, "in_progress": in_progress,
            "review": 0, "done": done
        })
    );
    let bytes = serde_json::to_vec(&context).unwrap().len();
    assert!(bytes < 256 * 1024, "{bytes} bytes");
    // The most recently finished first.
    let recent = keys(&context["recently_done"]);
    assert_eq!(recent[0], format!("BIG-{}", open + done));

    // The open work continues from the cursor, and everything pages from the list.
    let mut open_keys = keys(&context["items"]);
    let mut cursor = context["items_next_cursor"].as_str().unwrap().to_owned();
    loop {
        let page = alice
            .json(&format!(
                "/projects/BIG/work-items?status=backlog,todo,in_progress,review&limit=200&cursor={cursor}"
            ))
            .await;
        open_keys.extend(keys(&page["items"]));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=open).map(|n| format!("BIG-{n}")).collect();
    assert_eq!(
        open_keys, expected,
        "every open item exactly once, in order"
    );

    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = alice
            .json(&format!(
                "/projects/BIG/work-items?limit=200&cursor={cursor}"
            ))
            .await;
        all.extend(keys(&page["items"]));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=open + done).map(|n| format!("BIG-{n}")).collect();
    assert_eq!(all, expected, "the export: every item exactly once");

    let few = alice.json("/projects/BIG/context?items=5").await;
    assert_eq!(
        keys(&few["items"]),
        ["BIG-1", "BIG-2", "BIG-3", "BIG-4", "BIG-5"]
    );
    assert_eq!(few["items_next_cursor"], "5");
    let none = alice.json("/projects/BIG/context?items=0").await;
    assert_eq!(none["item_count"], 0);
    assert_eq!(none["items_next_cursor"], "0");
    alice
        .fails(
            "/projects/BIG/context?items=501",
            StatusCode::BAD_REQUEST,
            "validation",
        )
        .await;
}
