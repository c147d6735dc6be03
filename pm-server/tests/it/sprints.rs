//! Sprints over the WebSocket: planning, the planned → active → completed lifecycle (or
//! cancelled), what happens to their items, and the rules that refuse a change without writing.

use pm_core::TenantRole;
use pm_proto::pb::{
    self, ErrorCode, SprintStatus, WorkItemStatus as Status, WorkItemType as Type, change::Change,
    client_message::Command, error::Current,
};

use crate::helpers::*;

/// Some instants, in milliseconds since the epoch.
const MAY_1: i64 = 1_777_593_600_000;
const MAY_15: i64 = 1_778_803_200_000;

/// Alice administers project WEB; `root`, a tenant admin, watches it.
async fn board(app: &TestApp) -> (Client, pb::Project, Client) {
    let mut alice = app.editor("alice").await;
    let web = alice.create_project("WEB").await;
    let mut watcher = app.client("acme", "root", TenantRole::Admin).await;
    watcher.subscribe(&web.id).await;
    (alice, web, watcher)
}

fn new_sprint(project: &pb::Project, name: &str) -> pb::CreateSprint {
    pb::CreateSprint {
        project_id: project.id.clone(),
        name: name.to_owned(),
        ..Default::default()
    }
}

async fn create_sprint(client: &mut Client, project: &pb::Project, name: &str) -> pb::Sprint {
    client.ok(new_sprint(project, name)).await.sprint.unwrap()
}

async fn start(client: &mut Client, sprint: &pb::Sprint) -> pb::Sprint {
    client
        .ok(pb::StartSprint {
            sprint_id: sprint.id.clone(),
            version: sprint.version,
        })
        .await
        .sprint
        .unwrap()
}

async fn detail(client: &mut Client, sprint: &pb::Sprint) -> pb::SprintDetail {
    client
        .ok(pb::GetSprint {
            sprint_id: sprint.id.clone(),
        })
        .await
}

