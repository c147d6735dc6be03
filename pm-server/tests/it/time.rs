//! Time tracking: a user's one running timer across all their connections, manual entries and
//! their rules, who may change an entry, lists, totals and an item's logged time.

use pm_core::{TenantRole, Timestamp};
use pm_proto::pb::{self, change::Change};
use pm_proto::{Request, Response};

use crate::helpers::*;

const MINUTE: i64 = 60 * 1000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Sends a mutation that must succeed; returns its response and the events its reply carried.
async fn commit<R: Request>(client: &mut Client, request: R) -> (R::Response, Vec<pb::Event>) {
    let id = request_id();
    client.send(&id, request).await;
    let reply = client.reply_to(&id).await;
    match reply.result {
        Some(pb::reply::Result::Error(e)) => panic!("{} failed: {e:?}", R::NAME),
        Some(result) => (
            R::Response::from_result(result).expect("the paired response type"),
            reply.events,
        ),
        None => panic!("a reply without a result"),
    }
}

fn now() -> i64 {
    Timestamp::now().as_millis()
}

/// A finished entry on `item` that starts at `started_at` and lasts `duration_ms`.
fn manual(item: &pb::WorkItem, started_at: i64, duration_ms: i64) -> pb::AddTimeEntry {
    pb::AddTimeEntry {
        work_item_id: item.id.clone(),
        started_at,
        ended_at: None,
        duration_ms: Some(duration_ms),
        description: String::new(),
    }
}

fn entry_of(event: &pb::Event) -> &pb::TimeEntry {
    match change(event) {
        Change::TimeEntry(t) => t,
        other => panic!("expected a time entry, got {other:?}"),
    }
}

fn item_of(event: &pb::Event) -> &pb::WorkItem {
    match change(event) {
        Change::WorkItem(w) => w,
        other => panic!("expected a work item, got {other:?}"),
    }
}

async fn logged_ms(client: &mut Client, item: &pb::WorkItem) -> i64 {
    client
        .ok(pb::GetWorkItem {
            work_item: item.id.clone(),
        })
        .await
        .work_item
        .unwrap()
        .logged_ms
}

/// Alice's project "WEB" with one task, and a tenant admin watching it on its own connection.
async fn board(app: &TestApp) -> (Client, pb::Project, pb::WorkItem, Client) {
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    let item = alice
        .create_item(&project, pb::WorkItemType::Task, "Fix login")
        .await;
    let mut watcher = app.client("acme", "boss", TenantRole::Admin).await;
    watcher.subscribe(&project.id).await;
    (alice, project, item, watcher)
}

#[tokio::test]
async fn a_timer_started_on_one_connection_is_seen_and_stopped_on_another_of_the_same_user() {
    let app = TestApp::spawn().await;
    let mut phone = app.editor("alice").await;
    let project = phone.create_project("WEB").await;
    let item = phone
        .create_item(&project, pb::WorkItemType::Task, "Fix login")
        .await;
    let mut laptop = app.editor("alice").await;
    phone.subscribe(&project.id).await;
    laptop.subscribe(&project.id).await;

    let (started, events) = commit(
        &mut phone,
        pb::StartTimer {
            work_item_id: item.id.clone(),
            description: "pairing".into(),
        },
    )
    .await;
    assert_eq!(started.stopped, None, "no timer was running");
    let running = started.entry.unwrap();
    assert_eq!(
        (
            running.work_item_id.as_str(),
            running.project_id.as_str(),
            running.user_id.as_str(),
            running.description.as_str(),
            running.ended_at,
            running.duration_ms,
            running.version,
        ),
        (
            item.id.as_str(),
            project.id.as_str(),
            "alice",
            "pairing",
            None,
            None,
            1
        )
    );
    assert_eq!(events.len(), 1, "a running timer changes no logged total");
    assert_eq!(entry_of(&events[0]), &running);

    // The other connection of the same user sees it live and can ask for it.
    let seen = laptop.next_event().await;
    assert_eq!(seen, events[0]);
    let asked = laptop.ok(pb::GetRunningTimer {}).await;
    assert_eq!(asked.entry.as_ref(), Some(&running));

    // Stopping on the laptop stops the timer the phone started.
    let (stopped, events) = commit(&mut laptop, pb::StopTimer {}).await;
    assert_eq!(stopped.stopped, None);
    let finished = stopped.entry.unwrap();
    assert_eq!(finished.id, running.id);
    assert_eq!(finished.version, 2);
    let ended = finished.ended_at.expect("a stopped entry has an end");
    assert!(ended > running.started_at);
    assert_eq!(finished.duration_ms, Some(ended - running.started_at));
    assert_eq!(events.len(), 2, "the entry and its item's new total");
    assert_eq!(entry_of(&events[0]), &finished);
    assert_eq!(item_of(&events[1]).id, item.id);
    assert_eq!(item_of(&events[1]).logged_ms, ended - running.started_at);
    assert_eq!(phone.drain_events().await, events);

    assert_eq!(phone.ok(pb::GetRunningTimer {}).await.entry, None);
    let err = phone.err(pb::StopTimer {}).await;
    assert_eq!(code(&err), pb::ErrorCode::NotFound, "nothing runs any more");
}

