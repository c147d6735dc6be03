//! Work items over the WebSocket: creating, changing, moving, deleting, reading and listing them,
//! and every rule that refuses a change without writing anything.

use pm_core::TenantRole;
use pm_proto::Request;
use pm_proto::pb::{self, ErrorCode, Priority, WorkItemStatus as Status, WorkItemType as Type};
use pm_proto::pb::{change::Change, error::Current};

use crate::helpers::*;

/// Alice administers project WEB; `root`, a tenant admin, watches it.
async fn board(app: &TestApp) -> (Client, pb::Project, Client) {
    let mut alice = app.editor("alice").await;
    let web = alice.create_project("WEB").await;
    let mut watcher = app.client("acme", "root", TenantRole::Admin).await;
    watcher.subscribe(&web.id).await;
    (alice, web, watcher)
}

fn new_item(project: &pb::Project, kind: Type, title: &str) -> pb::CreateWorkItem {
    pb::CreateWorkItem {
        project_id: project.id.clone(),
        r#type: kind.into(),
        title: title.to_owned(),
        ..Default::default()
    }
}

async fn create(client: &mut Client, request: pb::CreateWorkItem) -> pb::WorkItem {
    client.ok(request).await.work_item.unwrap()
}

async fn get(client: &mut Client, id_or_key: &str) -> pb::WorkItemDetail {
    client
        .ok(pb::GetWorkItem {
            work_item: id_or_key.to_owned(),
        })
        .await
}

async fn current(client: &mut Client, item: &pb::WorkItem) -> pb::WorkItem {
    get(client, &item.id).await.work_item.unwrap()
}

async fn create_sprint(client: &mut Client, project: &pb::Project, name: &str) -> pb::Sprint {
    client
        .ok(pb::CreateSprint {
            project_id: project.id.clone(),
            name: name.to_owned(),
            ..Default::default()
        })
        .await
        .sprint
        .unwrap()
}

/// One board column, top to bottom.
async fn column(client: &mut Client, project: &pb::Project, status: Status) -> Vec<pb::WorkItem> {
    let mut items = client
        .ok(pb::ListWorkItems {
            project_id: project.id.clone(),
            statuses: vec![status.into()],
            limit: 500,
            ..Default::default()
        })
        .await
        .work_items;
    items.sort_by(|a, b| a.position.as_bytes().cmp(b.position.as_bytes()));
    items
}

fn keys(items: &[pb::WorkItem]) -> Vec<&str> {
    items.iter().map(|i| i.key.as_str()).collect()
}

fn ids(items: &[pb::WorkItem]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

fn refusal(err: &pb::Error) -> (ErrorCode, &str) {
    (code(err), err.field.as_str())
}

/// Sends `request` as `actor`, expects it refused with `expected` (code and field), and checks
/// through `watcher`, a subscriber of `project`, that nothing was written: the project's snapshot,
/// which includes the tenant's head sequence number, is unchanged, and no event was published.
async fn assert_refused<R: Request>(
    actor: &mut Client,
    request: R,
    expected: (ErrorCode, &str),
    watcher: &mut Client,
    project: &pb::Project,
) -> pb::Error {
    let snapshot = pb::GetSnapshot {
        project_id: project.id.clone(),
    };
    let before = watcher.ok(snapshot.clone()).await;
    let err = actor.err(request).await;
    assert_eq!(refusal(&err), expected, "{}: {err:?}", R::NAME);
    assert_eq!(
        watcher.ok(snapshot).await,
        before,
        "{} was refused but wrote",
        R::NAME
    );
    watcher.assert_no_events().await;
    err
}

#[tokio::test]
async fn a_work_item_can_be_created_with_every_field_set() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    alice.add_member(&web, "bob", pb::ProjectRole::Editor).await;
    let epic = alice.create_item(&web, Type::Epic, "Checkout").await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    watcher.drain_events().await;

    let story = create(
        &mut alice,
        pb::CreateWorkItem {
            parent_id: Some(epic.id.clone()),
            description: "As a buyer I want to **pay by card**.".into(),
            status: Some(Status::Todo.into()),
            priority: Some(Priority::High.into()),
            story_points: Some(8),
            assignee: Some("bob".into()),
            sprint_id: Some(sprint.id.clone()),
            ..new_item(&web, Type::Story, "  Pay by card  ")
        },
    )
    .await;

    assert_eq!(story.project_id, web.id);
    assert_eq!((story.key.as_str(), story.number), ("WEB-2", 2));
    assert_eq!(story.r#type(), Type::Story);
    assert_eq!(story.parent_id.as_deref(), Some(epic.id.as_str()));
    assert_eq!(story.title, "Pay by card", "a title is trimmed");
    assert_eq!(story.description, "As a buyer I want to **pay by card**.");
    assert_eq!(story.status(), Status::Todo);
    assert_eq!(story.priority(), Priority::High);
    assert_eq!(story.story_points, Some(8));
    assert_eq!(story.assignee.as_deref(), Some("bob"));
    assert_eq!(story.sprint_id.as_deref(), Some(sprint.id.as_str()));
    assert!(!story.position.is_empty());
    assert_eq!(story.version, 1);
    assert_eq!(
        (story.created_by.as_str(), story.updated_by.as_str()),
        ("alice", "alice")
    );
    assert_eq!(story.created_at, story.updated_at);
    assert!(!story.blocked);
    assert_eq!(story.logged_ms, 0);

    assert_eq!(
        current(&mut alice, &story).await,
        story,
        "read back as created"
    );
    let event = watcher.next_event().await;
    assert_eq!(change(&event), &Change::WorkItem(story.clone()));
    assert_eq!(event.actor, "alice");
    watcher.assert_no_events().await;
}

#[tokio::test]
async fn a_work_item_created_with_only_the_required_fields_gets_the_defaults() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    let task = alice.create_item(&web, Type::Task, "Write the docs").await;
    assert_eq!(task.key, "WEB-1");
    assert_eq!(task.status(), Status::Backlog);
    assert_eq!(task.priority(), Priority::Medium);
    assert_eq!(
        (
            task.parent_id,
            task.story_points,
            task.assignee,
            task.sprint_id
        ),
        (None, None, None, None)
    );
    assert_eq!(task.description, "");
    let second = alice.create_item(&web, Type::Task, "Second").await;
    assert_eq!(second.key, "WEB-2");
    assert!(
        second.position > task.position,
        "new cards go to the bottom"
    );
    let longest = "é".repeat(200);
    assert_eq!(
        alice.create_item(&web, Type::Task, &longest).await.title,
        longest,
        "200 characters are allowed"
    );
}

