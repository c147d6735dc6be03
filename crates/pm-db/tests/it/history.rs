use pm_core::{ChangeKind, EntityKind, ProjectId, TenantId};
use pm_db::change_log::NewChange;
use pm_db::{StorageConfig, TenantDb, TenantManager};

use crate::fixtures::*;

async fn append(db: &TenantDb, project: ProjectId, n: u8) -> i64 {
    let mut tx = db.begin_write().await.unwrap();
    let seq = crate::fixtures::append(
        &mut tx,
        &NewChange {
            project_id: Some(project),
            entity: EntityKind::WorkItem,
            entity_id: format!("item-{n}"),
            kind: ChangeKind::Upserted,
            payload: vec![n],
            actor: user("alice"),
            request_id: None,
            at: now(),
        },
    )
    .await;
    tx.commit().await.unwrap();
    seq
}

/// Reopens the tenant in a fresh manager over the same data directory (a server restart).
async fn reopen(store: &TestStore, id: &TenantId) -> (TenantManager, String) {
    let tenants = TenantManager::new(StorageConfig::new(store.dir.path()));
    let epoch = tenants.open(id).await.unwrap().epoch();
    (tenants, epoch)
}

/// Puts `file` in place of the tenant's database, as an operator would with the server stopped.
fn replace_file(store: &TestStore, file: &std::path::Path) {
    let dir = store.dir.path().join("tenants/acme");
    std::fs::copy(file, dir.join("copy.tmp")).unwrap();
    std::fs::rename(dir.join("copy.tmp"), dir.join("pm.sqlite3")).unwrap();
    for stale in ["pm.sqlite3-wal", "pm.sqlite3-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
}

#[tokio::test]
async fn a_database_keeps_its_history_epoch_across_restarts_and_maintenance() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let epoch = db.epoch();
    assert_eq!(epoch.len(), 32);
    let p = create_project(&db, "WEB").await;
    append(&db, p.id, 1).await;
    db.mark_history().await.unwrap();
    drop(db);
    store.tenants.close_all().await;
    let (again, reopened) = reopen(&store, &tenant("acme")).await;
    assert_eq!(reopened, epoch);
    again.close_all().await;
    assert_ne!(
        store.tenant("other").await.epoch(),
        epoch,
        "each database has its own"
    );
}

#[tokio::test]
async fn a_database_whose_history_went_back_gets_a_new_epoch_on_open() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    append(&db, p.id, 1).await;
    let backup = store.dir.path().join("backup.sqlite3");
    db.backup_to(&backup).await.unwrap();
    for n in 2..5 {
        append(&db, p.id, n).await;
    }
    let old = db.epoch();
    drop(db);
    store.tenants.close_all().await;

    replace_file(&store, &backup);
    let (tenants, epoch) = reopen(&store, &tenant("acme")).await;
    assert_ne!(epoch, old, "the head went back below the mark");
    tenants.close_all().await;
    let (_, again) = reopen(&store, &tenant("acme")).await;
    assert_eq!(again, epoch, "and the new epoch then stays");
}

#[tokio::test]
async fn a_database_with_other_changes_at_the_marked_seq_gets_a_new_epoch() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    append(&db, p.id, 1).await;
    let backup = store.dir.path().join("backup.sqlite3");
    db.backup_to(&backup).await.unwrap();
    let marked = append(&db, p.id, 2).await;
    let old = db.epoch();
    drop(db);
    store.tenants.close_all().await;

    // The backup, restored by hand elsewhere and written past the marked seq with other changes.
    let elsewhere = TestStore::new();
    let dir = elsewhere.dir.path().join("tenants/acme");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&backup, dir.join("pm.sqlite3")).unwrap();
    let other = elsewhere.tenant("acme").await;
    assert_eq!(append(&other, p.id, 9).await, marked);
    append(&other, p.id, 10).await;
    let diverged = elsewhere.dir.path().join("diverged.sqlite3");
    other.backup_to(&diverged).await.unwrap();

    replace_file(&store, &diverged);
    let (_, epoch) = reopen(&store, &tenant("acme")).await;
    assert_ne!(
        epoch, old,
        "same head or beyond, but another change at the marked seq"
    );
}

#[tokio::test]
async fn a_mark_written_before_a_crash_still_catches_a_replaced_database() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let backup = store.dir.path().join("backup.sqlite3");
    db.backup_to(&backup).await.unwrap();
    append(&db, p.id, 1).await;
    db.mark_history().await.unwrap();
    let old = db.epoch();
    // No clean close (a crash): only the mark maintenance wrote is there.
    std::mem::forget(db);
    replace_file(&store, &backup);
    let (_, epoch) = reopen(&store, &tenant("acme")).await;
    assert_ne!(epoch, old);
}
