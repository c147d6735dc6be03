//! History epochs: a tenant restored from a backup reuses sequence numbers for different changes,
//! so clients hold (epoch, seq) and a resume from another epoch is told to resync — over `/ws`
//! and over the REST change feed — whether the backup came back through `pm-server restore` or a
//! file copied by hand.

use std::path::{Path, PathBuf};

use pm_core::TenantRole;
use pm_proto::pb::{self, server_message::Message as Server};
use reqwest::StatusCode;

use crate::helpers::*;

async fn add_items(client: &mut Client, project: &pb::Project, n: usize) {
    for i in 0..n {
        client
            .create_item(project, pb::WorkItemType::Task, &format!("item {i}"))
            .await;
    }
}

fn config_for(dir: &Path) -> pm_server::Config {
    let mut config = pm_server::Config::for_data_dir(dir);
    config.jwt_secret = Some(SECRET.to_vec().into());
    config
}

/// Subscribes with `since` in `epoch` and returns what followed the `Subscribed` reply.
async fn resume(client: &mut Client, project: &str, since: u64, epoch: &str) -> Vec<Server> {
    let subscribed = client
        .ok(pb::Subscribe {
            project_id: project.to_owned(),
            since: Some(since),
            history_epoch: epoch.to_owned(),
        })
        .await;
    assert_eq!(subscribed.history_epoch, client.welcome.history_epoch);
    client
        .drain_messages()
        .await
        .into_iter()
        .filter_map(|m| m.message)
        .filter(|m| !matches!(m, Server::Presence(_)))
        .collect()
}

fn epoch_resync(messages: &[Server]) -> Option<&pb::ResyncRequired> {
    messages.iter().find_map(|m| match m {
        Server::ResyncRequired(r) if r.reason() == pb::ResyncReason::EpochChanged => Some(r),
        _ => None,
    })
}

async fn changes(app: &TestApp, token: &str, since: u64, epoch: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/changes?since={since}&epoch={epoch}",
            app.addr
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn welcome_subscribed_and_snapshot_name_the_same_history_epoch() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let epoch = alice.welcome.history_epoch.clone();
    assert_eq!(
        epoch.len(),
        32,
        "an epoch is 128 random bits in hex: {epoch:?}"
    );
    let project = alice.create_project("EPO").await;
    let subscribed = alice.subscribe(&project.id).await;
    assert_eq!(subscribed.history_epoch, epoch);
    let snapshot = alice
        .ok(pb::GetSnapshot {
            project_id: project.id.clone(),
        })
        .await;
    assert_eq!(snapshot.history_epoch, epoch);

    // Another tenant is another history.
    let other = app.client("other", "bob", TenantRole::Editor).await;
    assert_ne!(other.welcome.history_epoch, epoch);
}

#[tokio::test]
async fn a_resume_from_another_epoch_or_without_one_is_told_to_resync() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("EPO").await;
    add_items(&mut alice, &project, 3).await;
    let head = alice
        .ok(pb::GetSnapshot {
            project_id: project.id.clone(),
        })
        .await
        .seq;

    let mut bob = app.editor("alice").await;
    let epoch = bob.welcome.history_epoch.clone();
    // The right epoch replays as before.
    let replay = resume(&mut bob, &project.id, head - 2, &epoch).await;
    assert!(epoch_resync(&replay).is_none(), "{replay:?}");
    assert_eq!(
        replay
            .iter()
            .filter(|m| matches!(m, Server::Event(_)))
            .count(),
        2
    );

    for wrong in ["", "0123456789abcdef0123456789abcdef"] {
        let mut carol = app.editor("alice").await;
        let messages = resume(&mut carol, &project.id, head - 2, wrong).await;
        let resync = epoch_resync(&messages).expect("an EPOCH_CHANGED resync");
        assert_eq!(resync.history_epoch, epoch);
        assert_eq!(resync.project_id, project.id);
        assert!(
            !messages.iter().any(|m| matches!(m, Server::Event(_))),
            "nothing of the other history is replayed: {messages:?}"
        );
    }
}

