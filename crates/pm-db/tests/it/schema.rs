use std::collections::{BTreeMap, BTreeSet};

use pm_core::{Dependency, DependencyId, DependencyType, SprintStatus, Timestamp, WorkItemType};
use pm_db::{
    Conflict, Error, StorageConfig, TenantManager, dependency, llm_context, project, sprint,
    time_entry, work_item,
};

use crate::fixtures::*;

/// Every table of the schema with its columns, read from SQLite itself.
async fn schema_columns(db: &pm_db::TenantDb) -> BTreeMap<String, BTreeSet<String>> {
    let mut conn = db.reader().acquire().await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for table in tables {
        let cols: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_xinfo(?)")
            .bind(&table)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        out.insert(table, cols.into_iter().collect());
    }
    out
}

#[tokio::test]
async fn migrations_apply_to_an_empty_file_and_are_idempotent_on_reopen() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let tables = schema_columns(&db).await;
    for t in [
        "projects",
        "project_members",
        "work_items",
        "sprints",
        "comments",
        "time_entries",
        "dependencies",
        "swim_lanes",
        "activity_log",
        "change_log",
        "idempotency_keys",
        "llm_context",
    ] {
        assert!(tables.contains_key(t), "table {t} missing");
    }
    let p = create_project(&db, "WEB").await;
    drop(db);
    store.tenants.close_all().await;

    // A fresh manager over the same directory opens the migrated file: nothing is re-applied
    // and the data is still there.
    let again = TenantManager::new(StorageConfig::new(store.dir.path()));
    let db = again.open(&tenant("acme")).await.unwrap();
    let mut conn = db.reader().acquire().await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .count();
    assert_eq!(applied, i64::try_from(files).unwrap());
    assert_eq!(project::get(&mut conn, p.id).await.unwrap().key, p.key);
    let context_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM llm_context")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let first_count = llm_context::list(&mut conn, None).await.unwrap().len();
    assert_eq!(
        context_rows,
        i64::try_from(first_count).unwrap(),
        "seed rows duplicated"
    );
}

#[tokio::test]
async fn every_table_and_column_the_llm_context_names_exists() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let tables = schema_columns(&db).await;
    let mut conn = db.reader().acquire().await.unwrap();
    let rows = llm_context::list(&mut conn, None).await.unwrap();
    assert!(rows.len() >= 15);
    for row in &rows {
        assert!(!row.refs.is_empty(), "row {:?} names nothing", row.title);
        for r in &row.refs {
            match r.split_once('.') {
                Some((table, column)) => assert!(
                    tables.get(table).is_some_and(|cols| cols.contains(column)),
                    "{:?} names {r}, which does not exist",
                    row.title
                ),
                None => assert!(
                    tables.contains_key(r.as_str()),
                    "{:?} names table {r}",
                    row.title
                ),
            }
        }
    }
    // And every table is described by a schema note.
    let described: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.kind == "schema")
        .map(|r| r.topic.as_str())
        .collect();
    for table in tables.keys() {
        assert!(
            described.contains(table.as_str()),
            "table {table} has no schema note"
        );
    }
    let rules = llm_context::list(&mut conn, Some("rule")).await.unwrap();
    assert!(!rules.is_empty() && rules.iter().all(|r| r.kind == "rule"));
}

