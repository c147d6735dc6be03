//! Links between work items: `blocks` and `relates_to`, the rules that refuse a link (self, duplicate,
//! cross-project, cycles) and the blocked state the links derive.

use pm_core::TenantRole;
use pm_proto::pb::{self, change::Change};
use pm_proto::{Request, Response};

use crate::helpers::*;

/// Sends a mutation that must succeed; returns its response and the events its reply carried.
async fn commit<R: Request>(client: &mut Client, request: R) -> (R::Response, Vec<pb::Event>) {
    let id = request_id();
    client.send(&id, request).await;
    let reply = client.reply_to(&id).await;
    match reply.result {
        Some(pb::reply::Result::Error(e)) => panic!("{} failed: {e:?}", R::NAME),
        Some(result) => (
            R::Response::from_result(result).expect("the paired response type"),
            reply.events,
        ),
        None => panic!("a reply without a result"),
    }
}

fn link(from: &pb::WorkItem, to: &pb::WorkItem, kind: pb::DependencyType) -> pb::AddDependency {
    pb::AddDependency {
        blocking_id: from.id.clone(),
        blocked_id: to.id.clone(),
        r#type: kind.into(),
    }
}

fn blocks(blocking: &pb::WorkItem, blocked: &pb::WorkItem) -> pb::AddDependency {
    link(blocking, blocked, pb::DependencyType::Blocks)
}

fn relates(a: &pb::WorkItem, b: &pb::WorkItem) -> pb::AddDependency {
    link(a, b, pb::DependencyType::RelatesTo)
}

fn blocked_changed(item: &pb::WorkItem, blocked: bool) -> Change {
    Change::BlockedChanged(pb::BlockedChanged {
        work_item_id: item.id.clone(),
        key: item.key.clone(),
        blocked,
    })
}

fn dependency_deleted(id: &str) -> Change {
    Change::Deleted(pb::EntityDeleted {
        entity: pb::EntityKind::Dependency.into(),
        id: id.to_owned(),
    })
}

fn changes(events: &[pb::Event]) -> Vec<Change> {
    events.iter().map(|e| change(e).clone()).collect()
}

/// Alice's project "WEB" with tasks WEB-1 to WEB-`n`, and a tenant admin watching it.
async fn board(app: &TestApp, n: usize) -> (Client, pb::Project, Vec<pb::WorkItem>, Client) {
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    let mut items = Vec::with_capacity(n);
    for i in 1..=n {
        items.push(
            alice
                .create_item(&project, pb::WorkItemType::Task, &format!("Task {i}"))
                .await,
        );
    }
    let mut watcher = app.client("acme", "boss", TenantRole::Admin).await;
    watcher.subscribe(&project.id).await;
    (alice, project, items, watcher)
}

/// The item's derived blocked flag as GetWorkItem reports it, looked up by its human key.
async fn is_blocked(client: &mut Client, item: &pb::WorkItem) -> bool {
    client
        .ok(pb::GetWorkItem {
            work_item: item.key.clone(),
        })
        .await
        .work_item
        .unwrap()
        .blocked
}

async fn list(client: &mut Client, item: &pb::WorkItem) -> pb::DependencyList {
    client
        .ok(pb::ListDependencies {
            work_item_id: item.id.clone(),
        })
        .await
}

fn assert_code_and_field(err: &pb::Error, expected: pb::ErrorCode, field: &str) {
    assert_eq!(
        (code(err), err.field.as_str()),
        (expected, field),
        "{err:?}"
    );
}