/// The reproduction: note the head, restore a backup taken earlier, write until the head
/// passes the old one again; a client holding the old (epoch, head) must not resume silently.
async fn restored_history_is_detected(restore: impl AsyncFnOnce(&Path, &Path)) {
    let mut app = TestApp::spawn().await;
    let token = app.token("acme", "alice", TenantRole::Editor);
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("RES").await;
    add_items(&mut alice, &project, 5).await;
    let backup_dir = tempfile::tempdir().unwrap();
    pm_server::admin::backup(
        &config_for(app.dir.path()),
        backup_dir.path(),
        pm_server::admin::WhenEmpty::Refuse,
    )
    .await
    .unwrap();
    add_items(&mut alice, &project, 5).await;
    let old_epoch = alice.welcome.history_epoch.clone();
    let old_head = alice
        .ok(pb::GetSnapshot {
            project_id: project.id.clone(),
        })
        .await
        .seq;
    drop(alice);
    app.stop().await.unwrap();

    let dir = app.take_dir();
    let backup: PathBuf = backup_dir.path().join("tenants/acme/pm.sqlite3");
    restore(dir.path(), &backup).await;

    let app = TestApp::spawn_in(dir, |_| {}).await;
    let mut alice = app.editor("alice").await;
    assert_ne!(
        alice.welcome.history_epoch, old_epoch,
        "the restore started a new epoch"
    );
    // Write until the head passes the old one: the same numbers now name other changes.
    add_items(&mut alice, &project, 8).await;
    let snapshot = alice
        .ok(pb::GetSnapshot {
            project_id: project.id.clone(),
        })
        .await;
    assert!(snapshot.seq > old_head, "{} > {old_head}", snapshot.seq);

    let mut bob = app.editor("alice").await;
    let messages = resume(&mut bob, &project.id, old_head, &old_epoch).await;
    let resync = epoch_resync(&messages).expect("the stale client is told to resync");
    assert_eq!(resync.history_epoch, alice.welcome.history_epoch);

    let gone = changes(&app, &token, old_head, &old_epoch).await;
    assert_eq!(gone.status(), StatusCode::GONE);
    let body: serde_json::Value = gone.json().await.unwrap();
    assert_eq!(body["error"]["code"], "resync_required");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("history was replaced"), "{message}");
    // With the current epoch the feed goes on.
    let ok = changes(&app, &token, old_head, &snapshot.history_epoch).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let page: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(page["history_epoch"], snapshot.history_epoch);
}

#[tokio::test]
async fn the_restore_command_starts_a_new_epoch_that_stale_clients_notice() {
    restored_history_is_detected(async |data_dir: &Path, backup: &Path| {
        let restored = pm_server::admin::restore(&config_for(data_dir), "acme", backup)
            .await
            .unwrap();
        assert_eq!(restored.history_epoch.len(), 32);
    })
    .await;
}

#[tokio::test]
async fn a_backup_copied_in_by_hand_is_noticed_and_gets_a_new_epoch() {
    restored_history_is_detected(async |data_dir: &Path, backup: &Path| {
        let live = data_dir.join("tenants/acme");
        // Copied beside and renamed over: an operator copies after the old process exited, and
        // the in-process server of this test may still be releasing its file handles.
        std::fs::copy(backup, live.join("copy.tmp")).unwrap();
        std::fs::rename(live.join("copy.tmp"), live.join("pm.sqlite3")).unwrap();
        for stale in ["pm.sqlite3-wal", "pm.sqlite3-shm"] {
            let _ = std::fs::remove_file(live.join(stale));
        }
    })
    .await;
}

#[tokio::test]
async fn etags_change_when_the_history_is_replaced_at_the_same_seq() {
    let mut app = TestApp::spawn().await;
    let token = app.token("acme", "alice", TenantRole::Editor);
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("TAG").await;
    add_items(&mut alice, &project, 2).await;
    let get = |app: &TestApp| {
        reqwest::Client::new()
            .get(format!("http://{}/api/v1/projects/TAG", app.addr))
            .bearer_auth(&token)
            .send()
    };
    let before = get(&app).await.unwrap();
    let tag = before.headers()["etag"].to_str().unwrap().to_owned();
    drop(alice);
    app.stop().await.unwrap();
    let dir = app.take_dir();
    // Restore the database onto itself: the same content and seq, a new history.
    let copy = tempfile::tempdir().unwrap();
    pm_server::admin::backup(
        &config_for(dir.path()),
        copy.path(),
        pm_server::admin::WhenEmpty::Refuse,
    )
    .await
    .unwrap();
    pm_server::admin::restore(
        &config_for(dir.path()),
        "acme",
        &copy.path().join("tenants/acme/pm.sqlite3"),
    )
    .await
    .unwrap();
    let app = TestApp::spawn_in(dir, |_| {}).await;
    let after = get(&app).await.unwrap();
    let new_tag = after.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(tag, new_tag);
}