#[tokio::test]
async fn a_second_running_timer_for_a_user_is_refused_by_the_database() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let a = create_item(&db, &p, WorkItemType::Task, "A", |_| {}).await;
    let b = create_item(&db, &p, WorkItemType::Task, "B", |_| {}).await;
    let start = now().plus_millis(-60_000);
    let mut tx = db.begin_write().await.unwrap();
    time_entry::insert(&mut tx, &new_time_entry(&a, "bob", start, None))
        .await
        .unwrap();
    // Another user may run a timer at the same time.
    time_entry::insert(&mut tx, &new_time_entry(&b, "carol", start, None))
        .await
        .unwrap();
    let err = time_entry::insert(&mut tx, &new_time_entry(&b, "bob", start, None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(Conflict::TimerAlreadyRunning)),
        "{err:?}"
    );
    // Finished entries are not limited.
    time_entry::insert(&mut tx, &new_time_entry(&b, "bob", start, Some(now())))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_second_active_sprint_in_a_project_is_refused_by_the_database() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let other = create_project(&db, "APP").await;
    let mut tx = db.begin_write().await.unwrap();
    sprint::insert(&mut tx, &new_sprint(&p, "S1", SprintStatus::Active))
        .await
        .unwrap();
    // Another project has its own active sprint.
    sprint::insert(&mut tx, &new_sprint(&other, "S1", SprintStatus::Active))
        .await
        .unwrap();
    let second = new_sprint(&p, "S2", SprintStatus::Planned);
    sprint::insert(&mut tx, &second).await.unwrap();
    let mut started = second.clone();
    started.status = SprintStatus::Active;
    let err = sprint::update(&mut tx, &started, second.version)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(Conflict::ActiveSprintExists)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_removed_dependency_can_be_added_again_but_a_live_duplicate_cannot() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let a = create_item(&db, &p, WorkItemType::Task, "A", |_| {}).await;
    let b = create_item(&db, &p, WorkItemType::Task, "B", |_| {}).await;
    let link = |t: DependencyType| Dependency {
        id: DependencyId::new(),
        project_id: p.id,
        blocking_id: a.id,
        blocked_id: b.id,
        dep_type: t,
        created_at: now(),
        created_by: user("alice"),
        deleted_at: None,
    };
    let mut tx = db.begin_write().await.unwrap();
    let first = dependency::insert(&mut tx, &link(DependencyType::Blocks))
        .await
        .unwrap();
    let err = dependency::insert(&mut tx, &link(DependencyType::Blocks))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(Conflict::DuplicateDependency)),
        "{err:?}"
    );
    dependency::soft_delete(&mut tx, first.id, now(), &user("alice"))
        .await
        .unwrap();
    dependency::insert(&mut tx, &link(DependencyType::Blocks))
        .await
        .unwrap();
    // relates_to is undirected: b relates_to a duplicates a relates_to b.
    dependency::insert(&mut tx, &link(DependencyType::RelatesTo))
        .await
        .unwrap();
    let mut reversed = link(DependencyType::RelatesTo);
    std::mem::swap(&mut reversed.blocking_id, &mut reversed.blocked_id);
    let err = dependency::insert(&mut tx, &reversed).await.unwrap_err();
    assert!(
        matches!(err, Error::Conflict(Conflict::DuplicateDependency)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_self_dependency_and_a_cross_project_link_are_refused_by_the_database() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let q = create_project(&db, "APP").await;
    let a = create_item(&db, &p, WorkItemType::Task, "A", |_| {}).await;
    let other = create_item(&db, &q, WorkItemType::Task, "Elsewhere", |_| {}).await;
    let mut tx = db.begin_write().await.unwrap();
    let mut d = Dependency {
        id: DependencyId::new(),
        project_id: p.id,
        blocking_id: a.id,
        blocked_id: a.id,
        dep_type: DependencyType::Blocks,
        created_at: now(),
        created_by: user("alice"),
        deleted_at: None,
    };
    assert!(matches!(
        dependency::insert(&mut tx, &d).await,
        Err(Error::ConstraintViolated)
    ));
    d.blocked_id = other.id;
    assert!(matches!(
        dependency::insert(&mut tx, &d).await,
        Err(Error::BrokenReference { .. })
    ));
}

#[tokio::test]
async fn a_parent_or_sprint_from_another_project_is_refused_by_the_database() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let q = create_project(&db, "APP").await;
    let epic = create_item(&db, &q, WorkItemType::Epic, "Other epic", |_| {}).await;
    let foreign_sprint = new_sprint(&q, "Theirs", SprintStatus::Planned);
    let mut tx = db.begin_write().await.unwrap();
    sprint::insert(&mut tx, &foreign_sprint).await.unwrap();
    let mut item = new_item(&p, 1, WorkItemType::Story, "Story");
    item.parent_id = Some(epic.id);
    assert!(matches!(
        work_item::insert(&mut tx, &item).await,
        Err(Error::BrokenReference { .. })
    ));
    item.parent_id = None;
    item.sprint_id = Some(foreign_sprint.id);
    assert!(matches!(
        work_item::insert(&mut tx, &item).await,
        Err(Error::BrokenReference { .. })
    ));
}

#[tokio::test]
async fn values_outside_the_domain_limits_are_refused_by_check_constraints() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let item = create_item(&db, &p, WorkItemType::Task, "A", |_| {}).await;
    let mut tx = db.begin_write().await.unwrap();
    let bad = [
        "UPDATE work_items SET story_points = 101",
        "UPDATE work_items SET status = 'doing'",
        "UPDATE work_items SET title = ''",
        "UPDATE projects SET key = 'web'",
    ];
    for sql in bad {
        let err = sqlx::query(sql).execute(&mut *tx).await.unwrap_err();
        assert!(err.to_string().contains("CHECK"), "{sql}: {err}");
    }
    let start = Timestamp::from_millis(0);
    let too_long = new_time_entry(
        &item,
        "bob",
        start,
        Some(start.plus_millis(24 * 3_600_000 + 1)),
    );
    assert!(matches!(
        time_entry::insert(&mut tx, &too_long).await,
        Err(Error::ConstraintViolated)
    ));
}

#[tokio::test]
async fn a_deleted_projects_key_can_be_reused() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let mut tx = db.begin_write().await.unwrap();
    let err = project::insert(&mut tx, &new_project("WEB"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(Conflict::ProjectKeyTaken)),
        "{err:?}"
    );
    project::soft_delete(&mut tx, p.id, p.version, now(), &user("alice"))
        .await
        .unwrap();
    project::insert(&mut tx, &new_project("WEB")).await.unwrap();
    tx.commit().await.unwrap();
}