#[tokio::test]
async fn blocks_and_relates_to_links_are_listed_from_both_ends() {
    let app = TestApp::spawn().await;
    let (mut alice, project, items, mut watcher) = board(&app, 3).await;
    let [a, b, c] = &items[..] else {
        unreachable!()
    };

    let (r, mut events) = commit(&mut alice, blocks(a, b)).await;
    let blocking = r.dependency.unwrap();
    assert_eq!(
        (
            blocking.project_id.as_str(),
            blocking.blocking_id.as_str(),
            blocking.blocked_id.as_str(),
            blocking.blocking_key.as_str(),
            blocking.blocked_key.as_str(),
            blocking.r#type,
            blocking.created_by.as_str(),
        ),
        (
            project.id.as_str(),
            a.id.as_str(),
            b.id.as_str(),
            "WEB-1",
            "WEB-2",
            i32::from(pb::DependencyType::Blocks),
            "alice",
        )
    );
    assert_eq!(
        changes(&events),
        vec![
            Change::Dependency(blocking.clone()),
            blocked_changed(b, true)
        ]
    );

    let (r, more) = commit(&mut alice, relates(c, a)).await;
    let related = r.dependency.unwrap();
    let mut pair = [related.blocking_key.clone(), related.blocked_key.clone()];
    pair.sort();
    assert_eq!(pair, ["WEB-1", "WEB-3"], "relates_to is undirected");
    assert_eq!(
        changes(&more),
        vec![Change::Dependency(related.clone())],
        "a relates_to link blocks nothing"
    );
    events.extend(more);

    let of_a = list(&mut alice, a).await;
    assert_eq!(
        (of_a.blocked_by, of_a.blocking, of_a.related),
        (vec![], vec![blocking.clone()], vec![related.clone()])
    );
    let of_b = list(&mut alice, b).await;
    assert_eq!(
        (of_b.blocked_by, of_b.blocking, of_b.related),
        (vec![blocking.clone()], vec![], vec![])
    );
    let of_c = list(&mut alice, c).await;
    assert_eq!(
        (of_c.blocked_by, of_c.blocking, of_c.related),
        (vec![], vec![], vec![related])
    );
    assert!(is_blocked(&mut alice, b).await);
    assert!(!is_blocked(&mut alice, a).await);
    assert!(!is_blocked(&mut alice, c).await);
    assert_eq!(watcher.drain_events().await, events);
}

#[tokio::test]
async fn a_link_from_an_item_to_itself_is_refused() {
    let app = TestApp::spawn().await;
    let (mut alice, _project, items, mut watcher) = board(&app, 1).await;
    let a = &items[0];
    for request in [blocks(a, a), relates(a, a)] {
        let err = alice.err(request).await;
        assert_code_and_field(&err, pb::ErrorCode::Validation, "blocked_id");
    }
    watcher.assert_no_events().await;
    assert_eq!(list(&mut alice, a).await, pb::DependencyList::default());
}

#[tokio::test]
async fn a_second_live_link_of_the_same_kind_between_the_same_items_is_a_conflict() {
    let app = TestApp::spawn().await;
    let (mut alice, _project, items, mut watcher) = board(&app, 2).await;
    let [a, b] = &items[..] else { unreachable!() };
    let (_, mut events) = commit(&mut alice, blocks(a, b)).await;
    let err = alice.err(blocks(a, b)).await;
    assert_eq!(code(&err), pb::ErrorCode::Conflict, "{err:?}");

    // A relates_to link is another kind; its reverse is the same link.
    let (_, more) = commit(&mut alice, relates(a, b)).await;
    events.extend(more);
    let err = alice.err(relates(b, a)).await;
    assert_eq!(code(&err), pb::ErrorCode::Conflict, "{err:?}");

    assert_eq!(watcher.drain_events().await, events);
    let of_a = list(&mut alice, a).await;
    assert_eq!((of_a.blocking.len(), of_a.related.len()), (1, 1));
}

#[tokio::test]
async fn a_link_between_items_of_two_projects_is_refused() {
    let app = TestApp::spawn().await;
    let (mut alice, _web, items, mut watcher) = board(&app, 1).await;
    let api = alice.create_project("API").await;
    let elsewhere = alice
        .create_item(&api, pb::WorkItemType::Task, "Elsewhere")
        .await;
    let web_item = &items[0];
    for request in [
        blocks(web_item, &elsewhere),
        blocks(&elsewhere, web_item),
        relates(web_item, &elsewhere),
    ] {
        let err = alice.err(request).await;
        assert_code_and_field(&err, pb::ErrorCode::Validation, "blocked_id");
    }
    watcher.assert_no_events().await;
    assert_eq!(
        list(&mut alice, web_item).await,
        pb::DependencyList::default()
    );
}

#[tokio::test]
async fn a_direct_cycle_is_refused_with_its_path_by_key() {
    let app = TestApp::spawn().await;
    let (mut alice, _project, items, mut watcher) = board(&app, 2).await;
    let [a, b] = &items[..] else { unreachable!() };
    let (_, events) = commit(&mut alice, blocks(a, b)).await;

    let err = alice.err(blocks(b, a)).await;
    assert_code_and_field(&err, pb::ErrorCode::Validation, "blocked_id");
    // [blocking, blocked, ..., blocking]: the new link WEB-2 → WEB-1 and the way back.
    assert_eq!(err.cycle, ["WEB-2", "WEB-1", "WEB-2"]);

    assert_eq!(watcher.drain_events().await, events);
    let of_b = list(&mut alice, b).await;
    assert!(of_b.blocking.is_empty(), "nothing was written");
    // An undirected link between them is no cycle.
    alice.ok(relates(b, a)).await;
}