#[tokio::test]
async fn starting_a_timer_while_one_runs_stops_the_previous_one_in_the_same_reply() {
    let app = TestApp::spawn().await;
    let (mut alice, project, first, mut watcher) = board(&app).await;
    let second = alice
        .create_item(&project, pb::WorkItemType::Task, "Second")
        .await;
    watcher.drain_events().await;

    let (r, _) = commit(
        &mut alice,
        pb::StartTimer {
            work_item_id: first.id.clone(),
            description: String::new(),
        },
    )
    .await;
    let previous = r.entry.unwrap();
    let (r, events) = commit(
        &mut alice,
        pb::StartTimer {
            work_item_id: second.id.clone(),
            description: String::new(),
        },
    )
    .await;
    let stopped = r
        .stopped
        .expect("the previous timer, stopped by this start");
    let started = r.entry.unwrap();
    assert_eq!(stopped.id, previous.id);
    assert_eq!(stopped.work_item_id, first.id);
    let ended = stopped.ended_at.expect("stopped");
    assert_eq!(stopped.duration_ms, Some(ended - previous.started_at));
    assert_eq!(
        (started.work_item_id.as_str(), started.ended_at),
        (second.id.as_str(), None)
    );

    // Both changes are events of the one transaction, in sequence order, with the first item's
    // new logged total between them.
    assert_eq!(events.len(), 3);
    assert_eq!(entry_of(&events[0]), &stopped);
    assert_eq!(item_of(&events[1]).id, first.id);
    assert_eq!(item_of(&events[1]).logged_ms, ended - previous.started_at);
    assert_eq!(entry_of(&events[2]), &started);
    assert_eq!(events[1].seq, events[0].seq + 1);
    assert_eq!(events[2].seq, events[1].seq + 1);

    let seen = watcher.drain_events().await;
    assert_eq!(seen.len(), 4, "the first start, then the three changes");
    assert_eq!(seen[1..], events[..]);
    assert_eq!(
        alice.ok(pb::GetRunningTimer {}).await.entry,
        Some(started),
        "only the new timer runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_starts_from_two_connections_of_one_user_leave_exactly_one_timer_running() {
    let app = TestApp::spawn().await;
    let mut phone = app.editor("alice").await;
    let project = phone.create_project("WEB").await;
    let a = phone
        .create_item(&project, pb::WorkItemType::Task, "On the phone")
        .await;
    let b = phone
        .create_item(&project, pb::WorkItemType::Task, "On the laptop")
        .await;
    let mut laptop = app.editor("alice").await;

    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        let (id_a, id_b) = (request_id(), request_id());
        // Both requests are in flight before either reply is read.
        phone
            .send(
                &id_a,
                pb::StartTimer {
                    work_item_id: a.id.clone(),
                    description: format!("round {round}"),
                },
            )
            .await;
        laptop
            .send(
                &id_b,
                pb::StartTimer {
                    work_item_id: b.id.clone(),
                    description: format!("round {round}"),
                },
            )
            .await;
        let from_phone = timer(phone.reply_to(&id_a).await);
        let from_laptop = timer(laptop.reply_to(&id_b).await);

        let running = phone
            .ok(pb::GetRunningTimer {})
            .await
            .entry
            .expect("a timer runs");
        let (winner, loser) = if running.id == from_phone.entry.as_ref().unwrap().id {
            (from_phone, from_laptop)
        } else {
            (from_laptop, from_phone)
        };
        assert_eq!(winner.entry.as_ref(), Some(&running), "round {round}");
        assert_eq!(
            winner.stopped.map(|s| s.id),
            loser.entry.map(|e| e.id),
            "round {round}: the later start stopped the earlier one"
        );
    }

    let all = phone
        .ok(pb::ListTimeEntries {
            work_item_id: None,
            user_id: None,
            from: None,
            to: None,
        })
        .await
        .entries;
    assert_eq!(all.len(), 2 * ROUNDS);
    assert_eq!(all.iter().filter(|e| e.ended_at.is_none()).count(), 1);
}

