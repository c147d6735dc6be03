//! WAL checkpoints run off the commit path: SQLite's automatic checkpoint (inside the commit that
//! crosses its threshold) is off, and a commit that leaves the WAL past its bound starts one in the
//! background. The checkpoints are awaited here, so nothing depends on timing.

use pm_core::WorkItemType;

use crate::fixtures::*;

/// A small bound, so a few dozen commits cross it.
const BOUND: u64 = 64 * 1024;

#[tokio::test]
async fn sqlite_does_not_checkpoint_inside_commits() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let mut writer = db.writer().await.unwrap();
    let pages: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(&mut *writer)
        .await
        .unwrap();
    assert_eq!(pages, 0);
}

#[tokio::test]
async fn commits_past_the_bound_start_a_checkpoint_and_the_wal_stays_bounded() {
    let store = TestStore::with(|c| {
        c.wal_checkpoint_bytes = BOUND;
        c.wal_truncate_bytes = 1 << 30;
    });
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let (mut checkpoints, mut largest) = (0, 0);
    let mut written = 0;
    for i in 0..300 {
        let before = db.wal_size();
        create_item(&db, &p, WorkItemType::Task, &format!("item {i}"), |_| {}).await;
        let after = db.wal_size();
        // (Opening the database wrote the schema: what counts is once checkpoints run.)
        if checkpoints > 0 {
            largest = largest.max(after);
        }
        // What the WAL would hold without checkpoints is at least the sum of its growth.
        written += after.saturating_sub(before);
        if let Some(checkpoint) = db.committed() {
            checkpoint.await.unwrap();
            checkpoints += 1;
        }
    }
    // Started when the bound is crossed, not by every commit.
    assert!(
        checkpoints > 1 && checkpoints < 150,
        "{checkpoints} checkpoints"
    );
    assert!(
        written > 4 * BOUND && largest < 2 * BOUND,
        "the WAL reached {largest} bytes ({written} written)"
    );
    assert_eq!(store.tenants.checkpoints_performed(), checkpoints);
}

#[tokio::test]
async fn a_wal_past_the_truncate_bound_is_checkpointed_and_emptied() {
    let store = TestStore::with(|c| {
        c.wal_checkpoint_bytes = 1 << 30;
        c.wal_truncate_bytes = BOUND;
    });
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let mut i = 0;
    while db.wal_size() <= BOUND {
        create_item(&db, &p, WorkItemType::Task, &format!("item {i}"), |_| {}).await;
        i += 1;
    }
    let checkpoint = db.checkpoint().await.unwrap();
    assert!(checkpoint.complete, "{checkpoint:?}");
    assert_eq!(db.wal_size(), 0);
}
