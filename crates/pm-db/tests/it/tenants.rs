use std::sync::Arc;
use std::time::Duration;

use pm_core::WorkItemType;
use pm_db::{Error, project, work_item};

use crate::fixtures::*;

#[tokio::test]
async fn tenant_ids_that_could_escape_the_data_directory_are_refused_before_any_path_is_built() {
    let store = TestStore::new();
    for bad in ["", "..", "../evil", "a/b", "/etc", "A", &"x".repeat(65)] {
        let err = store.tenants.open_str(bad).await.unwrap_err();
        assert!(matches!(err, Error::InvalidTenant(_)), "{bad:?}: {err:?}");
    }
    assert!(
        !store.dir.path().join("tenants").exists(),
        "a directory was created"
    );
    assert_eq!(store.tenants.opens_performed(), 0);
}

#[tokio::test]
async fn a_tenant_file_lives_under_its_own_directory() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    assert_eq!(db.path(), store.dir.path().join("tenants/acme/pm.sqlite3"));
    assert!(db.path().is_file());
    assert_eq!(
        store.tenants.tenants_on_disk().unwrap(),
        vec![tenant("acme")]
    );
}

#[tokio::test]
async fn concurrent_first_opens_of_one_tenant_share_one_pool() {
    let store = Arc::new(TestStore::new());
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.tenant("acme").await })
        })
        .collect();
    let mut dbs = Vec::new();
    for t in tasks {
        dbs.push(t.await.unwrap());
    }
    assert!(dbs.iter().all(|db| Arc::ptr_eq(db, &dbs[0])));
    assert_eq!(store.tenants.opens_performed(), 1);
    assert_eq!(store.tenants.open_count(), 1);
}

#[tokio::test]
async fn two_tenants_are_fully_isolated_even_with_the_same_ids() {
    let store = TestStore::new();
    let a = store.tenant("tenant-a").await;
    let b = store.tenant("tenant-b").await;
    let p = create_project(&a, "WEB").await;
    // The very same project (same id, same key) can exist in the other tenant independently.
    let mut tx = b.begin_write().await.unwrap();
    project::insert(&mut tx, &p).await.unwrap();
    tx.commit().await.unwrap();
    create_item(&a, &p, WorkItemType::Task, "Only in A", |_| {}).await;

    let mut conn = b.reader().acquire().await.unwrap();
    let items = work_item::list(&mut conn, p.id, &Default::default())
        .await
        .unwrap();
    assert!(items.is_empty(), "tenant B sees tenant A's item");
    let mut conn = a.reader().acquire().await.unwrap();
    assert_eq!(
        work_item::list(&mut conn, p.id, &Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_least_recently_used_idle_tenant_is_closed_when_the_cap_is_reached() {
    let store = TestStore::with(|c| c.max_open_tenants = 2);
    let a = store.tenant("a").await;
    let p = create_project(&a, "KEEP").await;
    drop(a);
    drop(store.tenant("b").await);
    drop(store.tenant("c").await);
    assert_eq!(store.tenants.open_count(), 2);

    // "a" was the least recently used, so it was closed; reopening it finds its data intact.
    let a = store.tenant("a").await;
    assert_eq!(store.tenants.opens_performed(), 4);
    let mut conn = a.reader().acquire().await.unwrap();
    assert_eq!(
        project::get(&mut conn, p.id).await.unwrap().key.as_str(),
        "KEEP"
    );
}

#[tokio::test]
async fn a_tenant_in_use_is_never_closed_under_its_holder() {
    let store = TestStore::with(|c| {
        c.max_open_tenants = 1;
        c.idle_timeout = Duration::ZERO;
    });
    let held = store.tenant("held").await;
    drop(store.tenant("other").await);
    assert_eq!(
        store.tenants.close_idle().await,
        1,
        "only the unheld tenant closes"
    );
    // The held database still works.
    create_project(&held, "LIVE").await;
    assert_eq!(store.tenants.open_count(), 1);
}

#[tokio::test]
async fn one_tenant_is_closed_on_request_only_when_nobody_holds_it() {
    let store = TestStore::new();
    let held = store.tenant("held").await;
    drop(store.tenant("other").await);
    let id = |s: &str| pm_core::TenantId::parse(s).unwrap();
    assert!(
        !store.tenants.close(&id("held")).await,
        "a held tenant stays open"
    );
    assert!(store.tenants.close(&id("other")).await);
    assert!(store.tenants.close(&id("never-opened")).await);
    assert_eq!(store.tenants.open_count(), 1);
    drop(held);
    assert!(store.tenants.close(&id("held")).await);
    assert_eq!(store.tenants.open_count(), 0);
}

#[tokio::test]
async fn idle_tenants_are_closed_and_reopen_cleanly() {
    let store = TestStore::with(|c| c.idle_timeout = Duration::ZERO);
    let db = store.tenant("idle").await;
    let p = create_project(&db, "IDLE").await;
    drop(db);
    assert_eq!(store.tenants.close_idle().await, 1);
    assert_eq!(store.tenants.open_count(), 0);
    let db = store.tenant("idle").await;
    let mut conn = db.reader().acquire().await.unwrap();
    assert!(project::get(&mut conn, p.id).await.is_ok());
}

#[tokio::test]
async fn every_connection_has_the_required_pragmas() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let mut tx = db.begin_write().await.unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!((journal.as_str(), fk, sync), ("wal", 1, 1));
    assert!(busy > 0);
    drop(tx);
    let mut conn = db.reader().acquire().await.unwrap();
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(fk, 1);
}