fn timer(reply: pb::Reply) -> pb::TimerResponse {
    match reply.result {
        Some(pb::reply::Result::Timer(t)) => t,
        other => panic!("expected a timer response, got {other:?}"),
    }
}

#[tokio::test]
async fn each_rule_of_a_manual_time_entry_is_enforced_with_its_code_and_field() {
    let app = TestApp::spawn().await;
    let (mut alice, _project, item, mut watcher) = board(&app).await;
    watcher.drain_events().await;
    let t = now();
    let with =
        |started_at: i64, ended_at: Option<i64>, duration_ms: Option<i64>| pb::AddTimeEntry {
            work_item_id: item.id.clone(),
            started_at,
            ended_at,
            duration_ms,
            description: String::new(),
        };
    let cases = [
        (
            "ends when it starts",
            with(t - HOUR, Some(t - HOUR), None),
            "ended_at",
        ),
        (
            "ends before it starts",
            with(t - HOUR, Some(t - 2 * HOUR), None),
            "ended_at",
        ),
        (
            "lasts longer than a day",
            with(t - 2 * DAY, Some(t - 2 * DAY + DAY + 1), None),
            "duration_ms",
        ),
        (
            "a duration longer than a day",
            with(t - 2 * DAY, None, Some(DAY + 1)),
            "duration_ms",
        ),
        (
            "starts in the future",
            with(t + 10 * MINUTE, None, Some(MINUTE)),
            "started_at",
        ),
        (
            "ends in the future beyond the clock skew",
            with(t - HOUR, Some(t + 5 * MINUTE), None),
            "ended_at",
        ),
        (
            "gives both an end and a duration",
            with(t - HOUR, Some(t - 30 * MINUTE), Some(30 * MINUTE)),
            "duration_ms",
        ),
        (
            "gives neither an end nor a duration",
            with(t - HOUR, None, None),
            "ended_at",
        ),
        (
            "a zero duration",
            with(t - HOUR, None, Some(0)),
            "duration_ms",
        ),
        (
            "a description over 1000 characters",
            pb::AddTimeEntry {
                description: "x".repeat(1001),
                ..manual(&item, t - HOUR, MINUTE)
            },
            "description",
        ),
    ];
    for (case, request, field) in cases {
        let err = alice.err(request).await;
        assert_eq!(
            (code(&err), err.field.as_str()),
            (pb::ErrorCode::Validation, field),
            "{case}: {err:?}"
        );
    }
    watcher.assert_no_events().await;

    // The limits themselves are allowed.
    let accepted = [
        with(t - 2 * DAY, None, Some(DAY)),
        with(t - HOUR, Some(t + MINUTE), None),
        pb::AddTimeEntry {
            description: "é".repeat(1000),
            ..manual(&item, t - 3 * HOUR, MINUTE)
        },
    ];
    for request in accepted {
        alice.ok(request).await;
    }
    let listed = alice
        .ok(pb::ListTimeEntries {
            work_item_id: Some(item.id.clone()),
            ..Default::default()
        })
        .await
        .entries;
    assert_eq!(listed.len(), 3, "nothing refused was stored");
    assert_eq!(
        logged_ms(&mut alice, &item).await,
        DAY + HOUR + MINUTE + MINUTE
    );
}

