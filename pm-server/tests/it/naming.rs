//! How entities are named: by id or by key in any letter case, over `/ws` and `/api/v1`; and what
//! a new project key does to the keys every subscriber holds.

use pm_core::TenantRole;
use pm_proto::pb::{self, change::Change};
use reqwest::StatusCode;

use crate::helpers::*;

fn link(from: &pb::WorkItem, to: &pb::WorkItem) -> pb::AddDependency {
    pb::AddDependency {
        blocking_id: from.id.clone(),
        blocked_id: to.id.clone(),
        r#type: pb::DependencyType::Blocks.into(),
    }
}

/// The keys each upsert in `events` carries: items by id, links by id.
fn keys(events: &[pb::Event]) -> (Vec<String>, Vec<(String, String)>) {
    let mut items = Vec::new();
    let mut links = Vec::new();
    for e in events {
        match change(e) {
            Change::WorkItem(w) => items.push(w.key.clone()),
            Change::Dependency(d) => links.push((d.blocking_key.clone(), d.blocked_key.clone())),
            _ => {}
        }
    }
    items.sort();
    (items, links)
}

#[tokio::test]
async fn re_keying_a_project_publishes_every_re_keyed_item_and_link() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("OLD").await;
    let one = alice
        .create_item(&project, pb::WorkItemType::Task, "one")
        .await;
    let two = alice
        .create_item(&project, pb::WorkItemType::Task, "two")
        .await;
    assert_eq!((one.key.as_str(), two.key.as_str()), ("OLD-1", "OLD-2"));
    alice.ok(link(&one, &two)).await;
    let mut bob = app.editor("alice").await;
    bob.subscribe(&project.id).await;

    let reply_id = request_id();
    alice
        .send(
            &reply_id,
            pb::UpdateProject {
                project_id: project.id.clone(),
                version: project.version,
                key: Some("NEW".into()),
                ..Default::default()
            },
        )
        .await;
    let reply = alice.reply_to(&reply_id).await;
    let expected = (
        vec!["NEW-1".to_owned(), "NEW-2".to_owned()],
        vec![("NEW-1".to_owned(), "NEW-2".to_owned())],
    );
    assert!(matches!(change(&reply.events[0]), Change::Project(p) if p.key == "NEW"));
    assert_eq!(keys(&reply.events), expected, "the sender's events");
    let seen = bob.drain_events().await;
    assert_eq!(
        seen.iter().map(|e| e.seq).collect::<Vec<_>>(),
        reply.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        "the subscriber gets the same changes"
    );
    assert_eq!(keys(&seen), expected, "the subscriber's events");

    // A client that applied the events holds what a fresh snapshot shows.
    let snapshot = alice
        .ok(pb::GetSnapshot {
            project_id: "new".into(),
        })
        .await;
    let mut fresh: Vec<_> = snapshot.work_items.iter().map(|w| w.key.clone()).collect();
    fresh.sort();
    assert_eq!(fresh, expected.0);
    let links: Vec<_> = snapshot
        .dependencies
        .iter()
        .map(|d| (d.blocking_key.clone(), d.blocked_key.clone()))
        .collect();
    assert_eq!(links, expected.1);
}