#[tokio::test]
async fn a_long_cycle_is_refused_with_its_shortest_path_by_key() {
    let app = TestApp::spawn().await;
    let (mut alice, _project, items, mut watcher) = board(&app, 4).await;
    let [a, b, c, d] = &items[..] else {
        unreachable!()
    };
    let mut events = Vec::new();
    for (from, to) in [(a, b), (b, c), (c, d)] {
        events.extend(commit(&mut alice, blocks(from, to)).await.1);
    }

    let err = alice.err(blocks(d, a)).await;
    assert_code_and_field(&err, pb::ErrorCode::Validation, "blocked_id");
    assert_eq!(err.cycle, ["WEB-4", "WEB-1", "WEB-2", "WEB-3", "WEB-4"]);

    // A shortcut is a diamond, not a cycle; the cycle shown is then the shorter way round.
    events.extend(commit(&mut alice, blocks(b, d)).await.1);
    let err = alice.err(blocks(d, a)).await;
    assert_eq!(err.cycle, ["WEB-4", "WEB-1", "WEB-2", "WEB-4"]);
    let err = alice.err(blocks(c, a)).await;
    assert_eq!(err.cycle, ["WEB-3", "WEB-1", "WEB-2", "WEB-3"]);

    assert_eq!(watcher.drain_events().await, events);
    assert!(list(&mut alice, d).await.blocking.is_empty());
    assert_eq!(list(&mut alice, c).await.blocked_by.len(), 1);
}

