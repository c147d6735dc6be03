//! Create, get, list, update and soft delete for every entity.

use pm_core::{
    ActivityAction, CommentBody, EntityKind, Priority, ProjectMember, ProjectRole, ProjectStatus,
    SprintStatus, StoryPoints, Timestamp, Title, WorkItemStatus, WorkItemType,
};
use pm_db::activity::{self, NewActivity};
use pm_db::{
    Conflict, Error, comment, idempotency, journal, member, project, sprint, swim_lane, time_entry,
    work_item,
};

use crate::fixtures::*;

#[tokio::test]
async fn projects_can_be_created_read_listed_updated_and_soft_deleted() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let q = create_project(&db, "API").await;
    let mut tx = db.begin_write().await.unwrap();
    assert_eq!(project::get(&mut tx, p.id).await.unwrap(), p);
    assert_eq!(project::get_by_key(&mut tx, &p.key).await.unwrap().id, p.id);
    let keys: Vec<_> = project::list(&mut tx, None, false)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(keys, vec![q.key.clone(), p.key.clone()], "ordered by key");

    let mut changed = p.clone();
    changed.title = Title::parse("Website").unwrap();
    changed.status = ProjectStatus::Archived;
    let stored = project::update(&mut tx, &changed, p.version).await.unwrap();
    assert_eq!((stored.version, stored.title.as_str()), (2, "Website"));
    assert_eq!(
        project::list(&mut tx, None, false).await.unwrap().len(),
        1,
        "archived hidden"
    );
    assert_eq!(project::list(&mut tx, None, true).await.unwrap().len(), 2);

    project::soft_delete(&mut tx, p.id, stored.version, now(), &user("alice"))
        .await
        .unwrap();
    assert!(matches!(
        project::get(&mut tx, p.id).await,
        Err(Error::NotFound {
            entity: EntityKind::Project
        })
    ));
    assert_eq!(project::list(&mut tx, None, true).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_project_list_for_a_member_shows_only_their_projects() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    create_project(&db, "API").await;
    let mut tx = db.begin_write().await.unwrap();
    let at = now();
    let m = ProjectMember {
        project_id: p.id,
        user_id: user("bob"),
        role: ProjectRole::Editor,
        version: 1,
        created_at: at,
        created_by: user("alice"),
        updated_at: at,
        updated_by: user("alice"),
    };
    member::insert(&mut tx, &m).await.unwrap();
    let seen = project::list(&mut tx, Some(&user("bob")), false)
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].id, p.id);
    assert!(
        project::list(&mut tx, Some(&user("nobody")), false)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn members_can_be_added_listed_re_roled_and_removed() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let mut tx = db.begin_write().await.unwrap();
    let at = now();
    let m = |who: &str, role| ProjectMember {
        project_id: p.id,
        user_id: user(who),
        role,
        version: 1,
        created_at: at,
        created_by: user("alice"),
        updated_at: at,
        updated_by: user("alice"),
    };
    member::insert(&mut tx, &m("alice", ProjectRole::Admin))
        .await
        .unwrap();
    member::insert(&mut tx, &m("bob", ProjectRole::Viewer))
        .await
        .unwrap();
    let dup = member::insert(&mut tx, &m("bob", ProjectRole::Editor))
        .await
        .unwrap_err();
    assert!(matches!(dup, Error::Conflict(Conflict::AlreadyMember)));
    assert_eq!(member::list(&mut tx, p.id).await.unwrap().len(), 2);
    assert_eq!(member::count_admins(&mut tx, p.id).await.unwrap(), 1);

    let promoted = member::update_role(&mut tx, &m("bob", ProjectRole::Admin), 1)
        .await
        .unwrap();
    assert_eq!((promoted.role, promoted.version), (ProjectRole::Admin, 2));
    let stale = member::update_role(&mut tx, &m("bob", ProjectRole::Viewer), 1)
        .await
        .unwrap_err();
    assert!(matches!(
        stale,
        Error::Conflict(Conflict::StaleVersion {
            current_version: 2,
            ..
        })
    ));
    assert_eq!(member::count_admins(&mut tx, p.id).await.unwrap(), 2);

    member::remove(&mut tx, p.id, &user("bob")).await.unwrap();
    assert!(
        member::find(&mut tx, p.id, &user("bob"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        member::remove(&mut tx, p.id, &user("bob")).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn work_items_can_be_created_read_filtered_updated_and_soft_deleted() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let epic = create_item(&db, &p, WorkItemType::Epic, "Checkout", |_| {}).await;
    let story = create_item(&db, &p, WorkItemType::Story, "Pay by card", |w| {
        w.parent_id = Some(epic.id);
        w.status = WorkItemStatus::Todo;
        w.assignee = Some(user("bob"));
    })
    .await;
    let task = create_item(
        &db,
        &p,
        WorkItemType::Task,
        "Validate 100% of CVC_codes",
        |w| {
            w.parent_id = Some(story.id);
            w.story_points = Some(StoryPoints::new(3).unwrap());
        },
    )
    .await;
    assert_eq!(
        [
            epic.key.to_string(),
            story.key.to_string(),
            task.key.to_string()
        ],
        ["WEB-1", "WEB-2", "WEB-3"]
    );

    let mut tx = db.begin_write().await.unwrap();
    assert_eq!(
        work_item::get_by_key(&mut tx, &task.key).await.unwrap().id,
        task.id
    );
    let ancestors = work_item::ancestors(&mut tx, &task).await.unwrap();
    assert_eq!(
        ancestors.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![story.id, epic.id]
    );
    assert_eq!(
        work_item::children(&mut tx, story.id).await.unwrap()[0].id,
        task.id
    );
    assert_eq!(
        work_item::count_children(&mut tx, epic.id).await.unwrap(),
        1
    );

    let f = work_item::Filter {
        types: vec![WorkItemType::Story, WorkItemType::Task],
        ..Default::default()
    };
    assert_eq!(work_item::list(&mut tx, p.id, &f).await.unwrap().len(), 2);
    let f = work_item::Filter {
        statuses: vec![WorkItemStatus::Todo],
        ..Default::default()
    };
    assert_eq!(
        work_item::list(&mut tx, p.id, &f).await.unwrap()[0].id,
        story.id
    );
    let f = work_item::Filter {
        assignee: Some(Some(user("bob"))),
        ..Default::default()
    };
    assert_eq!(work_item::list(&mut tx, p.id, &f).await.unwrap().len(), 1);
    let f = work_item::Filter {
        assignee: Some(None),
        ..Default::default()
    };
    assert_eq!(work_item::list(&mut tx, p.id, &f).await.unwrap().len(), 2);
    let f = work_item::Filter {
        parent: Some(None),
        ..Default::default()
    };
    assert_eq!(
        work_item::list(&mut tx, p.id, &f).await.unwrap()[0].id,
        epic.id
    );
    let f = work_item::Filter {
        text: Some("100%".into()),
        ..Default::default()
    };
    assert_eq!(
        work_item::list(&mut tx, p.id, &f).await.unwrap()[0].id,
        task.id
    );
    let f = work_item::Filter {
        text: Some("%".into()),
        ..Default::default()
    };
    assert_eq!(
        work_item::list(&mut tx, p.id, &f).await.unwrap().len(),
        1,
        "% matches literally"
    );
    let f = work_item::Filter {
        text: Some("cvc_".into()),
        ..Default::default()
    };
    assert_eq!(
        work_item::list(&mut tx, p.id, &f).await.unwrap().len(),
        1,
        "case-insensitive"
    );
    let f = work_item::Filter {
        after_number: Some(1),
        limit: Some(1),
        ..Default::default()
    };
    assert_eq!(
        work_item::list(&mut tx, p.id, &f).await.unwrap()[0].id,
        story.id
    );

    // Update any subset of fields, including clearing.
    let mut changed = task.clone();
    changed.priority = Priority::Critical;
    changed.story_points = None;
    changed.parent_id = None;
    let stored = work_item::update(&mut tx, &changed, task.version)
        .await
        .unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(
        (stored.priority, stored.story_points, stored.parent_id),
        (Priority::Critical, None, None)
    );

    work_item::soft_delete(&mut tx, task.id, stored.version, now(), &user("alice"))
        .await
        .unwrap();
    assert!(matches!(
        work_item::get(&mut tx, task.id).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(work_item::count_in_project(&mut tx, p.id).await.unwrap(), 2);
}

#[tokio::test]
async fn sprints_can_be_created_read_listed_updated_and_soft_deleted() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let s = new_sprint(&p, "Sprint 1", SprintStatus::Planned);
    let mut tx = db.begin_write().await.unwrap();
    sprint::insert(&mut tx, &s).await.unwrap();
    assert_eq!(sprint::get(&mut tx, s.id).await.unwrap(), s);
    assert!(sprint::active(&mut tx, p.id).await.unwrap().is_none());
    let mut started = s.clone();
    started.status = SprintStatus::Active;
    let stored = sprint::update(&mut tx, &started, 1).await.unwrap();
    assert_eq!(
        sprint::active(&mut tx, p.id).await.unwrap().unwrap().id,
        s.id
    );
    assert_eq!(sprint::list(&mut tx, p.id).await.unwrap().len(), 1);
    tx.commit().await.unwrap();

    let item = create_item(&db, &p, WorkItemType::Task, "In sprint", |w| {
        w.sprint_id = Some(s.id)
    })
    .await;
    let mut tx = db.begin_write().await.unwrap();
    assert_eq!(
        work_item::in_sprint(&mut tx, s.id).await.unwrap()[0].id,
        item.id
    );
    sprint::soft_delete(&mut tx, s.id, stored.version, now(), &user("alice"))
        .await
        .unwrap();
    assert!(sprint::list(&mut tx, p.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn comments_can_be_added_listed_edited_and_soft_deleted() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let item = create_item(&db, &p, WorkItemType::Task, "A", |_| {}).await;
    let c = new_comment(&item, "bob", "Looks **good**");
    let mut tx = db.begin_write().await.unwrap();
    comment::insert(&mut tx, &c).await.unwrap();
    assert_eq!(comment::get(&mut tx, c.id).await.unwrap(), c);
    let mut edited = c.clone();
    edited.body = CommentBody::parse("Looks great").unwrap();
    let stored = comment::update(&mut tx, &edited, 1).await.unwrap();
    assert_eq!((stored.body.as_str(), stored.version), ("Looks great", 2));
    assert_eq!(comment::list(&mut tx, item.id).await.unwrap().len(), 1);
    comment::soft_delete(&mut tx, c.id, 2, now()).await.unwrap();
    assert!(comment::list(&mut tx, item.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn time_entries_can_be_started_stopped_listed_totalled_and_deleted() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let item = create_item(&db, &p, WorkItemType::Task, "A", |_| {}).await;
    let hour = 3_600_000;
    let t0 = Timestamp::from_millis(now().as_millis() - 10 * hour);
    let running = new_time_entry(&item, "bob", t0, None);
    let manual = new_time_entry(&item, "carol", t0, Some(t0.plus_millis(2 * hour)));
    let mut tx = db.begin_write().await.unwrap();
    time_entry::insert(&mut tx, &running).await.unwrap();
    time_entry::insert(&mut tx, &manual).await.unwrap();
    assert_eq!(
        time_entry::running_for_user(&mut tx, &user("bob"))
            .await
            .unwrap()
            .unwrap()
            .id,
        running.id
    );
    assert_eq!(
        time_entry::running_in_project(&mut tx, p.id)
            .await
            .unwrap()
            .len(),
        1
    );

    let mut stopped = running.clone();
    stopped.ended_at = Some(t0.plus_millis(hour));
    let stored = time_entry::update(&mut tx, &stopped, 1).await.unwrap();
    assert_eq!(
        stored.duration_ms,
        Some(hour),
        "duration is computed by the database"
    );
    assert!(
        time_entry::running_for_user(&mut tx, &user("bob"))
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(
        time_entry::list_for_item(&mut tx, item.id)
            .await
            .unwrap()
            .len(),
        2
    );
    let bobs = time_entry::list_for_user(&mut tx, &user("bob"), t0, t0.plus_millis(1))
        .await
        .unwrap();
    assert_eq!(bobs.len(), 1);
    assert_eq!(
        work_item::logged_ms(&mut tx, item.id).await.unwrap(),
        3 * hour
    );
    let (per_item, per_user) = time_entry::totals(&mut tx, p.id, Timestamp::from_millis(0), now())
        .await
        .unwrap();
    assert_eq!(per_item, vec![(item.id, 3 * hour)]);
    assert_eq!(
        per_user,
        vec![(user("carol"), 2 * hour), (user("bob"), hour)]
    );

    time_entry::soft_delete(&mut tx, manual.id, 1, now())
        .await
        .unwrap();
    assert_eq!(work_item::logged_ms(&mut tx, item.id).await.unwrap(), hour);
}

#[tokio::test]
async fn swim_lanes_default_to_one_per_status_in_board_order() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let mut tx = db.begin_write().await.unwrap();
    swim_lane::insert_defaults(&mut tx, p.id, now())
        .await
        .unwrap();
    let lanes = swim_lane::list(&mut tx, p.id).await.unwrap();
    let statuses: Vec<_> = lanes.iter().map(|l| l.status).collect();
    assert_eq!(statuses, WorkItemStatus::ALL);
    assert_eq!(lanes[2].name, "In progress");

    let mut doing = lanes[2].clone();
    doing.name = "Doing".into();
    doing.wip_limit = Some(3);
    let stored = swim_lane::update(&mut tx, &doing, now()).await.unwrap();
    assert_eq!(swim_lane::get(&mut tx, doing.id).await.unwrap(), stored);
    assert_eq!((stored.name.as_str(), stored.wip_limit), ("Doing", Some(3)));
    let mut zero = stored.clone();
    zero.wip_limit = Some(0);
    assert!(matches!(
        swim_lane::update(&mut tx, &zero, now()).await,
        Err(Error::ConstraintViolated)
    ));
}

#[tokio::test]
async fn activity_rows_are_listed_newest_first_with_filters_and_a_cursor() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let mut tx = db.begin_write().await.unwrap();
    let row = |field: &str, actor: &str| NewActivity {
        project_id: Some(p.id),
        entity: EntityKind::WorkItem,
        entity_id: "x".into(),
        action: ActivityAction::Updated,
        field: Some(field.into()),
        old_value: Some("a".into()),
        new_value: Some("b".into()),
        actor: user(actor),
        at: now(),
    };
    let change = pm_db::change_log::NewChange {
        project_id: Some(p.id),
        entity: EntityKind::WorkItem,
        entity_id: "x".into(),
        kind: pm_core::ChangeKind::Upserted,
        payload: vec![1],
        actor: user("alice"),
        request_id: None,
        at: now(),
    };
    let seqs = journal::write(
        &mut tx,
        &[journal::Entry {
            change,
            activity: vec![
                row("title", "alice"),
                row("status", "bob"),
                row("priority", "alice"),
            ],
        }],
        &receipt(&user("alice"), pm_core::RequestId::new()),
        journal::Then::Nothing,
    )
    .await
    .unwrap();
    let all = activity::list(
        &mut tx,
        &activity::Filter {
            project_id: Some(p.id),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let fields: Vec<_> = all.iter().map(|a| a.field.clone().unwrap()).collect();
    assert_eq!(fields, ["priority", "status", "title"]);
    assert!(
        all.iter().all(|a| a.seq == Some(seqs[0])),
        "each row carries its change's sequence number"
    );
    let page = activity::Filter {
        before_id: Some(all[0].id),
        limit: 1,
        ..Default::default()
    };
    assert_eq!(
        activity::list(&mut tx, &page).await.unwrap()[0]
            .field
            .as_deref(),
        Some("status")
    );
    let by_actor = activity::Filter {
        actor: Some(user("bob")),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(activity::list(&mut tx, &by_actor).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_idempotency_record_returns_the_stored_result_and_points_at_the_commands_entries() {
    let store = TestStore::new();
    let db = store.tenant("acme").await;
    let p = create_project(&db, "WEB").await;
    let mut tx = db.begin_write().await.unwrap();
    // Another command's entry first, so the record's entries do not start at 1.
    append(&mut tx, &change(p.id, 1)).await;
    let request = pm_core::RequestId::new();
    let entry = |n| journal::Entry {
        change: change(p.id, n),
        activity: Vec::new(),
    };
    let seqs = journal::write(
        &mut tx,
        &[entry(2), entry(3)],
        &receipt(&user("alice"), request),
        journal::Then::Nothing,
    )
    .await
    .unwrap();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(
        idempotency::get(&mut tx, &user("alice"), request)
            .await
            .unwrap(),
        Some(idempotency::StoredReply {
            command: "test".into(),
            request_digest: Some(vec![7; 32]),
            reply: idempotency::Stored::Result {
                result: vec![1, 2, 3],
                last_seq: Some(3),
                events: 2,
            },
        })
    );
    // A command without changes points at nothing.
    let quiet = pm_core::RequestId::new();
    journal::write(
        &mut tx,
        &[],
        &receipt(&user("alice"), quiet),
        journal::Then::Nothing,
    )
    .await
    .unwrap();
    let Some(stored) = idempotency::get(&mut tx, &user("alice"), quiet)
        .await
        .unwrap()
    else {
        panic!("the record of a command without changes is stored");
    };
    assert!(matches!(
        stored.reply,
        idempotency::Stored::Result {
            last_seq: None,
            events: 0,
            ..
        }
    ));
    assert_eq!(
        idempotency::get(&mut tx, &user("bob"), request)
            .await
            .unwrap(),
        None,
        "one user's request id never fetches another user's reply"
    );
    assert_eq!(
        idempotency::purge(&mut tx, now().plus_millis(1))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        idempotency::get(&mut tx, &user("alice"), request)
            .await
            .unwrap(),
        None
    );
}

fn change(project: pm_core::ProjectId, n: u8) -> pm_db::change_log::NewChange {
    pm_db::change_log::NewChange {
        project_id: Some(project),
        entity: EntityKind::WorkItem,
        entity_id: format!("item-{n}"),
        kind: pm_core::ChangeKind::Upserted,
        payload: vec![n],
        actor: user("alice"),
        request_id: None,
        at: now(),
    }
}