/// An item of `project` in `sprint`, with a status and story points.
async fn item_in(
    client: &mut Client,
    project: &pb::Project,
    sprint: &pb::Sprint,
    title: &str,
    status: Status,
    points: Option<u32>,
) -> pb::WorkItem {
    client
        .ok(pb::CreateWorkItem {
            project_id: project.id.clone(),
            r#type: Type::Task.into(),
            title: title.to_owned(),
            status: Some(status.into()),
            story_points: points,
            sprint_id: Some(sprint.id.clone()),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap()
}

async fn item(client: &mut Client, id: &str) -> pb::WorkItem {
    client
        .ok(pb::GetWorkItem {
            work_item: id.to_owned(),
        })
        .await
        .work_item
        .unwrap()
}

fn keys(items: &[pb::WorkItem]) -> Vec<&str> {
    let mut keys: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn a_sprint_is_created_listed_updated_and_its_dates_cleared() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    watcher.drain_events().await;

    let sprint = alice
        .ok(pb::CreateSprint {
            goal: "Ship checkout".into(),
            starts_at: Some(MAY_1),
            ends_at: Some(MAY_15),
            ..new_sprint(&web, "Sprint 1")
        })
        .await
        .sprint
        .unwrap();
    assert_eq!(sprint.project_id, web.id);
    assert_eq!(
        (sprint.name.as_str(), sprint.goal.as_str()),
        ("Sprint 1", "Ship checkout")
    );
    assert_eq!(
        (sprint.starts_at, sprint.ends_at),
        (Some(MAY_1), Some(MAY_15))
    );
    assert_eq!(sprint.status(), SprintStatus::Planned);
    assert_eq!(sprint.version, 1);
    assert_eq!(sprint.created_by, "alice");
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::Sprint(sprint.clone())
    );
    let second = create_sprint(&mut alice, &web, "Sprint 2").await;
    let listed = alice
        .ok(pb::ListSprints {
            project_id: web.id.clone(),
        })
        .await;
    assert_eq!(listed.sprints, [sprint.clone(), second.clone()]);

    let renamed = alice
        .ok(pb::UpdateSprint {
            sprint_id: sprint.id.clone(),
            version: 1,
            name: Some("Sprint one".into()),
            goal: Some(String::new()),
            ..Default::default()
        })
        .await
        .sprint
        .unwrap();
    let expected = pb::Sprint {
        name: "Sprint one".into(),
        goal: String::new(),
        version: 2,
        updated_at: renamed.updated_at,
        ..sprint.clone()
    };
    assert_eq!(renamed, expected);

    let undated = alice
        .ok(pb::UpdateSprint {
            sprint_id: sprint.id.clone(),
            version: 2,
            starts_at: Some(pb::TimePatch::clear()),
            ends_at: Some(pb::TimePatch::clear()),
            ..Default::default()
        })
        .await
        .sprint
        .unwrap();
    assert_eq!((undated.starts_at, undated.ends_at), (None, None));
    assert_eq!(undated.version, 3);
    assert_eq!(
        detail(&mut alice, &sprint).await.sprint,
        Some(undated.clone())
    );
    let events = watcher.drain_events().await;
    assert_eq!(events.len(), 3);
    assert_eq!(change(&events[2]), &Change::Sprint(undated));

    // Dates are set again one at a time; the end must stay after the start.
    let dated = alice
        .ok(pb::UpdateSprint {
            sprint_id: sprint.id.clone(),
            version: 3,
            ends_at: Some(pb::TimePatch {
                value: Some(MAY_15),
            }),
            ..Default::default()
        })
        .await
        .sprint
        .unwrap();
    assert_eq!((dated.starts_at, dated.ends_at), (None, Some(MAY_15)));
    watcher.drain_events().await;
    assert_refused(
        &mut alice,
        pb::UpdateSprint {
            sprint_id: sprint.id.clone(),
            version: 4,
            starts_at: Some(pb::TimePatch {
                value: Some(MAY_15 + 1),
            }),
            ..Default::default()
        },
        (ErrorCode::Validation, "ends_at"),
        &mut watcher,
        &web,
    )
    .await;
}

#[tokio::test]
async fn a_started_sprint_is_active_and_a_project_has_at_most_one_active_sprint() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let first = create_sprint(&mut alice, &web, "Sprint 1").await;
    let second = create_sprint(&mut alice, &web, "Sprint 2").await;
    let dated = alice
        .ok(pb::CreateSprint {
            starts_at: Some(MAY_1),
            ..new_sprint(&web, "Sprint 3")
        })
        .await
        .sprint
        .unwrap();
    watcher.drain_events().await;

    let active = start(&mut alice, &first).await;
    assert_eq!(active.status(), SprintStatus::Active);
    assert_eq!(active.version, 2);
    assert!(active.starts_at.is_some(), "starting sets a missing start");
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::Sprint(active.clone())
    );

    let err = assert_refused(
        &mut alice,
        pb::StartSprint {
            sprint_id: second.id.clone(),
            version: 1,
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert!(err.message.contains("active"), "{err:?}");

    // Another project has its own active sprint.
    let ops = alice.create_project("OPS").await;
    let elsewhere = create_sprint(&mut alice, &ops, "OPS 1").await;
    assert_eq!(
        start(&mut alice, &elsewhere).await.status(),
        SprintStatus::Active
    );

    // Once the first is done, the next may start; a start date already set is kept.
    alice
        .ok(pb::CompleteSprint {
            sprint_id: first.id.clone(),
            version: 2,
            move_open_items_to: None,
        })
        .await;
    let third = start(&mut alice, &dated).await;
    assert_eq!(third.starts_at, Some(MAY_1));
}

#[tokio::test]
async fn completing_a_sprint_moves_its_unfinished_items_to_the_backlog() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let done = item_in(&mut alice, &web, &sprint, "Done", Status::Done, Some(3)).await;
    let todo = item_in(&mut alice, &web, &sprint, "Todo", Status::Todo, Some(5)).await;
    let doing = item_in(&mut alice, &web, &sprint, "Doing", Status::InProgress, None).await;
    let sprint = start(&mut alice, &sprint).await;
    watcher.drain_events().await;

    let completed = alice
        .ok(pb::CompleteSprint {
            sprint_id: sprint.id.clone(),
            version: sprint.version,
            move_open_items_to: None,
        })
        .await;
    let stored = completed.sprint.unwrap();
    assert_eq!(stored.status(), SprintStatus::Completed);
    assert_eq!(stored.version, sprint.version + 1);
    assert_eq!(
        keys(&completed.moved),
        [todo.key.as_str(), doing.key.as_str()]
    );
    for moved in &completed.moved {
        assert_eq!(moved.sprint_id, None, "{moved:?}");
        assert_eq!(item(&mut alice, &moved.id).await, *moved);
    }
    assert_eq!(
        item(&mut alice, &done.id).await,
        done,
        "a finished item stays in the sprint"
    );

    let events = watcher.drain_events().await;
    assert_eq!(events.len(), 3);
    assert_eq!(change(&events[0]), &Change::Sprint(stored.clone()));
    for (event, moved) in events[1..].iter().zip(&completed.moved) {
        assert_eq!(change(event), &Change::WorkItem(moved.clone()));
    }

    let after = detail(&mut alice, &stored).await;
    assert_eq!(after.sprint, Some(stored));
    assert_eq!(after.work_items, [done]);
    assert_eq!((after.total_points, after.done_points), (3, 3));
    assert_eq!((after.item_count, after.done_count), (1, 1));
}