#[tokio::test]
async fn a_removed_link_can_be_added_again() {
    let app = TestApp::spawn().await;
    let (mut alice, _project, items, mut watcher) = board(&app, 2).await;
    let [a, b] = &items[..] else { unreachable!() };
    let (r, mut events) = commit(&mut alice, blocks(a, b)).await;
    let first = r.dependency.unwrap();

    let (deleted, more) = commit(
        &mut alice,
        pb::RemoveDependency {
            dependency_id: first.id.clone(),
        },
    )
    .await;
    assert_eq!(deleted.id, first.id);
    assert_eq!(
        changes(&more),
        vec![dependency_deleted(&first.id), blocked_changed(b, false)]
    );
    events.extend(more);
    assert_eq!(list(&mut alice, a).await, pb::DependencyList::default());
    let err = alice
        .err(pb::RemoveDependency {
            dependency_id: first.id.clone(),
        })
        .await;
    assert_eq!(code(&err), pb::ErrorCode::NotFound);

    let (r, more) = commit(&mut alice, blocks(a, b)).await;
    let again = r.dependency.unwrap();
    assert_ne!(again.id, first.id);
    events.extend(more);
    assert_eq!(list(&mut alice, a).await.blocking, vec![again]);
    assert!(is_blocked(&mut alice, b).await);
    assert_eq!(watcher.drain_events().await, events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opposite_links_sent_at_the_same_instant_from_two_connections_cannot_both_succeed() {
    let app = TestApp::spawn().await;
    const PAIRS: usize = 8;
    let (mut alice, project, items, mut watcher) = board(&app, 2 * PAIRS).await;
    alice
        .add_member(&project, "bob", pb::ProjectRole::Editor)
        .await;
    watcher.drain_events().await;
    let mut bob = app.editor("bob").await;

    let mut events = Vec::new();
    for pair in items.chunks(2) {
        let [x, y] = pair else { unreachable!() };
        let (from_alice, from_bob) = (request_id(), request_id());
        alice.send(&from_alice, blocks(x, y)).await;
        bob.send(&from_bob, blocks(y, x)).await;
        let replies = [
            alice.reply_to(&from_alice).await,
            bob.reply_to(&from_bob).await,
        ];
        let refused: Vec<&pb::Error> = replies
            .iter()
            .filter_map(|r| match &r.result {
                Some(pb::reply::Result::Error(e)) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(refused.len(), 1, "exactly one of {replies:?} is refused");
        assert_code_and_field(refused[0], pb::ErrorCode::Validation, "blocked_id");
        assert_eq!(refused[0].cycle.len(), 3, "{:?}", refused[0]);
        for reply in replies {
            events.extend(reply.events);
        }
        let of_x = list(&mut alice, x).await;
        assert_eq!(
            of_x.blocking.len() + of_x.blocked_by.len(),
            1,
            "one link between {} and {}",
            x.key,
            y.key
        );
    }
    let mut seen = watcher.drain_events().await;
    seen.sort_by_key(|e| e.seq);
    events.sort_by_key(|e| e.seq);
    assert_eq!(seen, events);
}

#[tokio::test]
async fn an_item_is_blocked_exactly_while_its_blocker_is_not_done() {
    let app = TestApp::spawn().await;
    let (mut alice, _project, items, mut watcher) = board(&app, 2).await;
    let [blocker, blocked] = &items[..] else {
        unreachable!()
    };
    let (r, mut events) = commit(&mut alice, blocks(blocker, blocked)).await;
    let dependency = r.dependency.unwrap();
    assert!(is_blocked(&mut alice, blocked).await);

    // Item events carry the derived flag too.
    let (r, more) = commit(
        &mut alice,
        pb::UpdateWorkItem {
            work_item_id: blocked.id.clone(),
            version: blocked.version,
            title: Some("Waits for WEB-1".into()),
            ..Default::default()
        },
    )
    .await;
    assert!(r.work_item.unwrap().blocked);
    assert!(matches!(change(&more[0]), Change::WorkItem(w) if w.blocked));
    events.extend(more);

    // The blocker moves to done: unblocked.
    let (r, more) = commit(
        &mut alice,
        pb::MoveWorkItem {
            work_item_id: blocker.id.clone(),
            version: blocker.version,
            status: Some(pb::WorkItemStatus::Done.into()),
            ..Default::default()
        },
    )
    .await;
    let done = r.work_item.unwrap();
    assert_eq!(
        changes(&more),
        vec![
            Change::WorkItem(done.clone()),
            blocked_changed(blocked, false)
        ]
    );
    events.extend(more);
    assert!(!is_blocked(&mut alice, blocked).await);

    // Reopened: blocked again.
    let (r, more) = commit(
        &mut alice,
        pb::UpdateWorkItem {
            work_item_id: blocker.id.clone(),
            version: done.version,
            status: Some(pb::WorkItemStatus::InProgress.into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        changes(&more),
        vec![
            Change::WorkItem(r.work_item.unwrap()),
            blocked_changed(blocked, true)
        ]
    );
    events.extend(more);
    assert!(is_blocked(&mut alice, blocked).await);

    // Removing the link unblocks.
    let (_, more) = commit(
        &mut alice,
        pb::RemoveDependency {
            dependency_id: dependency.id.clone(),
        },
    )
    .await;
    assert_eq!(
        changes(&more),
        vec![
            dependency_deleted(&dependency.id),
            blocked_changed(blocked, false)
        ]
    );
    events.extend(more);
    assert!(!is_blocked(&mut alice, blocked).await);

    // Another subscriber saw every change, the flips included.
    let seen = watcher.drain_events().await;
    let flips: Vec<bool> = seen
        .iter()
        .filter_map(|e| match change(e) {
            Change::BlockedChanged(b) => Some(b.blocked),
            _ => None,
        })
        .collect();
    assert_eq!(flips, [true, false, true, false]);
    assert_eq!(seen, events);
}

#[tokio::test]
async fn an_item_with_two_blockers_stays_blocked_until_both_are_done_or_gone() {
    let app = TestApp::spawn().await;
    let (mut alice, _project, items, mut watcher) = board(&app, 3).await;
    let [first, second, blocked] = &items[..] else {
        unreachable!()
    };
    let mut events = Vec::new();
    events.extend(commit(&mut alice, blocks(first, blocked)).await.1);
    let (r, more) = commit(&mut alice, blocks(second, blocked)).await;
    let second_link = r.dependency.unwrap();
    assert_eq!(
        changes(&more),
        vec![Change::Dependency(second_link.clone())],
        "already blocked: no flip"
    );
    events.extend(more);

    let (r, more) = commit(
        &mut alice,
        pb::UpdateWorkItem {
            work_item_id: first.id.clone(),
            version: first.version,
            status: Some(pb::WorkItemStatus::Done.into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(changes(&more), vec![Change::WorkItem(r.work_item.unwrap())]);
    events.extend(more);
    assert!(
        is_blocked(&mut alice, blocked).await,
        "the second still blocks"
    );

    // Deleting the open blocker takes its links with it and unblocks.
    let (_, more) = commit(
        &mut alice,
        pb::DeleteWorkItem {
            work_item_id: second.id.clone(),
            version: second.version,
        },
    )
    .await;
    assert_eq!(
        changes(&more),
        vec![
            dependency_deleted(&second_link.id),
            Change::Deleted(pb::EntityDeleted {
                entity: pb::EntityKind::WorkItem.into(),
                id: second.id.clone(),
            }),
            blocked_changed(blocked, false),
        ]
    );
    events.extend(more);
    assert!(!is_blocked(&mut alice, blocked).await);
    assert_eq!(list(&mut alice, blocked).await.blocked_by.len(), 1);
    assert_eq!(watcher.drain_events().await, events);
}

#[tokio::test]
async fn only_editors_of_the_project_add_or_remove_links_but_viewers_list_them() {
    let app = TestApp::spawn().await;
    let (mut alice, project, items, mut watcher) = board(&app, 2).await;
    let [a, b] = &items[..] else { unreachable!() };
    alice
        .add_member(&project, "bob", pb::ProjectRole::Viewer)
        .await;
    let (r, _) = commit(&mut alice, blocks(a, b)).await;
    let dependency = r.dependency.unwrap();
    watcher.drain_events().await;
    let mut bob = app.editor("bob").await;

    let err = bob.err(relates(a, b)).await;
    assert_eq!(code(&err), pb::ErrorCode::PermissionDenied);
    let err = bob
        .err(pb::RemoveDependency {
            dependency_id: dependency.id.clone(),
        })
        .await;
    assert_eq!(code(&err), pb::ErrorCode::PermissionDenied);
    watcher.assert_no_events().await;
    assert_eq!(list(&mut bob, b).await.blocked_by, vec![dependency]);
}

#[tokio::test]
async fn a_storage_failure_while_reporting_a_flipped_blocked_state_fails_the_command_and_writes_nothing()
 {
    use pm_db::Connection;

    let app = TestApp::spawn().await;
    let (mut alice, _project, items, mut watcher) = board(&app, 2).await;
    let [blocker, blocked] = &items[..] else {
        unreachable!()
    };
    commit(&mut alice, blocks(blocker, blocked)).await;
    watcher.drain_events().await;
    // The blocked item's row is damaged behind the server's back: reading it fails, and not
    // because it was deleted.
    let path = app.dir.path().join("tenants/acme/pm.sqlite3");
    let mut conn = pm_db::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE work_items SET status = 'mislaid' WHERE id = ?")
        .bind(&blocked.id)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    // Finishing the blocker would unblock it: the report cannot be made, so the change is not
    // made either (rather than committing without the `blocked_changed` event).
    let err = alice
        .err(pb::UpdateWorkItem {
            work_item_id: blocker.id.clone(),
            version: blocker.version,
            status: Some(pb::WorkItemStatus::Done.into()),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&err), pb::ErrorCode::Internal, "{err:?}");
    let unchanged = alice
        .ok(pb::GetWorkItem {
            work_item: blocker.id.clone(),
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(
        (unchanged.status, unchanged.version),
        (blocker.status, blocker.version)
    );
    watcher.assert_no_events().await;
}

#[tokio::test]
async fn a_replayed_command_of_several_changes_gets_all_its_events_back_from_the_change_log() {
    let app = TestApp::spawn().await;
    let (mut alice, _project, items, mut watcher) = board(&app, 3).await;
    let [blocker, blocked, other] = &items[..] else {
        unreachable!()
    };
    commit(&mut alice, blocks(blocker, blocked)).await;
    watcher.drain_events().await;

    // Done: the blocker's own change and the blocked item's flip, two entries of one command.
    let id = request_id();
    let done = pb::MoveWorkItem {
        work_item_id: blocker.id.clone(),
        version: blocker.version,
        status: Some(pb::WorkItemStatus::Done.into()),
        ..Default::default()
    };
    alice.send(&id, done.clone()).await;
    let first = alice.reply_to(&id).await;
    assert_eq!(first.events.len(), 2);
    // Another command commits in between, so the replay must pick exactly this command's entries.
    commit(
        &mut alice,
        pb::UpdateWorkItem {
            work_item_id: other.id.clone(),
            version: other.version,
            title: Some("Later".into()),
            ..Default::default()
        },
    )
    .await;

    let mut reconnected = app.editor("alice").await;
    reconnected.send(&id, done).await;
    let again = reconnected.reply_to(&id).await;
    assert_eq!(
        again, first,
        "the same result and the same events, numbers included"
    );
    assert_eq!(
        watcher.drain_events().await.len(),
        3,
        "the replay wrote nothing"
    );
}
