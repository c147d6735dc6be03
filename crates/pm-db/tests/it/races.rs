//! Concurrency claims, proven with many tasks on the same rows.

use std::collections::BTreeSet;
use std::sync::Arc;

use pm_core::{Priority, WorkItemType};
use pm_db::{Conflict, Error, work_item};

use crate::fixtures::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_writers_holding_the_same_version_exactly_one_wins() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let item = create_item(&db, &p, WorkItemType::Task, "Contended", |_| {}).await;
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let db = Arc::clone(&db);
            let mut changed = item.clone();
            changed.title = pm_core::Title::parse(&format!("Writer {i}")).unwrap();
            changed.priority = Priority::High;
            tokio::spawn(async move {
                let mut tx = db.begin_write().await?;
                let stored = work_item::update(&mut tx, &changed, item.version).await?;
                tx.commit().await?;
                Ok::<_, Error>(stored)
            })
        })
        .collect();
    let mut wins = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(stored) => wins.push(stored),
            Err(Error::Conflict(Conflict::StaleVersion {
                current_version, ..
            })) => {
                assert_eq!(current_version, 2);
                conflicts += 1;
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(wins.len(), 1);
    assert_eq!(conflicts, 23);
    let mut conn = db.reader().acquire().await.unwrap();
    let stored = work_item::get(&mut conn, item.id).await.unwrap();
    assert_eq!(
        stored.title, wins[0].title,
        "the winner's write is the one stored"
    );
    assert_eq!(stored.version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn item_numbers_stay_unique_under_concurrent_creates_in_one_project() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = Arc::new(create_project(&db, "WEB").await);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let db = Arc::clone(&db);
            let p = Arc::clone(&p);
            tokio::spawn(async move {
                create_item(&db, &p, WorkItemType::Task, &format!("Item {i}"), |_| {}).await
            })
        })
        .collect();
    let mut numbers = BTreeSet::new();
    for t in tasks {
        numbers.insert(t.await.unwrap().key.number);
    }
    assert_eq!(numbers, (1..=50).collect::<BTreeSet<_>>());
}