#[tokio::test]
async fn completing_a_sprint_can_move_its_unfinished_items_to_a_planned_sprint() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let current = create_sprint(&mut alice, &web, "Sprint 1").await;
    let next = create_sprint(&mut alice, &web, "Sprint 2").await;
    let open = item_in(&mut alice, &web, &current, "Open", Status::Review, Some(8)).await;
    let done = item_in(&mut alice, &web, &current, "Done", Status::Done, Some(1)).await;
    let current = start(&mut alice, &current).await;
    watcher.drain_events().await;

    let completed = alice
        .ok(pb::CompleteSprint {
            sprint_id: current.id.clone(),
            version: current.version,
            move_open_items_to: Some(next.id.clone()),
        })
        .await;
    assert_eq!(completed.moved.len(), 1);
    assert_eq!(completed.moved[0].id, open.id);
    assert_eq!(
        completed.moved[0].sprint_id.as_deref(),
        Some(next.id.as_str())
    );
    assert_eq!(
        completed.moved[0].status(),
        Status::Review,
        "the status stays"
    );
    let planned = detail(&mut alice, &next).await;
    assert_eq!(planned.work_items, completed.moved);
    assert_eq!((planned.total_points, planned.item_count), (8, 1));
    assert_eq!(detail(&mut alice, &current).await.work_items, [done]);
    assert_eq!(watcher.drain_events().await.len(), 2);
}

#[tokio::test]
async fn unfinished_items_only_move_to_another_planned_sprint_of_the_project() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let ops = alice.create_project("OPS").await;
    let foreign = create_sprint(&mut alice, &ops, "OPS sprint").await;
    let finished = create_sprint(&mut alice, &web, "Finished").await;
    let finished = start(&mut alice, &finished).await;
    alice
        .ok(pb::CompleteSprint {
            sprint_id: finished.id.clone(),
            version: finished.version,
            move_open_items_to: None,
        })
        .await;
    let cancelled = create_sprint(&mut alice, &web, "Cancelled").await;
    alice
        .ok(pb::CancelSprint {
            sprint_id: cancelled.id.clone(),
            version: 1,
        })
        .await;
    let current = create_sprint(&mut alice, &web, "Current").await;
    item_in(&mut alice, &web, &current, "Open", Status::Todo, None).await;
    let current = start(&mut alice, &current).await;
    watcher.drain_events().await;

    for target in [
        current.id.clone(),
        finished.id.clone(),
        cancelled.id.clone(),
        foreign.id.clone(),
        uuid::Uuid::now_v7().to_string(),
        "not-a-uuid".to_owned(),
    ] {
        assert_refused(
            &mut alice,
            pb::CompleteSprint {
                sprint_id: current.id.clone(),
                version: current.version,
                move_open_items_to: Some(target),
            },
            (ErrorCode::Validation, "move_open_items_to"),
            &mut watcher,
            &web,
        )
        .await;
    }
}

