use pm_core::{ChangeKind, EntityKind, ProjectId, Timestamp};
use pm_db::change_log::{self, NewChange};

use crate::fixtures::*;

fn change(project: ProjectId, n: u8, at: Timestamp) -> NewChange {
    NewChange {
        project_id: Some(project),
        entity: EntityKind::WorkItem,
        entity_id: format!("item-{n}"),
        kind: ChangeKind::Upserted,
        payload: vec![n],
        actor: user("alice"),
        request_id: None,
        at,
    }
}

#[tokio::test]
async fn sequence_numbers_are_gap_free_and_a_rolled_back_change_leaves_no_hole() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let q = create_project(&db, "API").await;
    let mut tx = db.begin_write().await.unwrap();
    assert_eq!(append(&mut tx, &change(p.id, 1, now())).await, 1);
    tx.commit().await.unwrap();

    let mut tx = db.begin_write().await.unwrap();
    assert_eq!(append(&mut tx, &change(p.id, 2, now())).await, 2);
    drop(tx); // rolled back

    let mut tx = db.begin_write().await.unwrap();
    assert_eq!(append(&mut tx, &change(q.id, 3, now())).await, 2);
    assert_eq!(append(&mut tx, &change(p.id, 4, now())).await, 3);
    tx.commit().await.unwrap();

    let mut conn = db.reader().acquire().await.unwrap();
    assert_eq!(change_log::head(&mut conn).await.unwrap(), 3);
    let all = change_log::since(&mut conn, None, 0, 100).await.unwrap();
    assert_eq!(all.iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 2, 3]);
    let of_p = change_log::since(&mut conn, Some(p.id), 1, 100)
        .await
        .unwrap();
    assert_eq!(of_p.len(), 1);
    assert_eq!((of_p[0].seq, of_p[0].change.payload.clone()), (3, vec![4]));
}

#[tokio::test]
async fn purging_old_changes_keeps_the_head_and_never_reuses_a_number() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let old = Timestamp::from_millis(1_000);
    let mut tx = db.begin_write().await.unwrap();
    for n in 0..10 {
        append(&mut tx, &change(p.id, n, old)).await;
    }
    // Old entries beyond the newest 3 go.
    assert_eq!(
        change_log::purge(&mut tx, now(), 3, 1_000).await.unwrap(),
        7
    );
    assert_eq!(change_log::oldest(&mut tx).await.unwrap(), Some(8));
    // A count cap applies whatever the age.
    assert_eq!(change_log::purge(&mut tx, old, 0, 1).await.unwrap(), 2);
    assert_eq!(change_log::oldest(&mut tx).await.unwrap(), Some(10));
    assert_eq!(change_log::purge(&mut tx, now(), 0, 0).await.unwrap(), 1);
    assert_eq!(change_log::oldest(&mut tx).await.unwrap(), None);
    assert_eq!(change_log::head(&mut tx).await.unwrap(), 10);
    assert_eq!(append(&mut tx, &change(p.id, 11, now())).await, 11);
}