#[tokio::test]
async fn logging_time_needs_edit_rights_in_the_items_project() {
    let app = TestApp::spawn().await;
    let (mut alice, project, item, mut watcher) = board(&app).await;
    alice
        .add_member(&project, "bob", pb::ProjectRole::Viewer)
        .await;
    watcher.drain_events().await;
    let mut bob = app.editor("bob").await;
    let mut mallory = app.editor("mallory").await;

    let err = bob.err(manual(&item, now() - HOUR, MINUTE)).await;
    assert_eq!(code(&err), pb::ErrorCode::PermissionDenied);
    let err = bob
        .err(pb::StartTimer {
            work_item_id: item.id.clone(),
            description: String::new(),
        })
        .await;
    assert_eq!(code(&err), pb::ErrorCode::PermissionDenied);
    let err = mallory.err(manual(&item, now() - HOUR, MINUTE)).await;
    assert_eq!(
        code(&err),
        pb::ErrorCode::NotFound,
        "a non-member cannot tell the item exists"
    );
    watcher.assert_no_events().await;
    assert_eq!(bob.ok(pb::GetRunningTimer {}).await.entry, None);

    // Reading stays open to the viewer.
    let totals = bob
        .ok(pb::GetTimeTotals {
            project_id: project.id.clone(),
            from: None,
            to: None,
        })
        .await;
    assert_eq!(totals.total_ms, 0);
}