#[tokio::test]
async fn a_planned_or_active_sprint_is_cancelled_and_its_open_items_return_to_the_backlog() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    for start_first in [false, true] {
        let sprint = create_sprint(&mut alice, &web, "Doomed").await;
        let open = item_in(&mut alice, &web, &sprint, "Open", Status::Todo, None).await;
        let done = item_in(&mut alice, &web, &sprint, "Done", Status::Done, None).await;
        let sprint = if start_first {
            start(&mut alice, &sprint).await
        } else {
            sprint
        };
        watcher.drain_events().await;

        let cancelled = alice
            .ok(pb::CancelSprint {
                sprint_id: sprint.id.clone(),
                version: sprint.version,
            })
            .await
            .sprint
            .unwrap();
        assert_eq!(cancelled.status(), SprintStatus::Cancelled);
        assert_eq!(item(&mut alice, &open.id).await.sprint_id, None);
        assert_eq!(item(&mut alice, &done.id).await, done);
        let events = watcher.drain_events().await;
        assert_eq!(events.len(), 2, "the sprint and the moved item");
        assert_eq!(change(&events[0]), &Change::Sprint(cancelled.clone()));

        // A cancelled sprint is a record too.
        assert_refused(
            &mut alice,
            pb::UpdateSprint {
                sprint_id: sprint.id.clone(),
                version: cancelled.version,
                name: Some("Revived".into()),
                ..Default::default()
            },
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await;
    }
}

#[tokio::test]
async fn invalid_transitions_are_refused_without_writing() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let planned = create_sprint(&mut alice, &web, "Planned").await;
    let completed = create_sprint(&mut alice, &web, "Completed").await;
    let completed = start(&mut alice, &completed).await;
    let completed = alice
        .ok(pb::CompleteSprint {
            sprint_id: completed.id.clone(),
            version: completed.version,
            move_open_items_to: None,
        })
        .await
        .sprint
        .unwrap();
    let cancelled = create_sprint(&mut alice, &web, "Cancelled").await;
    let cancelled = alice
        .ok(pb::CancelSprint {
            sprint_id: cancelled.id.clone(),
            version: 1,
        })
        .await
        .sprint
        .unwrap();
    watcher.drain_events().await;

    let transitions: Vec<(&str, Command)> = vec![
        (
            "complete a planned sprint",
            pb::CompleteSprint {
                sprint_id: planned.id.clone(),
                version: planned.version,
                move_open_items_to: None,
            }
            .into(),
        ),
        (
            "start a completed sprint",
            pb::StartSprint {
                sprint_id: completed.id.clone(),
                version: completed.version,
            }
            .into(),
        ),
        (
            "complete a completed sprint",
            pb::CompleteSprint {
                sprint_id: completed.id.clone(),
                version: completed.version,
                move_open_items_to: None,
            }
            .into(),
        ),
        (
            "cancel a completed sprint",
            pb::CancelSprint {
                sprint_id: completed.id.clone(),
                version: completed.version,
            }
            .into(),
        ),
        (
            "start a cancelled sprint",
            pb::StartSprint {
                sprint_id: cancelled.id.clone(),
                version: cancelled.version,
            }
            .into(),
        ),
        (
            "cancel a cancelled sprint",
            pb::CancelSprint {
                sprint_id: cancelled.id.clone(),
                version: cancelled.version,
            }
            .into(),
        ),
    ];
    for (what, command) in transitions {
        let snapshot = pb::GetSnapshot {
            project_id: web.id.clone(),
        };
        let before = watcher.ok(snapshot.clone()).await;
        let id = request_id();
        alice
            .send_raw(pm_proto::encode(&pb::ClientMessage {
                request_id: id.clone(),
                command: Some(command),
            }))
            .await;
        let Some(pb::reply::Result::Error(err)) = alice.reply_to(&id).await.result else {
            panic!("{what} was not refused");
        };
        assert_eq!(
            (code(&err), err.field.as_str()),
            (ErrorCode::Conflict, ""),
            "{what}: a state that forbids the change is a conflict"
        );
        assert_eq!(watcher.ok(snapshot).await, before, "{what} wrote");
        watcher.assert_no_events().await;
    }
}

