//! Group commit: mutations that queue while their tenant's writer is busy commit together, each in
//! its own savepoint. A batch is forced without timing: the test holds the tenant database's write
//! lock with a connection of its own (`BEGIN IMMEDIATE` on the same file), sends commands until
//! `/metrics` reports them all queued, then lets go.

use pm_core::TenantRole;
use pm_db::Connection;
use pm_proto::pb::{self, server_message::Message as Server};

use crate::helpers::{Client, PATIENCE, TestApp, code, request_id};

/// Holds the write lock of tenant "acme"'s database until dropped or rolled back.
async fn hold_write_lock(app: &TestApp) -> pm_db::SqliteConnection {
    let path = app.dir.path().join("tenants/acme/pm.sqlite3");
    let mut conn = pm_db::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

async fn release(mut conn: pm_db::SqliteConnection) {
    sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn metrics(app: &TestApp) -> String {
    reqwest::get(format!("http://{}/metrics", app.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{body}"))
}

/// Waits until the server reports `n` mutations waiting for a writer (each poll is a real
/// request; the patience only turns a hang into a failure).
async fn until_queued(app: &TestApp, n: usize) {
    let wait = async {
        loop {
            if metric(&metrics(app).await, "pm_writes_queued") as usize == n {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .unwrap_or_else(|_| panic!("{n} mutations never queued"));
}

/// (batches, commands) committed so far, from the batch size histogram.
async fn batches(app: &TestApp) -> (f64, f64) {
    let body = metrics(app).await;
    (
        metric(&body, "pm_write_batch_commands_count"),
        metric(&body, "pm_write_batch_commands_sum"),
    )
}

/// A project with `n` items, alice's connection that made it, and `n` more of her connections,
/// each subscribed to the project.
async fn setup(app: &TestApp, n: usize) -> (pb::Project, Vec<pb::WorkItem>, Vec<Client>) {
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("GRP").await;
    let mut items = Vec::new();
    for i in 0..n {
        items.push(
            alice
                .create_item(&project, pb::WorkItemType::Task, &format!("item {i}"))
                .await,
        );
    }
    let mut writers = Vec::new();
    for _ in 0..n {
        let mut c = app.editor("alice").await;
        c.subscribe(&project.id).await;
        writers.push(c);
    }
    (project, items, writers)
}

fn rename(item: &pb::WorkItem, version: i64, title: &str) -> pb::UpdateWorkItem {
    pb::UpdateWorkItem {
        work_item_id: item.id.clone(),
        version,
        title: Some(title.to_owned()),
        ..Default::default()
    }
}

/// Everything a connection received up to and including the reply to `id`, as the sequence
/// numbers it saw in arrival order (events, then the reply's own events where the reply came).
async fn seqs_through_reply(client: &mut Client, id: &str) -> (Vec<u64>, pb::Reply) {
    let mut seen = Vec::new();
    loop {
        match client.next_message().await.message {
            Some(Server::Event(e)) => seen.push(e.seq),
            Some(Server::Reply(r)) if r.request_id == id => {
                seen.extend(r.events.iter().map(|e| e.seq));
                return (seen, r);
            }
            Some(Server::Presence(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_batch_commits_together_and_a_refused_command_rolls_back_alone() {
    let app = TestApp::spawn().await;
    const N: usize = 6;
    const REFUSED: usize = 2;
    let (project, items, mut writers) = setup(&app, N).await;
    let mut watcher = app.client("acme", "root", TenantRole::Admin).await;
    let head = watcher.subscribe(&project.id).await.head_seq;
    let before = batches(&app).await;

    let lock = hold_write_lock(&app).await;
    let mut ids = Vec::new();
    for (i, (client, item)) in writers.iter_mut().zip(&items).enumerate() {
        let id = request_id();
        // One of them names a version the item never had: refused as stale.
        let version = if i == REFUSED { 99 } else { item.version };
        client
            .send(&id, rename(item, version, &format!("renamed {i}")))
            .await;
        ids.push(id);
    }
    until_queued(&app, N).await;
    release(lock).await;

    let mut replies = Vec::new();
    for (client, id) in writers.iter_mut().zip(&ids) {
        replies.push(seqs_through_reply(client, id).await);
    }
    let after = batches(&app).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1.0, N as f64),
        "one batch of every queued command"
    );

    // The refused command got its own error and wrote nothing; the others committed.
    for (i, (_, reply)) in replies.iter().enumerate() {
        match (&reply.result, i == REFUSED) {
            (Some(pb::reply::Result::Error(e)), true) => {
                assert_eq!(code(e), pb::ErrorCode::Conflict, "{e:?}");
                assert!(reply.events.is_empty());
            }
            (Some(pb::reply::Result::WorkItem(r)), false) => {
                assert_eq!(r.work_item.as_ref().unwrap().title, format!("renamed {i}"));
                assert_eq!(reply.events.len(), 1, "{reply:?}");
            }
            (other, _) => panic!("command {i}: unexpected {other:?}"),
        }
    }
    let refused = watcher
        .ok(pb::GetWorkItem {
            work_item: items[REFUSED].id.clone(),
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(
        (refused.title.as_str(), refused.version),
        ("item 2", items[REFUSED].version)
    );

    // Sequence numbers follow on from the head with no gap, in queue order.
    let expected: Vec<u64> = (head + 1..=head + (N as u64 - 1)).collect();
    let in_reply_order: Vec<u64> = replies
        .iter()
        .flat_map(|(_, r)| r.events.iter().map(|e| e.seq))
        .collect();
    assert_eq!(in_reply_order, expected);
    // Every subscriber sees them all, in order and without a gap: each writer its own in its
    // reply (after the earlier ones, before the later ones), the watcher as events.
    for ((seen, _), client) in replies.iter().zip(&mut writers) {
        let mut all = seen.clone();
        all.extend(client.drain_events().await.iter().map(|e| e.seq));
        assert_eq!(all, expected);
    }
    let watched: Vec<u64> = watcher.drain_events().await.iter().map(|e| e.seq).collect();
    assert_eq!(watched, expected);
}

#[tokio::test]
async fn the_same_request_id_twice_in_one_batch_replays_the_first() {
    let app = TestApp::spawn().await;
    let (project, items, mut writers) = setup(&app, 2).await;
    let mut watcher = app.client("acme", "root", TenantRole::Admin).await;
    watcher.subscribe(&project.id).await;
    let before = batches(&app).await;

    let lock = hold_write_lock(&app).await;
    let id = request_id();
    let command = rename(&items[0], items[0].version, "once");
    for client in &mut writers {
        client.send(&id, command.clone()).await;
    }
    until_queued(&app, 2).await;
    release(lock).await;

    let first = writers[0].reply_to(&id).await;
    let second = writers[1].reply_to(&id).await;
    let after = batches(&app).await;
    assert_eq!((after.0 - before.0, after.1 - before.1), (1.0, 2.0));
    assert!(
        matches!(first.result, Some(pb::reply::Result::WorkItem(_))),
        "{first:?}"
    );
    assert_eq!(first, second, "the second is the first's stored reply");
    let events = watcher.drain_events().await;
    assert_eq!(events.len(), 1, "written once: {events:?}");
    let item = watcher
        .ok(pb::GetWorkItem {
            work_item: items[0].id.clone(),
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(item.version, items[0].version + 1);
}

#[tokio::test]
async fn a_command_refused_after_it_wrote_is_undone_alone_inside_its_batch() {
    let app = TestApp::spawn().await;
    let (project, items, mut writers) = setup(&app, 4).await;
    // items[1] blocks items[2]; items[2]'s row is then damaged behind the server's back, so
    // finishing items[1] updates its row and then fails reading items[2] to report the flip.
    let link = pb::AddDependency {
        blocking_id: items[1].id.clone(),
        blocked_id: items[2].id.clone(),
        r#type: pb::DependencyType::Blocks.into(),
    };
    writers[0].ok(link).await;
    let mut watcher = app.client("acme", "root", TenantRole::Admin).await;
    let head = watcher.subscribe(&project.id).await.head_seq;
    for w in &mut writers {
        w.drain_events().await;
    }
    let mut lock = hold_write_lock(&app).await;
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&mut lock)
        .await
        .unwrap();
    sqlx::query("UPDATE work_items SET status = 'mislaid' WHERE id = ?")
        .bind(&items[2].id)
        .execute(&mut lock)
        .await
        .unwrap();
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .unwrap();

    let done = pb::UpdateWorkItem {
        work_item_id: items[1].id.clone(),
        version: items[1].version,
        status: Some(pb::WorkItemStatus::Done.into()),
        ..Default::default()
    };
    let ids: Vec<String> = (0..3).map(|_| request_id()).collect();
    writers[0]
        .send(&ids[0], rename(&items[0], items[0].version, "first"))
        .await;
    writers[1].send(&ids[1], done).await;
    writers[3]
        .send(&ids[2], rename(&items[3], items[3].version, "last"))
        .await;
    until_queued(&app, 3).await;
    let before = batches(&app).await;
    release(lock).await;

    let (_, first) = seqs_through_reply(&mut writers[0], &ids[0]).await;
    let (_, refused) = seqs_through_reply(&mut writers[1], &ids[1]).await;
    let (_, last) = seqs_through_reply(&mut writers[3], &ids[2]).await;
    let after = batches(&app).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1.0, 3.0),
        "one batch"
    );
    let Some(pb::reply::Result::Error(e)) = &refused.result else {
        panic!("the failing command is refused: {refused:?}")
    };
    assert_eq!(code(e), pb::ErrorCode::Internal);
    assert!(refused.events.is_empty());
    // The others committed around it, with consecutive numbers: nothing of the refused one
    // (its row update, change-log entry or record) survived.
    let seqs: Vec<u64> = [&first, &last]
        .iter()
        .flat_map(|r| r.events.iter().map(|e| e.seq))
        .collect();
    assert_eq!(seqs, [head + 1, head + 2]);
    let unchanged = watcher
        .ok(pb::GetWorkItem {
            work_item: items[1].id.clone(),
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(
        (unchanged.status, unchanged.version),
        (items[1].status, items[1].version)
    );
    let watched: Vec<u64> = watcher.drain_events().await.iter().map(|e| e.seq).collect();
    assert_eq!(watched, [head + 1, head + 2]);
}