#[tokio::test]
async fn the_owner_and_a_project_admin_may_edit_and_delete_an_entry_but_another_editor_may_not() {
    let app = TestApp::spawn().await;
    let (mut alice, project, item, mut watcher) = board(&app).await;
    alice
        .add_member(&project, "bob", pb::ProjectRole::Editor)
        .await;
    alice
        .add_member(&project, "carol", pb::ProjectRole::Editor)
        .await;
    watcher.drain_events().await;
    let mut bob = app.editor("bob").await;
    let mut carol = app.editor("carol").await;
    let mut seen_by_watcher = Vec::new();

    // Far enough back that an end a day later is still in the past.
    let start = now() - 2 * DAY;
    let (r, events) = commit(&mut bob, manual(&item, start, HOUR)).await;
    seen_by_watcher.extend(events);
    let entry = r.entry.unwrap();
    assert_eq!((entry.user_id.as_str(), entry.version), ("bob", 1));

    // Another editor may neither edit nor delete it.
    let err = carol
        .err(pb::EditTimeEntry {
            time_entry_id: entry.id.clone(),
            version: 1,
            description: Some("mine now".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&err), pb::ErrorCode::PermissionDenied);
    let err = carol
        .err(pb::DeleteTimeEntry {
            time_entry_id: entry.id.clone(),
            version: 1,
        })
        .await;
    assert_eq!(code(&err), pb::ErrorCode::PermissionDenied);

    // The owner moves the start half an hour later: the entry is half an hour shorter.
    let (r, events) = commit(
        &mut bob,
        pb::EditTimeEntry {
            time_entry_id: entry.id.clone(),
            version: 1,
            started_at: Some(start + 30 * MINUTE),
            description: Some("reviewing".into()),
            ..Default::default()
        },
    )
    .await;
    let edited = r.entry.unwrap();
    assert_eq!(
        (
            edited.version,
            edited.started_at,
            edited.ended_at,
            edited.duration_ms,
            edited.description.as_str()
        ),
        (
            2,
            start + 30 * MINUTE,
            Some(start + HOUR),
            Some(30 * MINUTE),
            "reviewing"
        )
    );
    assert_eq!(events.len(), 2);
    assert_eq!(entry_of(&events[0]), &edited);
    assert_eq!(item_of(&events[1]).logged_ms, 30 * MINUTE);
    seen_by_watcher.extend(events);

    // A stale version is refused with the current state; a day-long end is refused too.
    let err = bob
        .err(pb::EditTimeEntry {
            time_entry_id: entry.id.clone(),
            version: 1,
            description: Some("late".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(
        (code(&err), err.current_version),
        (pb::ErrorCode::Conflict, Some(2))
    );
    assert_eq!(
        err.current,
        Some(pb::error::Current::TimeEntry(edited.clone()))
    );
    let err = bob
        .err(pb::EditTimeEntry {
            time_entry_id: entry.id.clone(),
            version: 2,
            ended_at: Some(start + 30 * MINUTE + DAY + 1),
            ..Default::default()
        })
        .await;
    assert_eq!(
        (code(&err), err.field.as_str()),
        (pb::ErrorCode::Validation, "duration_ms")
    );

    // The project admin (alice created the project) may edit and delete anyone's entry.
    let (r, events) = commit(
        &mut alice,
        pb::EditTimeEntry {
            time_entry_id: entry.id.clone(),
            version: 2,
            description: Some("reviewing (checked)".into()),
            ..Default::default()
        },
    )
    .await;
    let checked = r.entry.unwrap();
    assert_eq!(
        (checked.version, checked.user_id.as_str()),
        (3, "bob"),
        "the entry stays bob's"
    );
    seen_by_watcher.extend(events);
    let (deleted, events) = commit(
        &mut alice,
        pb::DeleteTimeEntry {
            time_entry_id: entry.id.clone(),
            version: 3,
        },
    )
    .await;
    assert_eq!(deleted.id, entry.id);
    assert_eq!(events.len(), 2);
    assert_eq!(
        change(&events[0]),
        &Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::TimeEntry.into(),
            id: entry.id.clone(),
        })
    );
    assert_eq!(item_of(&events[1]).logged_ms, 0);
    seen_by_watcher.extend(events);

    // The owner deletes their own entry; carol's entry is hers alone.
    let (r, events) = commit(&mut bob, manual(&item, now() - HOUR, MINUTE)).await;
    seen_by_watcher.extend(events);
    let own = r.entry.unwrap();
    let (_, events) = commit(
        &mut bob,
        pb::DeleteTimeEntry {
            time_entry_id: own.id.clone(),
            version: 1,
        },
    )
    .await;
    seen_by_watcher.extend(events);
    let (r, events) = commit(&mut carol, manual(&item, now() - HOUR, MINUTE)).await;
    seen_by_watcher.extend(events);
    let err = bob
        .err(pb::DeleteTimeEntry {
            time_entry_id: r.entry.unwrap().id,
            version: 1,
        })
        .await;
    assert_eq!(code(&err), pb::ErrorCode::PermissionDenied);

    assert_eq!(watcher.drain_events().await, seen_by_watcher);
    assert_eq!(logged_ms(&mut alice, &item).await, MINUTE, "carol's minute");
}

#[tokio::test]
async fn entries_are_listed_for_a_work_item_and_for_a_user_over_a_range() {
    let app = TestApp::spawn().await;
    let (mut alice, project, login, _watcher) = board(&app).await;
    let signup = alice
        .create_item(&project, pb::WorkItemType::Task, "Sign-up")
        .await;
    alice
        .add_member(&project, "bob", pb::ProjectRole::Editor)
        .await;
    let mut bob = app.editor("bob").await;
    let t = now();

    let bob_login = bob
        .ok(manual(&login, t - 5 * HOUR, HOUR))
        .await
        .entry
        .unwrap();
    let bob_signup = bob
        .ok(manual(&signup, t - 3 * HOUR, 30 * MINUTE))
        .await
        .entry
        .unwrap();
    let alice_login = alice
        .ok(manual(&login, t - 2 * HOUR, HOUR))
        .await
        .entry
        .unwrap();

    // Per item: everyone's entries, oldest first.
    let on_login = bob
        .ok(pb::ListTimeEntries {
            work_item_id: Some(login.id.clone()),
            ..Default::default()
        })
        .await
        .entries;
    assert_eq!(on_login, vec![bob_login.clone(), alice_login.clone()]);

    // Per user: the caller by default, by start in [from, to).
    let range = |from: i64, to: i64| pb::ListTimeEntries {
        from: Some(from),
        to: Some(to),
        ..Default::default()
    };
    let mine = |list: pb::TimeEntryList| list.entries;
    assert_eq!(
        mine(bob.ok(range(t - 6 * HOUR, t)).await),
        vec![bob_login.clone(), bob_signup.clone()]
    );
    assert_eq!(
        mine(bob.ok(range(t - 5 * HOUR, t - 3 * HOUR)).await),
        vec![bob_login.clone()],
        "from is inclusive, to exclusive"
    );
    assert_eq!(
        mine(bob.ok(range(t - 4 * HOUR, t)).await),
        vec![bob_signup.clone()]
    );
    assert_eq!(
        mine(bob.ok(pb::ListTimeEntries::default()).await),
        vec![bob_login.clone(), bob_signup.clone()],
        "the default window covers the last days"
    );

    // Only a tenant admin lists someone else's time.
    let err = alice
        .err(pb::ListTimeEntries {
            user_id: Some("bob".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(code(&err), pb::ErrorCode::PermissionDenied);
    let mut boss = app.client("acme", "boss", TenantRole::Admin).await;
    let bobs = boss
        .ok(pb::ListTimeEntries {
            user_id: Some("bob".into()),
            ..range(t - 6 * HOUR, t)
        })
        .await
        .entries;
    assert_eq!(bobs, vec![bob_login, bob_signup]);
}

#[tokio::test]
async fn time_totals_sum_finished_entries_per_item_and_per_user() {
    let app = TestApp::spawn().await;
    let (mut alice, project, login, _watcher) = board(&app).await;
    let signup = alice
        .create_item(&project, pb::WorkItemType::Task, "Sign-up")
        .await;
    alice
        .add_member(&project, "bob", pb::ProjectRole::Editor)
        .await;
    let mut bob = app.editor("bob").await;
    let t = now();

    bob.ok(manual(&login, t - 10 * HOUR, HOUR)).await;
    bob.ok(manual(&signup, t - 8 * HOUR, 30 * MINUTE)).await;
    alice.ok(manual(&login, t - 6 * HOUR, 2 * HOUR)).await;
    // Neither a deleted entry nor a running timer counts.
    let gone = alice
        .ok(manual(&signup, t - 4 * HOUR, 7 * HOUR / 2))
        .await
        .entry
        .unwrap();
    alice
        .ok(pb::DeleteTimeEntry {
            time_entry_id: gone.id,
            version: 1,
        })
        .await;
    bob.ok(pb::StartTimer {
        work_item_id: signup.id.clone(),
        description: String::new(),
    })
    .await;

    let totals = bob
        .ok(pb::GetTimeTotals {
            project_id: project.id.clone(),
            from: None,
            to: None,
        })
        .await;
    let per_item = |totals: &pb::TimeTotals| -> Vec<(String, i64)> {
        totals
            .per_item
            .iter()
            .map(|i| (i.key.clone(), i.total_ms))
            .collect()
    };
    let per_user = |totals: &pb::TimeTotals| -> Vec<(String, i64)> {
        totals
            .per_user
            .iter()
            .map(|u| (u.user_id.clone(), u.total_ms))
            .collect()
    };
    assert_eq!(
        per_item(&totals),
        vec![
            ("WEB-1".to_owned(), 3 * HOUR),
            ("WEB-2".to_owned(), 30 * MINUTE)
        ]
    );
    assert_eq!(totals.per_item[0].work_item_id, login.id);
    assert_eq!(
        per_user(&totals),
        vec![
            ("alice".to_owned(), 2 * HOUR),
            ("bob".to_owned(), HOUR + 30 * MINUTE)
        ]
    );
    assert_eq!(totals.total_ms, 3 * HOUR + 30 * MINUTE);

    // A range counts entries by their start, in [from, to).
    let window = bob
        .ok(pb::GetTimeTotals {
            project_id: project.id.clone(),
            from: Some(t - 8 * HOUR),
            to: Some(t - 6 * HOUR),
        })
        .await;
    assert_eq!(per_item(&window), vec![("WEB-2".to_owned(), 30 * MINUTE)]);
    assert_eq!(per_user(&window), vec![("bob".to_owned(), 30 * MINUTE)]);
    assert_eq!(window.total_ms, 30 * MINUTE);
}

#[tokio::test]
async fn a_work_items_logged_total_follows_its_finished_entries_in_events_and_replies() {
    let app = TestApp::spawn().await;
    let (mut alice, project, item, mut watcher) = board(&app).await;
    let other = alice
        .create_item(&project, pb::WorkItemType::Task, "Untouched")
        .await;
    watcher.drain_events().await;
    let mut seen_by_watcher = Vec::new();

    // A manual entry: the reply carries the item with its new total.
    let (r, events) = commit(&mut alice, manual(&item, now() - 2 * HOUR, HOUR)).await;
    let hour_entry = r.entry.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(entry_of(&events[0]), &hour_entry);
    assert_eq!(
        (
            item_of(&events[1]).id.as_str(),
            item_of(&events[1]).logged_ms
        ),
        (item.id.as_str(), HOUR)
    );
    seen_by_watcher.extend(events);
    assert_eq!(logged_ms(&mut alice, &item).await, HOUR);

    // A running timer adds nothing yet; stopping it adds its duration.
    let (_, events) = commit(
        &mut alice,
        pb::StartTimer {
            work_item_id: item.id.clone(),
            description: String::new(),
        },
    )
    .await;
    assert_eq!(events.len(), 1);
    seen_by_watcher.extend(events);
    assert_eq!(logged_ms(&mut alice, &item).await, HOUR);
    let (r, events) = commit(&mut alice, pb::StopTimer {}).await;
    let timed = r.entry.unwrap().duration_ms.unwrap();
    assert_eq!(item_of(&events[1]).logged_ms, HOUR + timed);
    seen_by_watcher.extend(events);
    assert_eq!(logged_ms(&mut alice, &item).await, HOUR + timed);

    // Deleting a finished entry takes its time away again.
    let (_, events) = commit(
        &mut alice,
        pb::DeleteTimeEntry {
            time_entry_id: hour_entry.id.clone(),
            version: 1,
        },
    )
    .await;
    assert_eq!(item_of(&events[1]).logged_ms, timed);
    seen_by_watcher.extend(events);

    assert_eq!(logged_ms(&mut alice, &item).await, timed);
    assert_eq!(logged_ms(&mut alice, &other).await, 0);
    let listed = alice
        .ok(pb::ListWorkItems {
            project_id: project.id.clone(),
            ..Default::default()
        })
        .await
        .work_items;
    assert_eq!(
        listed.iter().map(|w| w.logged_ms).collect::<Vec<_>>(),
        vec![timed, 0]
    );
    assert_eq!(watcher.drain_events().await, seen_by_watcher);
}

#[tokio::test]
async fn a_running_timer_whose_item_is_deleted_does_not_lock_its_user_out() {
    let app = TestApp::spawn().await;
    let (mut alice, project, doomed, _watcher) = board(&app).await;
    let other = alice
        .create_item(&project, pb::WorkItemType::Task, "Still here")
        .await;
    alice
        .add_member(&project, "bob", pb::ProjectRole::Editor)
        .await;
    let mut bob = app.editor("bob").await;
    bob.ok(pb::StartTimer {
        work_item_id: doomed.id.clone(),
        description: String::new(),
    })
    .await;
    alice
        .ok(pb::DeleteWorkItem {
            work_item_id: doomed.id.clone(),
            version: doomed.version,
        })
        .await;

    // Whether deleting stopped it or not, bob can look at his timer and start a new one.
    if let Some(running) = bob.ok(pb::GetRunningTimer {}).await.entry {
        assert_eq!(running.work_item_id, doomed.id);
    }
    bob.ok(pb::StartTimer {
        work_item_id: other.id.clone(),
        description: String::new(),
    })
    .await;
    let running = bob.ok(pb::GetRunningTimer {}).await.entry.unwrap();
    assert_eq!(running.work_item_id, other.id);
}

#[tokio::test]
async fn an_instant_before_1970_or_after_9999_is_refused_by_field_wherever_a_client_sends_one() {
    let app = TestApp::spawn().await;
    let (mut alice, project, item, mut watcher) = board(&app).await;
    let t = now();
    let entry = alice
        .ok(manual(&item, t - 2 * HOUR, HOUR))
        .await
        .entry
        .unwrap();
    let sprint = alice
        .ok(pb::CreateSprint {
            project_id: project.id.clone(),
            name: "Sprint 1".into(),
            ..Default::default()
        })
        .await
        .sprint
        .unwrap();
    watcher.drain_events().await;
    let after_9999 = 253_402_300_800_000;
    let cases: Vec<(&str, pb::client_message::Command, &str)> = vec![
        (
            "a manual entry from the lowest instant, lasting an hour",
            pb::client_message::Command::AddTimeEntry(manual(&item, i64::MIN, HOUR)),
            "started_at",
        ),
        (
            "a manual entry ending at the lowest instant",
            pb::client_message::Command::AddTimeEntry(pb::AddTimeEntry {
                ended_at: Some(i64::MIN),
                duration_ms: None,
                ..manual(&item, t - HOUR, 0)
            }),
            "ended_at",
        ),
        (
            "an entry moved to a millisecond before 1970",
            pb::client_message::Command::EditTimeEntry(pb::EditTimeEntry {
                time_entry_id: entry.id.clone(),
                version: entry.version,
                started_at: Some(-1),
                ..Default::default()
            }),
            "started_at",
        ),
        (
            "a sprint starting before 1970",
            pb::client_message::Command::CreateSprint(pb::CreateSprint {
                project_id: project.id.clone(),
                name: "Sprint 2".into(),
                starts_at: Some(-DAY),
                ..Default::default()
            }),
            "starts_at",
        ),
        (
            "a sprint ending after 9999",
            pb::client_message::Command::UpdateSprint(pb::UpdateSprint {
                sprint_id: sprint.id.clone(),
                version: sprint.version,
                ends_at: Some(pb::TimePatch {
                    value: Some(after_9999),
                }),
                ..Default::default()
            }),
            "ends_at",
        ),
    ];
    for (case, command, field) in cases {
        let id = request_id();
        let message = pb::ClientMessage {
            request_id: id.clone(),
            command: Some(command),
        };
        alice.send_raw(pm_proto::encode(&message)).await;
        let reply = alice.reply_to(&id).await;
        let Some(pb::reply::Result::Error(err)) = reply.result else {
            panic!("{case}: accepted: {reply:?}");
        };
        assert_eq!(
            (code(&err), err.field.as_str()),
            (pb::ErrorCode::Validation, field),
            "{case}: {err:?}"
        );
    }
    watcher.assert_no_events().await;

    // Reads refuse out-of-range filters the same way.
    let err = alice
        .err(pb::ListTimeEntries {
            from: Some(i64::MIN),
            ..Default::default()
        })
        .await;
    assert_eq!(
        (code(&err), err.field.as_str()),
        (pb::ErrorCode::Validation, "from")
    );
    let err = alice
        .err(pb::GetTimeTotals {
            project_id: project.id.clone(),
            to: Some(after_9999),
            ..Default::default()
        })
        .await;
    assert_eq!(
        (code(&err), err.field.as_str()),
        (pb::ErrorCode::Validation, "to")
    );
    let err = alice
        .err(pb::ListActivity {
            project_id: project.id.clone(),
            from: Some(-1),
            ..Default::default()
        })
        .await;
    assert_eq!(
        (code(&err), err.field.as_str()),
        (pb::ErrorCode::Validation, "from")
    );
    // The bounds themselves are accepted.
    alice
        .ok(pb::ListActivity {
            project_id: project.id.clone(),
            from: Some(0),
            to: Some(after_9999 - 1),
            ..Default::default()
        })
        .await;
    alice
        .ok(pb::GetTimeTotals {
            project_id: project.id.clone(),
            from: Some(0),
            to: Some(after_9999 - 1),
        })
        .await;
}

#[tokio::test]
async fn a_storage_failure_reading_an_entrys_item_fails_the_time_list_instead_of_hiding_the_entry()
{
    use pm_db::Connection;

    let app = TestApp::spawn().await;
    let (mut alice, _project, item, _watcher) = board(&app).await;
    alice.ok(manual(&item, now() - 2 * HOUR, HOUR)).await;
    let mine = pb::ListTimeEntries::default();
    assert_eq!(alice.ok(mine.clone()).await.entries.len(), 1);
    // The item's row is damaged behind the server's back: reading it fails, and not because it
    // was deleted.
    let path = app.dir.path().join("tenants/acme/pm.sqlite3");
    let mut conn = pm_db::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE work_items SET status = 'mislaid' WHERE id = ?")
        .bind(&item.id)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let err = alice.err(mine).await;
    assert_eq!(code(&err), pb::ErrorCode::Internal, "{err:?}");
}