#[tokio::test]
async fn a_completed_sprint_and_the_items_it_holds_are_read_only() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let done = item_in(&mut alice, &web, &sprint, "Done", Status::Done, Some(2)).await;
    let sprint = start(&mut alice, &sprint).await;
    let sprint = alice
        .ok(pb::CompleteSprint {
            sprint_id: sprint.id.clone(),
            version: sprint.version,
            move_open_items_to: None,
        })
        .await
        .sprint
        .unwrap();
    let next = create_sprint(&mut alice, &web, "Sprint 2").await;
    let loose = alice.create_item(&web, Type::Task, "In the backlog").await;
    watcher.drain_events().await;

    let version = sprint.version;
    assert_refused(
        &mut alice,
        pb::UpdateSprint {
            sprint_id: sprint.id.clone(),
            version,
            goal: Some("Rewrite history".into()),
            ..Default::default()
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut alice,
        pb::DeleteSprint {
            sprint_id: sprint.id.clone(),
            version,
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    // Nothing joins it ...
    assert_refused(
        &mut alice,
        pb::CreateWorkItem {
            project_id: web.id.clone(),
            r#type: Type::Task.into(),
            title: "Late addition".into(),
            sprint_id: Some(sprint.id.clone()),
            ..Default::default()
        },
        (ErrorCode::Validation, "sprint_id"),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut alice,
        pb::UpdateWorkItem {
            work_item_id: loose.id.clone(),
            version: loose.version,
            sprint_id: Some(pb::StringPatch::set(&sprint.id)),
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
            work_item_id: loose.id.clone(),
            version: loose.version,
            sprint_id: Some(pb::StringPatch::set(&sprint.id)),
            ..Default::default()
        },
        (ErrorCode::Validation, "sprint_id"),
        &mut watcher,
        &web,
    )
    .await;
    // ... and nothing leaves it.
    assert_refused(
        &mut alice,
        pb::UpdateWorkItem {
            work_item_id: done.id.clone(),
            version: done.version,
            sprint_id: Some(pb::StringPatch::clear()),
            ..Default::default()
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut alice,
        pb::MoveWorkItem {
            work_item_id: done.id.clone(),
            version: done.version,
            sprint_id: Some(pb::StringPatch::set(&next.id)),
            ..Default::default()
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut alice,
        pb::DeleteWorkItem {
            work_item_id: done.id.clone(),
            version: done.version,
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    let record = detail(&mut alice, &sprint).await;
    assert_eq!(record.work_items, [done]);
    assert_eq!(record.done_points, 2);
}

#[tokio::test]
async fn a_sprint_is_deleted_unless_completed_and_its_items_return_to_the_backlog() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let open = item_in(&mut alice, &web, &sprint, "Open", Status::Todo, None).await;
    let done = item_in(&mut alice, &web, &sprint, "Done", Status::Done, None).await;
    let kept = create_sprint(&mut alice, &web, "Sprint 2").await;
    watcher.drain_events().await;

    let deleted = alice
        .ok(pb::DeleteSprint {
            sprint_id: sprint.id.clone(),
            version: 1,
        })
        .await;
    assert_eq!(deleted.id, sprint.id);
    for id in [&open.id, &done.id] {
        assert_eq!(item(&mut alice, id).await.sprint_id, None);
    }
    let err = alice
        .err(pb::GetSprint {
            sprint_id: sprint.id.clone(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    let listed = alice
        .ok(pb::ListSprints {
            project_id: web.id.clone(),
        })
        .await;
    assert_eq!(listed.sprints, std::slice::from_ref(&kept));
    let events = watcher.drain_events().await;
    assert_eq!(events.len(), 3, "both items, then the sprint");
    assert_eq!(
        change(&events[2]),
        &Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::Sprint.into(),
            id: sprint.id.clone(),
        })
    );

    // A cancelled sprint may be deleted too.
    let cancelled = alice
        .ok(pb::CancelSprint {
            sprint_id: kept.id.clone(),
            version: 1,
        })
        .await
        .sprint
        .unwrap();
    alice
        .ok(pb::DeleteSprint {
            sprint_id: kept.id.clone(),
            version: cancelled.version,
        })
        .await;
    assert!(
        alice
            .ok(pb::ListSprints {
                project_id: web.id.clone(),
            })
            .await
            .sprints
            .is_empty()
    );
}

#[tokio::test]
async fn a_sprint_is_read_with_its_items_and_point_totals() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let other = create_sprint(&mut alice, &web, "Sprint 2").await;
    let mut items = vec![
        item_in(&mut alice, &web, &sprint, "Done", Status::Done, Some(3)).await,
        item_in(&mut alice, &web, &sprint, "Todo", Status::Todo, Some(5)).await,
        item_in(&mut alice, &web, &sprint, "Unsized", Status::Todo, None).await,
        item_in(&mut alice, &web, &sprint, "Review", Status::Review, Some(8)).await,
        item_in(
            &mut alice,
            &web,
            &sprint,
            "Also done",
            Status::Done,
            Some(0),
        )
        .await,
    ];
    item_in(
        &mut alice,
        &web,
        &other,
        "Elsewhere",
        Status::Done,
        Some(13),
    )
    .await;
    alice.create_item(&web, Type::Task, "Backlog").await;

    let read = detail(&mut alice, &sprint).await;
    assert_eq!(read.sprint, Some(sprint));
    assert_eq!((read.total_points, read.done_points), (16, 3));
    assert_eq!((read.item_count, read.done_count), (5, 2));
    items.sort_by(|a, b| a.key.cmp(&b.key));
    let mut got = read.work_items;
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got, items);

    let empty = create_sprint(&mut alice, &web, "Empty").await;
    let empty = detail(&mut alice, &empty).await;
    assert_eq!(
        (
            empty.total_points,
            empty.done_points,
            empty.item_count,
            empty.done_count
        ),
        (0, 0, 0, 0)
    );
    assert!(empty.work_items.is_empty());
}

#[tokio::test]
async fn invalid_sprint_input_is_refused_with_the_field_named() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    watcher.drain_events().await;

    let creates = [
        (new_sprint(&web, ""), "name"),
        (new_sprint(&web, "  "), "name"),
        (new_sprint(&web, &"n".repeat(101)), "name"),
        (
            pb::CreateSprint {
                goal: "g".repeat(1001),
                ..new_sprint(&web, "Fine")
            },
            "goal",
        ),
        (
            pb::CreateSprint {
                starts_at: Some(MAY_15),
                ends_at: Some(MAY_1),
                ..new_sprint(&web, "Backwards")
            },
            "ends_at",
        ),
        (
            pb::CreateSprint {
                starts_at: Some(MAY_1),
                ends_at: Some(MAY_1),
                ..new_sprint(&web, "Zero length")
            },
            "ends_at",
        ),
        (
            pb::CreateSprint {
                project_id: "not-a-uuid".into(),
                ..new_sprint(&web, "Fine")
            },
            "project_id",
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
    assert_refused(
        &mut alice,
        pb::UpdateSprint {
            sprint_id: sprint.id.clone(),
            version: 1,
            name: Some(String::new()),
            ..Default::default()
        },
        (ErrorCode::Validation, "name"),
        &mut watcher,
        &web,
    )
    .await;
    for command in [
        Command::from(pb::UpdateSprint {
            sprint_id: "x".into(),
            version: 1,
            ..Default::default()
        }),
        pb::StartSprint {
            sprint_id: "x".into(),
            version: 1,
        }
        .into(),
        pb::CompleteSprint {
            sprint_id: "x".into(),
            version: 1,
            move_open_items_to: None,
        }
        .into(),
        pb::CancelSprint {
            sprint_id: "x".into(),
            version: 1,
        }
        .into(),
        pb::DeleteSprint {
            sprint_id: "x".into(),
            version: 1,
        }
        .into(),
    ] {
        assert_command_refused(
            &mut alice,
            command,
            ErrorCode::Validation,
            &mut watcher,
            &web,
        )
        .await;
    }
    let err = alice
        .err(pb::GetSprint {
            sprint_id: "x".into(),
        })
        .await;
    assert_eq!(
        (code(&err), err.field.as_str()),
        (ErrorCode::Validation, "sprint_id")
    );
}

#[tokio::test]
async fn a_stale_sprint_version_is_a_conflict_that_carries_the_current_sprint() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let now = alice
        .ok(pb::UpdateSprint {
            sprint_id: sprint.id.clone(),
            version: 1,
            goal: Some("Changed by someone else".into()),
            ..Default::default()
        })
        .await
        .sprint
        .unwrap();
    watcher.drain_events().await;

    for err in [
        assert_refused(
            &mut alice,
            pb::UpdateSprint {
                sprint_id: sprint.id.clone(),
                version: 1,
                name: Some("Mine".into()),
                ..Default::default()
            },
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await,
        assert_refused(
            &mut alice,
            pb::StartSprint {
                sprint_id: sprint.id.clone(),
                version: 1,
            },
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await,
    ] {
        assert_eq!(err.current_version, Some(2));
        assert_eq!(err.current, Some(Current::Sprint(now.clone())));
    }
    let err = assert_refused(
        &mut alice,
        pb::DeleteSprint {
            sprint_id: sprint.id.clone(),
            version: 1,
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_eq!(err.current_version, Some(2));
    assert_eq!(err.current, Some(Current::Sprint(now)));
}

#[tokio::test]
async fn viewers_are_refused_every_sprint_change_and_editors_only_plan() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    // A tenant viewer is read-only even as a project admin.
    alice.add_member(&web, "vic", pb::ProjectRole::Admin).await;
    alice.add_member(&web, "pat", pb::ProjectRole::Viewer).await;
    alice.add_member(&web, "ed", pb::ProjectRole::Editor).await;
    let planned = create_sprint(&mut alice, &web, "Planned").await;
    let active = create_sprint(&mut alice, &web, "Active").await;
    let active = start(&mut alice, &active).await;
    watcher.drain_events().await;

    let lifecycle: Vec<Command> = vec![
        pb::StartSprint {
            sprint_id: planned.id.clone(),
            version: planned.version,
        }
        .into(),
        pb::CompleteSprint {
            sprint_id: active.id.clone(),
            version: active.version,
            move_open_items_to: None,
        }
        .into(),
        pb::CompleteSprint {
            sprint_id: active.id.clone(),
            version: active.version,
            move_open_items_to: Some(planned.id.clone()),
        }
        .into(),
        pb::CancelSprint {
            sprint_id: planned.id.clone(),
            version: planned.version,
        }
        .into(),
        pb::DeleteSprint {
            sprint_id: planned.id.clone(),
            version: planned.version,
        }
        .into(),
    ];
    let planning: Vec<Command> = vec![
        new_sprint(&web, "Nope").into(),
        pb::UpdateSprint {
            sprint_id: planned.id.clone(),
            version: planned.version,
            name: Some("Nope".into()),
            ..Default::default()
        }
        .into(),
    ];

    let tenant_viewer = app.client("acme", "vic", TenantRole::Viewer).await;
    let project_viewer = app.editor("pat").await;
    for mut viewer in [tenant_viewer, project_viewer] {
        for command in planning.iter().chain(&lifecycle) {
            assert_command_refused(
                &mut viewer,
                command.clone(),
                ErrorCode::PermissionDenied,
                &mut watcher,
                &web,
            )
            .await;
        }
        assert_eq!(
            detail(&mut viewer, &active).await.sprint,
            Some(active.clone())
        );
    }

    let mut ed = app.editor("ed").await;
    for command in lifecycle {
        assert_command_refused(
            &mut ed,
            command,
            ErrorCode::PermissionDenied,
            &mut watcher,
            &web,
        )
        .await;
    }
    let created = create_sprint(&mut ed, &web, "Editors plan").await;
    ed.ok(pb::UpdateSprint {
        sprint_id: created.id.clone(),
        version: 1,
        goal: Some("and set goals".into()),
        ..Default::default()
    })
    .await;
}

#[tokio::test]
async fn permission_is_checked_before_the_target_of_a_completion() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    alice.add_member(&web, "ed", pb::ProjectRole::Editor).await;
    let sprint = create_sprint(&mut alice, &web, "Sprint 1").await;
    let sprint = start(&mut alice, &sprint).await;
    watcher.drain_events().await;
    let complete = pb::CompleteSprint {
        sprint_id: sprint.id.clone(),
        version: sprint.version,
        move_open_items_to: Some(uuid::Uuid::now_v7().to_string()),
    };

    let mut mallory = app.editor("mallory").await;
    assert_refused(
        &mut mallory,
        complete.clone(),
        (ErrorCode::NotFound, ""),
        &mut watcher,
        &web,
    )
    .await;
    let mut ed = app.editor("ed").await;
    assert_refused(
        &mut ed,
        complete,
        (ErrorCode::PermissionDenied, ""),
        &mut watcher,
        &web,
    )
    .await;
}

#[tokio::test]
async fn a_non_member_cannot_tell_that_a_sprint_exists() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let sprint = create_sprint(&mut alice, &web, "Secret").await;
    watcher.drain_events().await;
    let mut mallory = app.editor("mallory").await;

    let err = mallory
        .err(pb::GetSprint {
            sprint_id: sprint.id.clone(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    let err = mallory
        .err(pb::ListSprints {
            project_id: web.id.clone(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    for command in [
        Command::from(new_sprint(&web, "Intruder")),
        pb::UpdateSprint {
            sprint_id: sprint.id.clone(),
            version: 1,
            name: Some("Defaced".into()),
            ..Default::default()
        }
        .into(),
        pb::StartSprint {
            sprint_id: sprint.id.clone(),
            version: 1,
        }
        .into(),
        pb::DeleteSprint {
            sprint_id: sprint.id.clone(),
            version: 1,
        }
        .into(),
    ] {
        assert_command_refused(
            &mut mallory,
            command,
            ErrorCode::NotFound,
            &mut watcher,
            &web,
        )
        .await;
    }
}

#[tokio::test]
async fn the_burndown_follows_done_work_and_a_completed_sprint_keeps_its_chart() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    let day = 24 * 3600 * 1000;
    let now = pm_core::Timestamp::now().as_millis();
    let sprint = alice
        .ok(pb::CreateSprint {
            starts_at: Some(now - 2 * day),
            ends_at: Some(now + 5 * day),
            ..new_sprint(&web, "Sprint 1")
        })
        .await
        .sprint
        .unwrap();
    let sprint = start(&mut alice, &sprint).await;
    let a = item_in(&mut alice, &web, &sprint, "a", Status::Todo, Some(5)).await;
    item_in(&mut alice, &web, &sprint, "b", Status::Todo, Some(3)).await;
    item_in(&mut alice, &web, &sprint, "c", Status::InProgress, None).await;
    alice
        .ok(pb::UpdateWorkItem {
            work_item_id: a.id.clone(),
            version: a.version,
            status: Some(Status::Done.into()),
            ..Default::default()
        })
        .await;
    let burndown = |sprint: &pb::Sprint| pb::GetSprintBurndown {
        sprint_id: sprint.id.clone(),
        utc_offset_minutes: 0,
    };

    let chart = alice.ok(burndown(&sprint)).await;
    // From the start to today: three days; the items only joined today.
    assert_eq!(chart.days.len(), 3, "{chart:?}");
    let today = chart.days.last().unwrap();
    assert_eq!(
        (
            today.remaining_points,
            today.remaining_items,
            today.scope_points
        ),
        (3, 2, 8)
    );
    assert!(chart.days[..2].iter().all(|d| d.scope_points == 0));

    let completed = alice
        .ok(pb::CompleteSprint {
            sprint_id: sprint.id.clone(),
            version: sprint.version,
            move_open_items_to: None,
        })
        .await;
    assert_eq!(completed.moved.len(), 2, "the open items left the sprint");
    let kept = alice.ok(burndown(&sprint)).await;
    let last = kept.days.last().unwrap();
    assert_eq!(
        (last.remaining_points, last.remaining_items),
        (3, 2),
        "the chart still shows what was open when the sprint ended"
    );

    let refused = alice
        .err(pb::GetSprintBurndown {
            sprint_id: sprint.id.clone(),
            utc_offset_minutes: 900,
        })
        .await;
    assert_eq!(refused.field, "utc_offset_minutes");
}