#[tokio::test]
async fn an_update_changes_exactly_the_fields_it_names() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    alice.add_member(&web, "bob", pb::ProjectRole::Editor).await;
    let item = create(
        &mut alice,
        pb::CreateWorkItem {
            description: "Old".into(),
            story_points: Some(3),
            assignee: Some("bob".into()),
            ..new_item(&web, Type::Task, "Old title")
        },
    )
    .await;
    watcher.drain_events().await;

    let updated = alice
        .ok(pb::UpdateWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
            title: Some("New title".into()),
            priority: Some(Priority::Low.into()),
            description: Some(String::new()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    let expected = pb::WorkItem {
        title: "New title".into(),
        priority: Priority::Low.into(),
        description: String::new(),
        version: 2,
        updated_at: updated.updated_at,
        ..item.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(current(&mut alice, &item).await, expected);
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::WorkItem(expected.clone())
    );

    // Changing the status alone puts the card at the bottom of its new column.
    let first_in_todo = create(
        &mut alice,
        pb::CreateWorkItem {
            status: Some(Status::Todo.into()),
            ..new_item(&web, Type::Task, "Already in todo")
        },
    )
    .await;
    let moved = alice
        .ok(pb::UpdateWorkItem {
            work_item_id: item.id.clone(),
            version: 2,
            status: Some(Status::Todo.into()),
            r#type: Some(Type::Story.into()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(
        (moved.status(), moved.r#type()),
        (Status::Todo, Type::Story)
    );
    assert_eq!(
        keys(&column(&mut alice, &web, Status::Todo).await),
        [first_in_todo.key.as_str(), "WEB-1"]
    );
}

#[tokio::test]
async fn an_update_clears_parent_assignee_sprint_and_story_points() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let epic = alice.create_item(&web, Type::Epic, "Epic").await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let story = create(
        &mut alice,
        pb::CreateWorkItem {
            parent_id: Some(epic.id.clone()),
            story_points: Some(5),
            assignee: Some("alice".into()),
            sprint_id: Some(sprint.id.clone()),
            ..new_item(&web, Type::Story, "Story")
        },
    )
    .await;
    watcher.drain_events().await;

    let cleared = alice
        .ok(pb::UpdateWorkItem {
            work_item_id: story.id.clone(),
            version: story.version,
            parent_id: Some(pb::StringPatch::clear()),
            assignee: Some(pb::StringPatch::clear()),
            sprint_id: Some(pb::StringPatch::clear()),
            story_points: Some(pb::PointsPatch::clear()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    let expected = pb::WorkItem {
        parent_id: None,
        assignee: None,
        sprint_id: None,
        story_points: None,
        version: 2,
        updated_at: cleared.updated_at,
        ..story.clone()
    };
    assert_eq!(cleared, expected);
    assert_eq!(current(&mut alice, &story).await, expected);
    assert!(get(&mut alice, &epic.id).await.children.is_empty());
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::WorkItem(expected)
    );

    // An absent patch leaves a field alone; an empty one on an empty field changes nothing.
    let untouched = alice
        .ok(pb::UpdateWorkItem {
            work_item_id: story.id.clone(),
            version: 2,
            assignee: Some(pb::StringPatch::clear()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(untouched.version, 2, "a change to nothing is not a write");
    watcher.assert_no_events().await;
}

#[tokio::test]
async fn each_field_updated_alone_is_stored_and_reaches_another_subscriber() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    alice.add_member(&web, "bob", pb::ProjectRole::Editor).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let mut bob = app.editor("bob").await;
    bob.subscribe(&web.id).await;
    let mut item = alice.create_item(&web, Type::Task, "Original").await;
    bob.drain_events().await;

    let updates: Vec<(&str, pb::UpdateWorkItem)> = vec![
        (
            "priority",
            pb::UpdateWorkItem {
                priority: Some(Priority::Critical.into()),
                ..Default::default()
            },
        ),
        (
            "story points",
            pb::UpdateWorkItem {
                story_points: Some(pb::PointsPatch::set(13)),
                ..Default::default()
            },
        ),
        (
            "sprint",
            pb::UpdateWorkItem {
                sprint_id: Some(pb::StringPatch::set(&sprint.id)),
                ..Default::default()
            },
        ),
        (
            "assignee",
            pb::UpdateWorkItem {
                assignee: Some(pb::StringPatch::set("bob")),
                ..Default::default()
            },
        ),
        (
            "title",
            pb::UpdateWorkItem {
                title: Some("Renamed".into()),
                ..Default::default()
            },
        ),
    ];
    for (what, update) in updates {
        let before = item.clone();
        let reply = alice
            .ok(pb::UpdateWorkItem {
                work_item_id: item.id.clone(),
                version: item.version,
                ..update
            })
            .await
            .work_item
            .unwrap();
        assert_eq!(reply.version, before.version + 1, "{what}");
        assert_eq!(current(&mut alice, &item).await, reply, "{what} is stored");
        let event = bob.next_event().await;
        assert_eq!(
            change(&event),
            &Change::WorkItem(reply.clone()),
            "{what} is broadcast"
        );
        bob.assert_no_events().await;
        item = reply;
        // Only the named field changed.
        let mut expected = before;
        match what {
            "priority" => expected.priority = Priority::Critical.into(),
            "story points" => expected.story_points = Some(13),
            "sprint" => expected.sprint_id = Some(sprint.id.clone()),
            "assignee" => expected.assignee = Some("bob".into()),
            "title" => expected.title = "Renamed".into(),
            other => unreachable!("{other}"),
        }
        expected.version = item.version;
        expected.updated_at = item.updated_at;
        assert_eq!(item, expected, "{what} changed alone");
    }
}

#[tokio::test]
async fn a_move_changes_column_position_and_sprint_in_one_command() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let mut todo = Vec::new();
    for title in ["A", "B", "C"] {
        todo.push(
            create(
                &mut alice,
                pb::CreateWorkItem {
                    status: Some(Status::Todo.into()),
                    ..new_item(&web, Type::Task, title)
                },
            )
            .await,
        );
    }
    let card = alice.create_item(&web, Type::Task, "Moving card").await;
    watcher.drain_events().await;

    let moved = alice
        .ok(pb::MoveWorkItem {
            work_item_id: card.id.clone(),
            version: 1,
            status: Some(Status::Todo.into()),
            after_id: Some(todo[0].id.clone()),
            before_id: Some(todo[1].id.clone()),
            sprint_id: Some(pb::StringPatch::set(&sprint.id)),
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(moved.status(), Status::Todo);
    assert_eq!(moved.sprint_id.as_deref(), Some(sprint.id.as_str()));
    assert_eq!(moved.version, 2);
    assert_eq!(current(&mut alice, &card).await, moved);
    assert_eq!(
        keys(&column(&mut alice, &web, Status::Todo).await),
        ["WEB-1", "WEB-4", "WEB-2", "WEB-3"]
    );
    assert!(column(&mut alice, &web, Status::Backlog).await.is_empty());
    let events = watcher.drain_events().await;
    assert_eq!(events.len(), 1, "a move writes only the moved item");
    assert_eq!(change(&events[0]), &Change::WorkItem(moved.clone()));

    // Only a neighbour: directly below A, directly above C, to the top.
    let below_c = alice
        .ok(pb::MoveWorkItem {
            work_item_id: card.id.clone(),
            version: 2,
            after_id: Some(todo[2].id.clone()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(
        keys(&column(&mut alice, &web, Status::Todo).await),
        ["WEB-1", "WEB-2", "WEB-3", "WEB-4"]
    );
    let top = alice
        .ok(pb::MoveWorkItem {
            work_item_id: card.id.clone(),
            version: below_c.version,
            before_id: Some(todo[0].id.clone()),
            sprint_id: Some(pb::StringPatch::clear()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(top.sprint_id, None);
    assert_eq!(
        keys(&column(&mut alice, &web, Status::Todo).await),
        ["WEB-4", "WEB-1", "WEB-2", "WEB-3"]
    );
    // A status alone puts the card at the bottom of the new column.
    let done = alice
        .ok(pb::MoveWorkItem {
            work_item_id: card.id.clone(),
            version: top.version,
            status: Some(Status::Done.into()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(done.status(), Status::Done);
    assert_eq!(
        keys(&column(&mut alice, &web, Status::Todo).await),
        ["WEB-1", "WEB-2", "WEB-3"]
    );
}

#[tokio::test]
async fn a_card_moved_between_two_cards_of_another_column_lands_between_them() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    // Columns order their cards independently, so a card's position in one column can coincide
    // with the key computed for its new place in another; the move must still land there.
    let backlog_top = alice.create_item(&web, Type::Task, "Backlog top").await;
    let backlog_bottom = alice.create_item(&web, Type::Task, "Backlog bottom").await;
    let card = alice.create_item(&web, Type::Task, "Card").await;
    let card = alice
        .ok(pb::MoveWorkItem {
            work_item_id: card.id.clone(),
            version: 1,
            after_id: Some(backlog_top.id.clone()),
            before_id: Some(backlog_bottom.id.clone()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    let mut todo = Vec::new();
    for title in ["Todo top", "Todo bottom"] {
        todo.push(
            create(
                &mut alice,
                pb::CreateWorkItem {
                    status: Some(Status::Todo.into()),
                    ..new_item(&web, Type::Task, title)
                },
            )
            .await,
        );
    }

    alice
        .ok(pb::MoveWorkItem {
            work_item_id: card.id.clone(),
            version: card.version,
            status: Some(Status::Todo.into()),
            after_id: Some(todo[0].id.clone()),
            before_id: Some(todo[1].id.clone()),
            ..Default::default()
        })
        .await;
    assert_eq!(
        ids(&column(&mut alice, &web, Status::Todo).await),
        [todo[0].id.as_str(), card.id.as_str(), todo[1].id.as_str()]
    );
}

#[tokio::test]
async fn a_card_moved_to_the_bottom_of_another_column_never_shares_a_position() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    // The first card of every column gets the same key.
    let card = alice
        .create_item(&web, Type::Task, "Only backlog card")
        .await;
    let todo = create(
        &mut alice,
        pb::CreateWorkItem {
            status: Some(Status::Todo.into()),
            ..new_item(&web, Type::Task, "Only todo card")
        },
    )
    .await;
    assert_eq!(card.position, todo.position);

    let moved = alice
        .ok(pb::MoveWorkItem {
            work_item_id: card.id.clone(),
            version: 1,
            status: Some(Status::Todo.into()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    assert!(moved.position > todo.position, "{moved:?}");
    assert_eq!(
        ids(&column(&mut alice, &web, Status::Todo).await),
        [todo.id.as_str(), card.id.as_str()]
    );
}

#[tokio::test]
async fn neighbours_must_be_other_cards_of_the_target_column_in_order() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let a = alice.create_item(&web, Type::Task, "A").await;
    let b = alice.create_item(&web, Type::Task, "B").await;
    let c = alice.create_item(&web, Type::Task, "C").await;
    let elsewhere = create(
        &mut alice,
        pb::CreateWorkItem {
            status: Some(Status::Review.into()),
            ..new_item(&web, Type::Task, "In review")
        },
    )
    .await;
    watcher.drain_events().await;
    let mv = |after: Option<&pb::WorkItem>, before: Option<&pb::WorkItem>| pb::MoveWorkItem {
        work_item_id: b.id.clone(),
        version: 1,
        after_id: after.map(|i| i.id.clone()),
        before_id: before.map(|i| i.id.clone()),
        ..Default::default()
    };
    let cases = [
        (mv(Some(&b), None), "after_id"),
        (mv(None, Some(&b)), "before_id"),
        (mv(Some(&elsewhere), None), "after_id"),
        (mv(None, Some(&elsewhere)), "before_id"),
        (mv(Some(&c), Some(&a)), "before_id"),
    ];
    for (request, field) in cases {
        assert_refused(
            &mut alice,
            request,
            (ErrorCode::Validation, field),
            &mut watcher,
            &web,
        )
        .await;
    }
    assert_refused(
        &mut alice,
        pb::MoveWorkItem {
            after_id: Some("nope".into()),
            ..mv(None, None)
        },
        (ErrorCode::Validation, "after_id"),
        &mut watcher,
        &web,
    )
    .await;
}

/// A small deterministic generator (SplitMix64), so a failing sequence of moves can be replayed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }
}

#[tokio::test]
async fn fifty_random_moves_among_eight_cards_keep_one_consistent_order() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    let mut model: Vec<pb::WorkItem> = Vec::new();
    for n in 0..8 {
        model.push(
            create(
                &mut alice,
                pb::CreateWorkItem {
                    status: Some(Status::InProgress.into()),
                    ..new_item(&web, Type::Task, &format!("Card {n}"))
                },
            )
            .await,
        );
    }
    let mut rng = SplitMix(0x5eed_c0ff_ee00);
    for step in 0..50 {
        let card = model.remove(rng.below(model.len()));
        let slot = rng.below(model.len() + 1);
        let above = slot.checked_sub(1).map(|i| model[i].id.clone());
        let below = model.get(slot).map(|i| i.id.clone());
        // Name both neighbours, or just one (the server finds the other), or none for the bottom.
        let (after_id, before_id) = match (rng.below(4), &above, &below) {
            (1, Some(_), _) => (above, None),
            (2, _, Some(_)) => (None, below),
            (3, _, None) => (None, None),
            _ => (above, below),
        };
        let request = pb::MoveWorkItem {
            work_item_id: card.id.clone(),
            version: card.version,
            after_id,
            before_id,
            ..Default::default()
        };
        let described = format!("step {step}: {request:?}");
        let moved = alice.ok(request).await.work_item.unwrap();
        model.insert(slot, moved);

        let stored = column(&mut alice, &web, Status::InProgress).await;
        assert_eq!(ids(&stored), ids(&model), "{described}");
        assert!(
            stored.windows(2).all(|w| w[0].position < w[1].position),
            "positions are distinct: {described}"
        );
    }
}

#[tokio::test]
async fn an_item_with_live_children_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let epic = alice.create_item(&web, Type::Epic, "Epic").await;
    let story = create(
        &mut alice,
        pb::CreateWorkItem {
            parent_id: Some(epic.id.clone()),
            ..new_item(&web, Type::Story, "Story")
        },
    )
    .await;
    watcher.drain_events().await;

    assert_refused(
        &mut alice,
        pb::DeleteWorkItem {
            work_item_id: epic.id.clone(),
            version: 1,
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;

    let deleted = alice
        .ok(pb::DeleteWorkItem {
            work_item_id: story.id.clone(),
            version: 1,
        })
        .await;
    assert_eq!(deleted.id, story.id);
    let event = watcher.next_event().await;
    assert_eq!(
        change(&event),
        &Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::WorkItem.into(),
            id: story.id.clone(),
        })
    );
    let err = alice
        .err(pb::GetWorkItem {
            work_item: "WEB-2".into(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);

    alice
        .ok(pb::DeleteWorkItem {
            work_item_id: epic.id.clone(),
            version: 1,
        })
        .await;
    let snapshot = alice
        .ok(pb::GetSnapshot {
            project_id: web.id.clone(),
        })
        .await;
    assert!(snapshot.work_items.is_empty());
    // Numbers are never reused.
    assert_eq!(
        alice.create_item(&web, Type::Task, "Next").await.key,
        "WEB-3"
    );
}

#[tokio::test]
async fn an_item_is_found_by_id_or_key_with_its_ancestors_and_children() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    let epic = alice.create_item(&web, Type::Epic, "Epic").await;
    let story = create(
        &mut alice,
        pb::CreateWorkItem {
            parent_id: Some(epic.id.clone()),
            ..new_item(&web, Type::Story, "Story")
        },
    )
    .await;
    let mut tasks = Vec::new();
    for title in ["First task", "Second task"] {
        tasks.push(
            create(
                &mut alice,
                pb::CreateWorkItem {
                    parent_id: Some(story.id.clone()),
                    ..new_item(&web, Type::Task, title)
                },
            )
            .await,
        );
    }

    let by_key = get(&mut alice, "WEB-2").await;
    assert_eq!(by_key, get(&mut alice, &story.id).await);
    assert_eq!(by_key.work_item.as_ref(), Some(&story));
    assert_eq!(by_key.children, tasks);
    assert_eq!(
        by_key.ancestors,
        [pb::ItemRef {
            id: epic.id.clone(),
            key: "WEB-1".into(),
            title: "Epic".into(),
            r#type: Type::Epic.into(),
            status: Status::Backlog.into(),
        }]
    );

    let task = get(&mut alice, "WEB-4").await;
    assert_eq!(
        get(&mut alice, "web-4").await,
        task,
        "keys in any letter case"
    );
    let chain: Vec<&str> = task.ancestors.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(chain, ["WEB-2", "WEB-1"], "nearest first");
    assert!(task.children.is_empty());

    for (lookup, expected) in [
        ("WEB-99", (ErrorCode::NotFound, "")),
        ("NOPE-1", (ErrorCode::NotFound, "")),
        ("web-x", (ErrorCode::Validation, "work_item")),
        ("WEB-01", (ErrorCode::Validation, "work_item")),
    ] {
        let err = alice
            .err(pb::GetWorkItem {
                work_item: lookup.into(),
            })
            .await;
        assert_eq!(refusal(&err), expected, "{lookup}");
    }
}

#[tokio::test]
async fn a_list_filters_by_type_status_sprint_assignee_parent_and_text() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    alice.add_member(&web, "bob", pb::ProjectRole::Editor).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let epic = alice.create_item(&web, Type::Epic, "Checkout").await; // WEB-1
    let story = create(
        &mut alice,
        pb::CreateWorkItem {
            parent_id: Some(epic.id.clone()),
            status: Some(Status::Todo.into()),
            sprint_id: Some(sprint.id.clone()),
            assignee: Some("bob".into()),
            ..new_item(&web, Type::Story, "Pay by card")
        },
    )
    .await; // WEB-2
    create(
        &mut alice,
        pb::CreateWorkItem {
            parent_id: Some(story.id.clone()),
            status: Some(Status::InProgress.into()),
            sprint_id: Some(sprint.id.clone()),
            assignee: Some("alice".into()),
            description: "Uses the Stripe elements, 100% of the time".into(),
            ..new_item(&web, Type::Task, "Build the card form")
        },
    )
    .await; // WEB-3
    create(
        &mut alice,
        pb::CreateWorkItem {
            status: Some(Status::Done.into()),
            ..new_item(&web, Type::Task, "Fix login")
        },
    )
    .await; // WEB-4
    create(
        &mut alice,
        pb::CreateWorkItem {
            assignee: Some("bob".into()),
            ..new_item(&web, Type::Story, "Search")
        },
    )
    .await; // WEB-5

    let all = pb::ListWorkItems {
        project_id: web.id.clone(),
        ..Default::default()
    };
    let cases: Vec<(&str, pb::ListWorkItems, Vec<&str>)> = vec![
        (
            "everything",
            all.clone(),
            vec!["WEB-1", "WEB-2", "WEB-3", "WEB-4", "WEB-5"],
        ),
        (
            "tasks",
            pb::ListWorkItems {
                types: vec![Type::Task.into()],
                ..all.clone()
            },
            vec!["WEB-3", "WEB-4"],
        ),
        (
            "epics and stories",
            pb::ListWorkItems {
                types: vec![Type::Epic.into(), Type::Story.into()],
                ..all.clone()
            },
            vec!["WEB-1", "WEB-2", "WEB-5"],
        ),
        (
            "todo or in progress",
            pb::ListWorkItems {
                statuses: vec![Status::Todo.into(), Status::InProgress.into()],
                ..all.clone()
            },
            vec!["WEB-2", "WEB-3"],
        ),
        (
            "in the sprint",
            pb::ListWorkItems {
                sprint_id: Some(sprint.id.clone()),
                ..all.clone()
            },
            vec!["WEB-2", "WEB-3"],
        ),
        (
            "in no sprint",
            pb::ListWorkItems {
                sprint_id: Some(String::new()),
                ..all.clone()
            },
            vec!["WEB-1", "WEB-4", "WEB-5"],
        ),
        (
            "assigned to bob",
            pb::ListWorkItems {
                assignee: Some("bob".into()),
                ..all.clone()
            },
            vec!["WEB-2", "WEB-5"],
        ),
        (
            "unassigned",
            pb::ListWorkItems {
                assignee: Some(String::new()),
                ..all.clone()
            },
            vec!["WEB-1", "WEB-4"],
        ),
        (
            "children of the epic",
            pb::ListWorkItems {
                parent_id: Some(epic.id.clone()),
                ..all.clone()
            },
            vec!["WEB-2"],
        ),
        (
            "top level",
            pb::ListWorkItems {
                parent_id: Some(String::new()),
                ..all.clone()
            },
            vec!["WEB-1", "WEB-4", "WEB-5"],
        ),
        (
            "text in a description, any case",
            pb::ListWorkItems {
                text: Some("STRIPE".into()),
                ..all.clone()
            },
            vec!["WEB-3"],
        ),
        (
            "text in titles",
            pb::ListWorkItems {
                text: Some("card".into()),
                ..all.clone()
            },
            vec!["WEB-2", "WEB-3"],
        ),
        (
            "a wildcard character is matched literally",
            pb::ListWorkItems {
                text: Some("%".into()),
                ..all.clone()
            },
            vec!["WEB-3"],
        ),
        (
            "filters combine",
            pb::ListWorkItems {
                types: vec![Type::Story.into()],
                assignee: Some("bob".into()),
                sprint_id: Some(String::new()),
                ..all.clone()
            },
            vec!["WEB-5"],
        ),
    ];
    for (what, request, expected) in cases {
        let list = alice.ok(request).await;
        assert_eq!(keys(&list.work_items), expected, "{what}");
        assert_eq!(list.next_cursor, "", "{what}");
    }
}

#[tokio::test]
async fn paging_with_a_cursor_returns_every_item_exactly_once() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    let mut expected = Vec::new();
    for n in 1..=23 {
        let status = if n % 2 == 0 {
            Status::Todo
        } else {
            Status::Done
        };
        let item = create(
            &mut alice,
            pb::CreateWorkItem {
                status: Some(status.into()),
                ..new_item(&web, Type::Task, &format!("Item {n}"))
            },
        )
        .await;
        expected.push(item.id);
    }

    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = alice
            .ok(pb::ListWorkItems {
                project_id: web.id.clone(),
                limit: 5,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await;
        pages += 1;
        assert!(page.work_items.len() <= 5);
        seen.extend(page.work_items.into_iter().map(|i| i.id));
        if pages == 2 {
            // An item created while paging shows up on a later page.
            expected.push(alice.create_item(&web, Type::Task, "Late").await.id);
        }
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(seen, expected, "every item once, in order");
    assert_eq!(pages, 5);

    // With a filter, and a page size that divides the result exactly.
    let mut todo = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = alice
            .ok(pb::ListWorkItems {
                project_id: web.id.clone(),
                statuses: vec![Status::Todo.into()],
                limit: 11,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await;
        todo.extend(page.work_items.into_iter().map(|i| i.number));
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(todo, (1..=11).map(|n| n * 2).collect::<Vec<i64>>());
}

#[tokio::test]
async fn the_hierarchy_rules_refuse_a_parent_without_writing() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let ops = alice.create_project("OPS").await;
    let foreign_epic = alice.create_item(&ops, Type::Epic, "Elsewhere").await;
    let epic = alice.create_item(&web, Type::Epic, "Epic").await;
    let story = create(
        &mut alice,
        pb::CreateWorkItem {
            parent_id: Some(epic.id.clone()),
            ..new_item(&web, Type::Story, "Story")
        },
    )
    .await;
    let task = create(
        &mut alice,
        pb::CreateWorkItem {
            parent_id: Some(story.id.clone()),
            ..new_item(&web, Type::Task, "Task")
        },
    )
    .await;
    let other_story = alice.create_item(&web, Type::Story, "Other story").await;
    watcher.drain_events().await;

    let under = |kind: Type, parent: &pb::WorkItem| pb::CreateWorkItem {
        parent_id: Some(parent.id.clone()),
        ..new_item(&web, kind, "Child")
    };
    let creates = [
        ("an epic with a parent", under(Type::Epic, &epic)),
        ("a task under an epic", under(Type::Task, &epic)),
        ("a story under a story", under(Type::Story, &story)),
        ("a task under a task", under(Type::Task, &task)),
        (
            "a parent in another project",
            under(Type::Story, &foreign_epic),
        ),
        (
            "a parent that does not exist",
            pb::CreateWorkItem {
                parent_id: Some(uuid::Uuid::now_v7().to_string()),
                ..under(Type::Story, &epic)
            },
        ),
    ];
    for (what, request) in creates {
        let err = assert_refused(
            &mut alice,
            request,
            (ErrorCode::Validation, "parent_id"),
            &mut watcher,
            &web,
        )
        .await;
        assert!(!err.message.is_empty(), "{what}");
    }

    let update = |item: &pb::WorkItem| pb::UpdateWorkItem {
        work_item_id: item.id.clone(),
        version: item.version,
        ..Default::default()
    };
    let updates = [
        (
            "re-parenting an epic under its own story (a cycle)",
            pb::UpdateWorkItem {
                r#type: Some(Type::Task.into()),
                parent_id: Some(pb::StringPatch::set(&story.id)),
                ..update(&epic)
            },
        ),
        (
            "an item as its own parent",
            pb::UpdateWorkItem {
                parent_id: Some(pb::StringPatch::set(&other_story.id)),
                ..update(&other_story)
            },
        ),
        (
            "a task under an epic",
            pb::UpdateWorkItem {
                parent_id: Some(pb::StringPatch::set(&epic.id)),
                ..update(&task)
            },
        ),
        (
            "a story under another story",
            pb::UpdateWorkItem {
                parent_id: Some(pb::StringPatch::set(&story.id)),
                ..update(&other_story)
            },
        ),
        (
            "a story that becomes a task under its epic",
            pb::UpdateWorkItem {
                r#type: Some(Type::Task.into()),
                ..update(&story)
            },
        ),
        (
            "an epic that becomes a story above a story",
            pb::UpdateWorkItem {
                r#type: Some(Type::Story.into()),
                ..update(&epic)
            },
        ),
        (
            "a parent in another project",
            pb::UpdateWorkItem {
                parent_id: Some(pb::StringPatch::set(&foreign_epic.id)),
                ..update(&other_story)
            },
        ),
    ];
    for (what, request) in updates {
        let err = assert_refused(
            &mut alice,
            request,
            (ErrorCode::Validation, "parent_id"),
            &mut watcher,
            &web,
        )
        .await;
        assert!(!err.message.is_empty(), "{what}");
    }
}

#[tokio::test]
async fn a_sprint_of_another_project_is_refused() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let ops = alice.create_project("OPS").await;
    let foreign = create_sprint(&mut alice, &ops, "OPS sprint").await;
    let item = alice.create_item(&web, Type::Task, "Task").await;
    watcher.drain_events().await;

    assert_refused(
        &mut alice,
        pb::CreateWorkItem {
            sprint_id: Some(foreign.id.clone()),
            ..new_item(&web, Type::Task, "Planned elsewhere")
        },
        (ErrorCode::Validation, "sprint_id"),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut alice,
        pb::UpdateWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
            sprint_id: Some(pb::StringPatch::set(&foreign.id)),
            ..Default::default()
        },
        (ErrorCode::Validation, "sprint_id"),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut alice,
        pb::MoveWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
            status: Some(Status::Todo.into()),
            sprint_id: Some(pb::StringPatch::set(&foreign.id)),
            ..Default::default()
        },
        (ErrorCode::Validation, "sprint_id"),
        &mut watcher,
        &web,
    )
    .await;
}

#[tokio::test]
async fn invalid_input_is_refused_with_the_field_named_and_nothing_written() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let item = alice.create_item(&web, Type::Task, "Task").await;
    watcher.drain_events().await;
    let task = || new_item(&web, Type::Task, "Fine");
    let creates = [
        (
            pb::CreateWorkItem {
                title: String::new(),
                ..task()
            },
            "title",
        ),
        (
            pb::CreateWorkItem {
                title: "   ".into(),
                ..task()
            },
            "title",
        ),
        (
            pb::CreateWorkItem {
                title: "x".repeat(201),
                ..task()
            },
            "title",
        ),
        (
            pb::CreateWorkItem {
                title: "two\nlines".into(),
                ..task()
            },
            "title",
        ),
        (
            pb::CreateWorkItem {
                description: "x".repeat(50_001),
                ..task()
            },
            "description",
        ),
        (
            pb::CreateWorkItem {
                story_points: Some(101),
                ..task()
            },
            "story_points",
        ),
        (
            pb::CreateWorkItem {
                r#type: Type::Unspecified.into(),
                ..task()
            },
            "type",
        ),
        (
            pb::CreateWorkItem {
                r#type: 99,
                ..task()
            },
            "type",
        ),
        (
            pb::CreateWorkItem {
                status: Some(Status::Unspecified.into()),
                ..task()
            },
            "status",
        ),
        (
            pb::CreateWorkItem {
                priority: Some(Priority::Unspecified.into()),
                ..task()
            },
            "priority",
        ),
        (
            pb::CreateWorkItem {
                project_id: "not-a-uuid".into(),
                ..task()
            },
            "project_id",
        ),
        (
            pb::CreateWorkItem {
                parent_id: Some("not-a-uuid".into()),
                ..task()
            },
            "parent_id",
        ),
        (
            pb::CreateWorkItem {
                sprint_id: Some("not-a-uuid".into()),
                ..task()
            },
            "sprint_id",
        ),
        (
            pb::CreateWorkItem {
                assignee: Some(String::new()),
                ..task()
            },
            "assignee",
        ),
        (
            pb::CreateWorkItem {
                assignee: Some("zed".into()),
                ..task()
            },
            "assignee",
        ),
    ];
    for (request, field) in creates {
        assert_refused(
            &mut alice,
            request,
            (ErrorCode::Validation, field),
            &mut watcher,
            &web,
        )
        .await;
    }

    let update = || pb::UpdateWorkItem {
        work_item_id: item.id.clone(),
        version: 1,
        ..Default::default()
    };
    let updates = [
        (
            pb::UpdateWorkItem {
                work_item_id: "not-a-uuid".into(),
                title: Some("Fine".into()),
                ..update()
            },
            "work_item_id",
        ),
        (
            pb::UpdateWorkItem {
                title: Some(String::new()),
                ..update()
            },
            "title",
        ),
        (
            pb::UpdateWorkItem {
                title: Some("y".repeat(201)),
                ..update()
            },
            "title",
        ),
        (
            pb::UpdateWorkItem {
                story_points: Some(pb::PointsPatch::set(101)),
                ..update()
            },
            "story_points",
        ),
        (
            pb::UpdateWorkItem {
                r#type: Some(0),
                ..update()
            },
            "type",
        ),
        (
            pb::UpdateWorkItem {
                status: Some(0),
                ..update()
            },
            "status",
        ),
        (
            pb::UpdateWorkItem {
                priority: Some(42),
                ..update()
            },
            "priority",
        ),
        (
            pb::UpdateWorkItem {
                parent_id: Some(pb::StringPatch::set("x")),
                ..update()
            },
            "parent_id",
        ),
        (
            pb::UpdateWorkItem {
                sprint_id: Some(pb::StringPatch::set("x")),
                ..update()
            },
            "sprint_id",
        ),
        (
            pb::UpdateWorkItem {
                assignee: Some(pb::StringPatch::set("not-a-member")),
                ..update()
            },
            "assignee",
        ),
    ];
    for (request, field) in updates {
        assert_refused(
            &mut alice,
            request,
            (ErrorCode::Validation, field),
            &mut watcher,
            &web,
        )
        .await;
    }

    let moves = [
        (
            pb::MoveWorkItem {
                work_item_id: "x".into(),
                version: 1,
                ..Default::default()
            },
            "work_item_id",
        ),
        (
            pb::MoveWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
                status: Some(0),
                ..Default::default()
            },
            "status",
        ),
        (
            pb::MoveWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
                before_id: Some("x".into()),
                ..Default::default()
            },
            "before_id",
        ),
        (
            pb::MoveWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
                sprint_id: Some(pb::StringPatch::set("x")),
                ..Default::default()
            },
            "sprint_id",
        ),
    ];
    for (request, field) in moves {
        assert_refused(
            &mut alice,
            request,
            (ErrorCode::Validation, field),
            &mut watcher,
            &web,
        )
        .await;
    }
    assert_refused(
        &mut alice,
        pb::DeleteWorkItem {
            work_item_id: "x".into(),
            version: 1,
        },
        (ErrorCode::Validation, "work_item_id"),
        &mut watcher,
        &web,
    )
    .await;

    let list = || pb::ListWorkItems {
        project_id: web.id.clone(),
        ..Default::default()
    };
    for (request, field) in [
        (
            pb::ListWorkItems {
                types: vec![0],
                ..list()
            },
            "types",
        ),
        (
            pb::ListWorkItems {
                statuses: vec![9],
                ..list()
            },
            "statuses",
        ),
        (
            pb::ListWorkItems {
                cursor: "abc".into(),
                ..list()
            },
            "cursor",
        ),
        (
            pb::ListWorkItems {
                sprint_id: Some("x".into()),
                ..list()
            },
            "sprint_id",
        ),
        (
            pb::ListWorkItems {
                project_id: "x".into(),
                ..list()
            },
            "project_id",
        ),
    ] {
        let err = alice.err(request).await;
        assert_eq!(refusal(&err), (ErrorCode::Validation, field));
    }
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_that_carries_the_current_item() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let item = alice.create_item(&web, Type::Task, "Task").await;
    alice
        .ok(pb::UpdateWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
            title: Some("Changed by someone else".into()),
            ..Default::default()
        })
        .await;
    let now = current(&mut alice, &item).await;
    assert_eq!(now.version, 2);
    watcher.drain_events().await;

    let stale = [
        assert_refused(
            &mut alice,
            pb::UpdateWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
                title: Some("Mine".into()),
                ..Default::default()
            },
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await,
        // A stale update that would change nothing is still stale.
        assert_refused(
            &mut alice,
            pb::UpdateWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
                ..Default::default()
            },
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await,
        assert_refused(
            &mut alice,
            pb::MoveWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
                status: Some(Status::Done.into()),
                ..Default::default()
            },
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await,
        assert_refused(
            &mut alice,
            pb::DeleteWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
            },
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await,
    ];
    for err in stale {
        assert_eq!(err.current_version, Some(2), "{err:?}");
        assert_eq!(
            err.current,
            Some(Current::WorkItem(now.clone())),
            "{}",
            err.message
        );
    }
}

#[tokio::test]
async fn of_ten_concurrent_updates_with_the_same_version_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let item = alice.create_item(&web, Type::Task, "Contended").await;
    let mut clients = Vec::new();
    for n in 0..10 {
        let user = format!("user{n}");
        alice.add_member(&web, &user, pb::ProjectRole::Editor).await;
        clients.push((user.clone(), app.editor(&user).await));
    }
    watcher.drain_events().await;

    let start = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(user, mut client)| {
            let start = std::sync::Arc::clone(&start);
            let id = item.id.clone();
            tokio::spawn(async move {
                start.wait().await;
                let result = client
                    .call(pb::UpdateWorkItem {
                        work_item_id: id,
                        version: 1,
                        title: Some(format!("Title by {user}")),
                        ..Default::default()
                    })
                    .await;
                (user, result)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (user, Ok(reply)) => winners.push((user, reply.work_item.unwrap())),
            (_, Err(e)) => conflicts.push(e),
        }
    }

    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    let (winner, won) = winners.pop().unwrap();
    assert_eq!(won.version, 2);
    assert_eq!(won.title, format!("Title by {winner}"));
    assert_eq!(conflicts.len(), 9);
    for err in &conflicts {
        assert_eq!(code(err), ErrorCode::Conflict);
        assert_eq!(err.current_version, Some(2));
        assert_eq!(err.current, Some(Current::WorkItem(won.clone())));
    }
    assert_eq!(current(&mut alice, &item).await, won);
    let events = watcher.drain_events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(change(&events[0]), &Change::WorkItem(won));
}

#[tokio::test]
async fn a_replayed_request_id_returns_the_original_reply_and_writes_once() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    watcher.drain_events().await;

    let id = request_id();
    let create = new_item(&web, Type::Task, "Exactly once");
    let first = alice.call_with_id(&id, create.clone()).await.unwrap();
    let again = alice.call_with_id(&id, create.clone()).await.unwrap();
    assert_eq!(again, first);
    // After a reconnect, the same user resends the same message.
    drop(alice);
    let mut alice = app.editor("alice").await;
    let resent = alice.call_with_id(&id, create.clone()).await.unwrap();
    assert_eq!(resent, first);
    let item = first.work_item.unwrap();
    let listed = alice
        .ok(pb::ListWorkItems {
            project_id: web.id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        listed.work_items,
        std::slice::from_ref(&item),
        "one item was created"
    );
    assert_eq!(watcher.drain_events().await.len(), 1, "one event");

    // A replayed update is answered with its original result, not as a stale version.
    let update_id = request_id();
    let update = pb::UpdateWorkItem {
        work_item_id: item.id.clone(),
        version: 1,
        priority: Some(Priority::High.into()),
        ..Default::default()
    };
    let updated = alice
        .call_with_id(&update_id, update.clone())
        .await
        .unwrap();
    let mut reconnected = app.editor("alice").await;
    let replayed = reconnected
        .call_with_id(&update_id, update.clone())
        .await
        .unwrap();
    assert_eq!(replayed, updated);
    assert_eq!(replayed.work_item.unwrap().version, 2);
    assert_eq!(current(&mut alice, &item).await.version, 2);
    assert_eq!(watcher.drain_events().await.len(), 1);

    // The reply to a replayed request carries the original events again, with their numbers.
    let resend_id = request_id();
    reconnected.send(&resend_id, create.clone()).await;
    let fresh = reconnected.reply_to(&resend_id).await;
    reconnected.send(&resend_id, create).await;
    let repeated = reconnected.reply_to(&resend_id).await;
    assert_eq!(repeated.events, fresh.events);
    assert_eq!(watcher.drain_events().await.len(), 1);

    // The same id for another command is refused, and does nothing.
    let before = watcher
        .ok(pb::GetSnapshot {
            project_id: web.id.clone(),
        })
        .await;
    let err = alice
        .call_with_id(
            &id,
            pb::DeleteWorkItem {
                work_item_id: item.id.clone(),
                version: 2,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(refusal(&err), (ErrorCode::Validation, "request_id"));
    let after = watcher
        .ok(pb::GetSnapshot {
            project_id: web.id.clone(),
        })
        .await;
    assert_eq!(after, before);
    watcher.assert_no_events().await;

    // Request ids belong to their user: bob's identical id is a request of its own.
    alice.add_member(&web, "bob", pb::ProjectRole::Editor).await;
    watcher.drain_events().await;
    let mut bob = app.editor("bob").await;
    let bobs = bob
        .call_with_id(&id, new_item(&web, Type::Task, "Bob's"))
        .await
        .unwrap();
    assert_ne!(bobs.work_item.unwrap().id, item.id);
}

#[tokio::test]
async fn a_request_id_reused_for_a_different_request_is_refused_and_the_first_reply_stands() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let shop = alice.create_project("SHOP").await;
    watcher.subscribe(&shop.id).await;
    watcher.drain_events().await;

    let id = request_id();
    let first = alice
        .call_with_id(&id, new_item(&web, Type::Task, "The first"))
        .await
        .unwrap();
    assert_eq!(watcher.drain_events().await.len(), 1);
    let snapshots = |project: &pb::Project| pb::GetSnapshot {
        project_id: project.id.clone(),
    };
    let before = (
        watcher.ok(snapshots(&web)).await,
        watcher.ok(snapshots(&shop)).await,
    );

    // Same command, different payload: another title, another project, another field set. Each is
    // refused on request_id, writes nothing, and does not return the first reply.
    let different = [
        new_item(&web, Type::Task, "Another title"),
        new_item(&shop, Type::Task, "The first"),
        new_item(&web, Type::Story, "The first"),
        pb::CreateWorkItem {
            description: "With a description".into(),
            ..new_item(&web, Type::Task, "The first")
        },
    ];
    for request in different {
        let err = alice.call_with_id(&id, request.clone()).await.unwrap_err();
        assert_eq!(
            (code(&err), err.field.as_str()),
            (ErrorCode::Validation, "request_id"),
            "{request:?}: {err:?}"
        );
    }
    let after = (
        watcher.ok(snapshots(&web)).await,
        watcher.ok(snapshots(&shop)).await,
    );
    assert_eq!(after, before, "a refused reuse wrote");
    watcher.assert_no_events().await;

    // The identical request, resent (also from a new connection), still gets the first reply.
    let again = alice
        .call_with_id(&id, new_item(&web, Type::Task, "The first"))
        .await
        .unwrap();
    assert_eq!(again, first);
    let mut reconnected = app.editor("alice").await;
    let resent = reconnected
        .call_with_id(&id, new_item(&web, Type::Task, "The first"))
        .await
        .unwrap();
    assert_eq!(resent, first);
    watcher.assert_no_events().await;
}

#[tokio::test]
async fn two_subscribers_see_each_others_changes_and_outsiders_see_nothing() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    alice.add_member(&web, "bob", pb::ProjectRole::Editor).await;
    alice
        .add_member(&web, "carol", pb::ProjectRole::Editor)
        .await;
    let api = alice.create_project("API").await;
    alice
        .add_member(&api, "dave", pb::ProjectRole::Viewer)
        .await;
    alice.subscribe(&web.id).await;
    let mut bob = app.editor("bob").await;
    bob.subscribe(&web.id).await;
    let mut carol = app.editor("carol").await; // a member, not subscribed
    let mut dave = app.editor("dave").await; // subscribed to another project
    dave.subscribe(&api.id).await;
    let mut eve = app.client("globex", "eve", TenantRole::Admin).await;
    let globex = eve.create_project("WEB").await;
    eve.subscribe(&globex.id).await;
    alice.drain_events().await;

    let created = alice.create_item(&web, Type::Task, "Alice's").await;
    assert_eq!(
        change(&bob.next_event().await),
        &Change::WorkItem(created.clone())
    );
    let updated = bob
        .ok(pb::UpdateWorkItem {
            work_item_id: created.id.clone(),
            version: 1,
            title: Some("Bob's now".into()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    let event = alice.next_event().await;
    assert_eq!(event.actor, "bob");
    assert_eq!(change(&event), &Change::WorkItem(updated.clone()));
    let moved = alice
        .ok(pb::MoveWorkItem {
            work_item_id: created.id.clone(),
            version: 2,
            status: Some(Status::Review.into()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(change(&bob.next_event().await), &Change::WorkItem(moved));

    alice.assert_no_events().await;
    bob.assert_no_events().await;
    carol.assert_no_events().await;
    dave.assert_no_events().await;
    eve.assert_no_events().await;
}

#[tokio::test]
async fn viewers_are_refused_every_work_item_change_and_editors_cannot_delete() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    // A tenant viewer is read-only even as a project admin.
    alice.add_member(&web, "vic", pb::ProjectRole::Admin).await;
    alice.add_member(&web, "pat", pb::ProjectRole::Viewer).await;
    alice.add_member(&web, "ed", pb::ProjectRole::Editor).await;
    let item = alice.create_item(&web, Type::Task, "Task").await;
    watcher.drain_events().await;
    let tenant_viewer = app.client("acme", "vic", TenantRole::Viewer).await;
    let project_viewer = app.editor("pat").await;

    for mut viewer in [tenant_viewer, project_viewer] {
        let mutations: Vec<pb::client_message::Command> = vec![
            new_item(&web, Type::Task, "Nope").into(),
            pb::UpdateWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
                title: Some("Nope".into()),
                ..Default::default()
            }
            .into(),
            pb::MoveWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
                status: Some(Status::Done.into()),
                ..Default::default()
            }
            .into(),
            pb::DeleteWorkItem {
                work_item_id: item.id.clone(),
                version: 1,
            }
            .into(),
        ];
        for mutation in mutations {
            assert_command_refused(
                &mut viewer,
                mutation,
                ErrorCode::PermissionDenied,
                &mut watcher,
                &web,
            )
            .await;
        }
        // Reading stays possible.
        assert_eq!(
            current(&mut viewer, &item).await,
            item,
            "{}",
            viewer.welcome.user_id
        );
    }

    let mut ed = app.editor("ed").await;
    assert_refused(
        &mut ed,
        pb::DeleteWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
        },
        (ErrorCode::PermissionDenied, ""),
        &mut watcher,
        &web,
    )
    .await;
    let edited = ed
        .ok(pb::UpdateWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
            title: Some("Editors edit".into()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap();
    ed.ok(pb::MoveWorkItem {
        work_item_id: item.id.clone(),
        version: edited.version,
        status: Some(Status::Todo.into()),
        ..Default::default()
    })
    .await;
    ed.create_item(&web, Type::Task, "Editors create").await;
}

/// [`assert_refused`] for a command given as an envelope case, so one loop can try many kinds.
async fn assert_command_refused(
    actor: &mut Client,
    command: pb::client_message::Command,
    expected: ErrorCode,
    watcher: &mut Client,
    project: &pb::Project,
) {
    let snapshot = pb::GetSnapshot {
        project_id: project.id.clone(),
    };
    let before = watcher.ok(snapshot.clone()).await;
    let id = request_id();
    let message = pb::ClientMessage {
        request_id: id.clone(),
        command: Some(command),
    };
    actor.send_raw(pm_proto::encode(&message)).await;
    let reply = actor.reply_to(&id).await;
    let Some(pb::reply::Result::Error(err)) = reply.result else {
        panic!("{message:?} was not refused: {reply:?}");
    };
    assert_eq!(code(&err), expected, "{message:?}: {err:?}");
    assert_eq!(watcher.ok(snapshot).await, before, "{message:?} wrote");
    watcher.assert_no_events().await;
}

#[tokio::test]
async fn a_non_member_cannot_tell_that_an_item_exists() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let item = alice.create_item(&web, Type::Task, "Secret").await;
    watcher.drain_events().await;
    let mut mallory = app.editor("mallory").await;

    for lookup in [item.id.as_str(), "WEB-1"] {
        let err = mallory
            .err(pb::GetWorkItem {
                work_item: lookup.into(),
            })
            .await;
        assert_eq!(code(&err), ErrorCode::NotFound, "{lookup}");
    }
    let err = mallory
        .err(pb::ListWorkItems {
            project_id: web.id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    assert_refused(
        &mut mallory,
        new_item(&web, Type::Task, "Intruder"),
        (ErrorCode::NotFound, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut mallory,
        pb::UpdateWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
            title: Some("Defaced".into()),
            ..Default::default()
        },
        (ErrorCode::NotFound, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut mallory,
        pb::DeleteWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
        },
        (ErrorCode::NotFound, ""),
        &mut watcher,
        &web,
    )
    .await;
}

#[tokio::test]
async fn a_replay_after_the_change_log_dropped_its_entries_still_returns_the_original_result() {
    let app = TestApp::spawn_with(|c| c.change_log_max_rows = 2).await;
    let (mut alice, web, _watcher) = board(&app).await;
    let id = request_id();
    let create = new_item(&web, Type::Task, "Kept by its result");
    alice.send(&id, create.clone()).await;
    let first = alice.reply_to(&id).await;
    assert_eq!(first.events.len(), 1);
    // Three more changes: the log keeps two entries, so the item's creation is gone from it.
    for title in ["One", "Two", "Three"] {
        create_item_titled(&mut alice, &web, title).await;
    }

    alice.send(&id, create).await;
    let again = alice.reply_to(&id).await;
    assert_eq!(
        again.result, first.result,
        "the stored result is the original"
    );
    assert!(
        again.events.is_empty(),
        "events the log no longer holds are left out, never invented"
    );
}

async fn create_item_titled(client: &mut Client, project: &pb::Project, title: &str) {
    create(client, new_item(project, Type::Task, title)).await;
}
