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