#[tokio::test]
async fn commands_take_keys_in_any_letter_case_and_reply_with_canonical_ids() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("SHOP").await;
    let epic = alice
        .create_item(&project, pb::WorkItemType::Epic, "epic")
        .await;

    for name in ["SHOP", "shop", "Shop"] {
        let subscribed = alice.subscribe(name).await;
        assert_eq!(subscribed.project_id, project.id, "{name}");
    }
    let snapshot = alice
        .ok(pb::GetSnapshot {
            project_id: "shop".into(),
        })
        .await;
    assert_eq!(snapshot.project.unwrap().id, project.id);

    let story = alice
        .ok(pb::CreateWorkItem {
            project_id: "shop".into(),
            parent_id: Some("shop-1".into()),
            r#type: pb::WorkItemType::Story.into(),
            title: "story".into(),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(story.parent_id.as_deref(), Some(epic.id.as_str()));
    assert_eq!(story.key, "SHOP-2");

    let updated = alice
        .ok(pb::UpdateWorkItem {
            work_item_id: "Shop-2".into(),
            version: story.version,
            title: Some("renamed".into()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(
        (updated.id.as_str(), updated.title.as_str()),
        (story.id.as_str(), "renamed")
    );

    let comment = alice
        .ok(pb::AddComment {
            work_item_id: "shop-2".into(),
            body: "by key".into(),
        })
        .await;
    assert_eq!(comment.comment.unwrap().work_item_id, story.id);
    alice
        .ok(pb::AddDependency {
            blocking_id: "shop-1".into(),
            blocked_id: "SHOP-2".into(),
            r#type: pb::DependencyType::RelatesTo.into(),
        })
        .await;
    let members = alice
        .ok(pb::ListMembers {
            project_id: "shop".into(),
        })
        .await;
    assert_eq!(members.members.len(), 1);
    let unsubscribed = alice
        .ok(pb::Unsubscribe {
            project_id: "SHOP".into(),
        })
        .await;
    assert_eq!(unsubscribed.project_id, project.id);

    // A key that names nothing is not found, like an unknown id; a malformed one names its field.
    let missing = alice
        .err(pb::UpdateWorkItem {
            work_item_id: "shop-99".into(),
            version: 1,
            ..Default::default()
        })
        .await;
    assert_eq!(code(&missing), pb::ErrorCode::NotFound);
    let malformed = alice
        .err(pb::CreateWorkItem {
            project_id: "not a key".into(),
            title: "x".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&malformed), pb::ErrorCode::Validation);
    assert_eq!(malformed.field, "project_id");
}

#[tokio::test]
async fn the_rest_api_takes_keys_in_any_letter_case() {
    let app = TestApp::spawn().await;
    let token = app.token("acme", "alice", TenantRole::Editor);
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("SHOP").await;
    let item = alice
        .create_item(&project, pb::WorkItemType::Task, "t")
        .await;
    let http = reqwest::Client::new();
    for path in [
        "projects/shop",
        "projects/Shop/context",
        "projects/shop/work-items",
        "work-items/shop-1",
        "work-items/Shop-1",
        "activity?project=shop",
    ] {
        let answer = http
            .get(format!("http://{}/api/v1/{path}", app.addr))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        if path.starts_with("work-items/") {
            let item_json = &body["work_item"];
            assert_eq!(
                item_json["key"], "SHOP-1",
                "{path}: replies keep the canonical key"
            );
            assert_eq!(item_json["id"], item.id.as_str());
        }
    }
}

#[tokio::test]
async fn list_activity_reads_an_items_history_page_by_page() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("ACT").await;
    let mut item = alice
        .create_item(&project, pb::WorkItemType::Task, "v0")
        .await;
    for i in 1..=4 {
        item = alice
            .ok(pb::UpdateWorkItem {
                work_item_id: item.id.clone(),
                version: item.version,
                title: Some(format!("v{i}")),
                ..Default::default()
            })
            .await
            .work_item
            .unwrap();
    }
    let page = |cursor: String| pb::ListActivity {
        project_id: "act".into(),
        entity: Some(pb::EntityKind::WorkItem.into()),
        entity_id: Some("act-1".into()),
        limit: 3,
        cursor,
        ..Default::default()
    };
    let first = alice.ok(page(String::new())).await;
    let titles: Vec<_> = first
        .entries
        .iter()
        .map(|a| a.new_value.clone().unwrap_or_default())
        .collect();
    assert_eq!(titles, ["v4", "v3", "v2"], "newest first");
    assert!(first.entries.iter().all(|a| a.entity_id == item.id));
    assert!(!first.next_cursor.is_empty());
    let second = alice.ok(page(first.next_cursor.clone())).await;
    let actions: Vec<_> = second.entries.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["updated", "created"]);
    assert!(second.next_cursor.is_empty(), "the last page");

    let refused = alice
        .err(pb::ListActivity {
            project_id: "act".into(),
            entity: Some(pb::EntityKind::WorkItem.into()),
            ..Default::default()
        })
        .await;
    assert_eq!(refused.field, "entity_id");
    // Another user's project stays invisible.
    let mut mallory = app.client("acme", "mallory", TenantRole::Editor).await;
    let hidden = mallory
        .err(pb::ListActivity {
            project_id: "act".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&hidden), pb::ErrorCode::NotFound);
}
