//! Gap-free sync: a snapshot is consistent with its sequence number, a client resumes from the
//! change log with `since`, the server says when it cannot (`ResyncRequired`), and readers that
//! drop and resume at random converge on the same state as a fresh snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::StreamExt;
use pm_core::TenantRole;
use pm_proto::pb::{self, change::Change, server_message::Message as Server};
use pm_proto::{Request, Response};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::*;

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

fn create(project: &pb::Project, title: &str) -> pb::CreateWorkItem {
    pb::CreateWorkItem {
        project_id: project.id.clone(),
        r#type: pb::WorkItemType::Task.into(),
        title: title.to_owned(),
        ..Default::default()
    }
}

/// A resume: `since` with the history epoch it belongs to (the client's welcome names it).
fn subscribe_since(client: &Client, project: &pb::Project, since: u64) -> pb::Subscribe {
    pb::Subscribe {
        project_id: project.id.clone(),
        since: Some(since),
        history_epoch: client.welcome.history_epoch.clone(),
    }
}

fn seqs(events: &[pb::Event]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

/// Commands are not what these tests are about: lift the per-connection rate limit.
fn unlimited_commands(config: &mut pm_server::Config) {
    config.commands_per_second = 1_000_000;
    config.command_burst = 1_000_000;
}

/// A small deterministic PRNG (SplitMix64), so a failing run replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }
}

// ---- snapshots -------------------------------------------------------------------------------

/// Applies one event to a snapshot the way a client keeps its copy: upserts replace the held
/// copy unless it is newer, deletions remove, derived flags are set in place.
fn apply(s: &mut pb::Snapshot, event: &pb::Event) {
    fn upsert<T>(list: &mut Vec<T>, value: T, same: impl Fn(&T) -> bool) {
        list.retain(|x| !same(x));
        list.push(value);
    }
    match change(event).clone() {
        Change::Project(p) => s.project = Some(p),
        Change::Member(m) => {
            let user = m.user_id.clone();
            upsert(&mut s.members, m, |x| x.user_id == user);
        }
        Change::MemberRemoved(r) => s.members.retain(|m| m.user_id != r.user_id),
        Change::WorkItem(w) => {
            let held = s.work_items.iter().find(|x| x.id == w.id);
            if held.is_none_or(|h| w.version >= h.version) {
                let id = w.id.clone();
                upsert(&mut s.work_items, w, |x| x.id == id);
            }
        }
        Change::Sprint(sprint) => {
            let id = sprint.id.clone();
            upsert(&mut s.sprints, sprint, |x| x.id == id);
        }
        Change::Comment(_) => {}
        Change::TimeEntry(t) => {
            s.running_timers.retain(|x| x.id != t.id);
            if t.ended_at.is_none() {
                s.running_timers.push(t);
            }
        }
        Change::Dependency(d) => {
            let id = d.id.clone();
            upsert(&mut s.dependencies, d, |x| x.id == id);
        }
        Change::SwimLane(lane) => {
            let id = lane.id.clone();
            upsert(&mut s.swim_lanes, lane, |x| x.id == id);
        }
        Change::Deleted(d) => match pb::EntityKind::try_from(d.entity) {
            Ok(pb::EntityKind::WorkItem) => s.work_items.retain(|x| x.id != d.id),
            Ok(pb::EntityKind::Sprint) => s.sprints.retain(|x| x.id != d.id),
            Ok(pb::EntityKind::TimeEntry) => s.running_timers.retain(|x| x.id != d.id),
            Ok(pb::EntityKind::Dependency) => s.dependencies.retain(|x| x.id != d.id),
            Ok(pb::EntityKind::Comment) => {}
            other => panic!("unexpected deletion of {other:?}"),
        },
        Change::BlockedChanged(b) => {
            if let Some(item) = s.work_items.iter_mut().find(|x| x.id == b.work_item_id) {
                item.blocked = b.blocked;
            }
        }
    }
    s.seq = event.seq;
}

/// The snapshot with every list in one canonical order.
fn normalised(mut s: pb::Snapshot) -> pb::Snapshot {
    s.members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    s.swim_lanes.sort_by_key(|l| l.position);
    s.work_items.sort_by(|a, b| a.id.cmp(&b.id));
    s.sprints.sort_by(|a, b| a.id.cmp(&b.id));
    s.dependencies.sort_by(|a, b| a.id.cmp(&b.id));
    s.running_timers.sort_by(|a, b| a.id.cmp(&b.id));
    s
}

#[tokio::test]
async fn a_snapshot_is_consistent_with_its_seq_and_later_events_lead_to_the_next_snapshot() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    let mut watcher = app.client("acme", "boss", TenantRole::Admin).await;
    watcher.subscribe(&project.id).await;
    alice
        .add_member(&project, "bob", pb::ProjectRole::Editor)
        .await;
    let mut bob = app.editor("bob").await;

    let epic = alice
        .create_item(&project, pb::WorkItemType::Epic, "Accounts")
        .await;
    let login = alice
        .ok(pb::CreateWorkItem {
            parent_id: Some(epic.id.clone()),
            r#type: pb::WorkItemType::Story.into(),
            status: Some(pb::WorkItemStatus::Todo.into()),
            ..create(&project, "Login")
        })
        .await
        .work_item
        .unwrap();
    let signup = alice
        .ok(create(&project, "Sign-up"))
        .await
        .work_item
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
    alice
        .ok(pb::AddDependency {
            blocking_id: login.id.clone(),
            blocked_id: signup.id.clone(),
            r#type: pb::DependencyType::Blocks.into(),
        })
        .await;
    let hour = 3_600_000;
    alice
        .ok(pb::AddTimeEntry {
            work_item_id: login.id.clone(),
            started_at: pm_core::Timestamp::now().as_millis() - 2 * hour,
            duration_ms: Some(hour),
            ..Default::default()
        })
        .await;
    let (_, last) = commit(
        &mut alice,
        pb::StartTimer {
            work_item_id: signup.id.clone(),
            description: String::new(),
        },
    )
    .await;
    let head = last.last().unwrap().seq;

    let snapshot = watcher
        .ok(pb::GetSnapshot {
            project_id: project.id.clone(),
        })
        .await;
    let before = watcher.drain_events().await;
    assert_eq!(snapshot.seq, head);
    assert!(before.iter().all(|e| e.seq <= snapshot.seq));

    // Everything a board needs, derived fields included.
    assert_eq!(snapshot.project.as_ref().unwrap().key, "WEB");
    let members: Vec<(&str, i32)> = snapshot
        .members
        .iter()
        .map(|m| (m.user_id.as_str(), m.role))
        .collect();
    assert_eq!(
        members,
        [
            ("alice", pb::ProjectRole::Admin.into()),
            ("bob", pb::ProjectRole::Editor.into())
        ]
    );
    let lanes: Vec<i32> = snapshot.swim_lanes.iter().map(|l| l.status).collect();
    assert_eq!(
        lanes,
        [
            pb::WorkItemStatus::Backlog,
            pb::WorkItemStatus::Todo,
            pb::WorkItemStatus::InProgress,
            pb::WorkItemStatus::Review,
            pb::WorkItemStatus::Done
        ]
        .map(i32::from)
    );
    let items: Vec<(&str, bool, i64)> = snapshot
        .work_items
        .iter()
        .map(|w| (w.key.as_str(), w.blocked, w.logged_ms))
        .collect();
    assert_eq!(
        items,
        [
            ("WEB-1", false, 0),
            ("WEB-2", false, hour),
            ("WEB-3", true, 0)
        ]
    );
    assert_eq!(snapshot.sprints, vec![sprint.clone()]);
    let links: Vec<(&str, &str)> = snapshot
        .dependencies
        .iter()
        .map(|d| (d.blocking_key.as_str(), d.blocked_key.as_str()))
        .collect();
    assert_eq!(links, [("WEB-2", "WEB-3")]);
    let timers: Vec<(&str, &str)> = snapshot
        .running_timers
        .iter()
        .map(|t| (t.user_id.as_str(), t.work_item_id.as_str()))
        .collect();
    assert_eq!(timers, [("alice", signup.id.as_str())]);

    // Every kind of change after the snapshot, by two users.
    let mut events = Vec::new();
    let (r, e) = commit(&mut bob, create(&project, "Password reset")).await;
    let reset = r.work_item.unwrap();
    events.extend(e);
    events.extend(
        commit(
            &mut alice,
            pb::UpdateWorkItem {
                work_item_id: login.id.clone(),
                version: login.version,
                status: Some(pb::WorkItemStatus::Done.into()),
                sprint_id: Some(pb::StringPatch {
                    value: Some(sprint.id.clone()),
                }),
                ..Default::default()
            },
        )
        .await
        .1,
    );
    events.extend(commit(&mut alice, pb::StopTimer {}).await.1);
    events.extend(
        commit(
            &mut bob,
            pb::StartTimer {
                work_item_id: reset.id.clone(),
                description: String::new(),
            },
        )
        .await
        .1,
    );
    events.extend(
        commit(
            &mut bob,
            pb::AddDependency {
                blocking_id: reset.id.clone(),
                blocked_id: epic.id.clone(),
                r#type: pb::DependencyType::Blocks.into(),
            },
        )
        .await
        .1,
    );
    events.extend(
        commit(
            &mut bob,
            pb::AddComment {
                work_item_id: signup.id.clone(),
                body: "Needs a captcha".into(),
            },
        )
        .await
        .1,
    );
    events.extend(
        commit(
            &mut alice,
            pb::StartSprint {
                sprint_id: sprint.id.clone(),
                version: sprint.version,
            },
        )
        .await
        .1,
    );
    events.extend(
        commit(
            &mut alice,
            pb::UpdateProject {
                project_id: project.id.clone(),
                version: snapshot.project.as_ref().unwrap().version,
                title: Some("Website".into()),
                ..Default::default()
            },
        )
        .await
        .1,
    );
    events.extend(
        commit(
            &mut alice,
            pb::AddMember {
                project_id: project.id.clone(),
                user_id: "carol".into(),
                role: pb::ProjectRole::Editor.into(),
            },
        )
        .await
        .1,
    );
    events.extend(
        commit(
            &mut alice,
            pb::ChangeMemberRole {
                project_id: project.id.clone(),
                user_id: "carol".into(),
                role: pb::ProjectRole::Viewer.into(),
                version: 1,
            },
        )
        .await
        .1,
    );
    events.extend(
        commit(
            &mut alice,
            pb::RemoveMember {
                project_id: project.id.clone(),
                user_id: "bob".into(),
            },
        )
        .await
        .1,
    );
    let (r, e) = commit(&mut alice, create(&project, "Gone")).await;
    let other = r.work_item.unwrap();
    events.extend(e);
    events.extend(
        commit(
            &mut alice,
            pb::DeleteWorkItem {
                work_item_id: other.id.clone(),
                version: other.version,
            },
        )
        .await
        .1,
    );

    let after = watcher.drain_events().await;
    assert!(
        after.iter().all(|e| e.seq > snapshot.seq),
        "events after a snapshot have later seqs"
    );
    assert_eq!(after, events, "another subscriber saw every change");

    let next = watcher
        .ok(pb::GetSnapshot {
            project_id: project.id.clone(),
        })
        .await;
    assert_eq!(next.seq, after.last().unwrap().seq);
    let mut applied = snapshot;
    for event in &after {
        apply(&mut applied, event);
    }
    assert_eq!(normalised(applied), normalised(next));
}

// ---- resuming ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_client_resuming_with_since_gets_exactly_the_missed_events_in_order_then_live_ones() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let web = alice.create_project("WEB").await;
    let api = alice.create_project("API").await;
    alice.add_member(&web, "bob", pb::ProjectRole::Viewer).await;
    let mut bob = app.editor("bob").await;
    bob.subscribe(&web.id).await;
    let (first, _) = commit(&mut alice, create(&web, "Seen live")).await;
    let first = first.work_item.unwrap();
    let last_seen = bob.next_event().await.seq;
    drop(bob);

    // Changes of several kinds while bob is away, then some in a project he does not follow.
    let mut missed = Vec::new();
    let mut version = first.version;
    for i in 0..12 {
        let events = match i % 3 {
            0 => {
                commit(&mut alice, create(&web, &format!("Missed {i}")))
                    .await
                    .1
            }
            1 => {
                let (r, events) = commit(
                    &mut alice,
                    pb::UpdateWorkItem {
                        work_item_id: first.id.clone(),
                        version,
                        title: Some(format!("Renamed {i}")),
                        ..Default::default()
                    },
                )
                .await;
                version = r.work_item.unwrap().version;
                events
            }
            _ => {
                commit(
                    &mut alice,
                    pb::AddComment {
                        work_item_id: first.id.clone(),
                        body: format!("Comment {i}"),
                    },
                )
                .await
                .1
            }
        };
        missed.extend(events);
    }
    let (_, elsewhere) = commit(&mut alice, create(&api, "Not bob's business")).await;

    let mut bob = app.editor("bob").await;
    let subscribed = bob.ok(subscribe_since(&bob, &web, last_seen)).await;
    assert_eq!(subscribed.head_seq, elsewhere[0].seq);
    let mut replayed = Vec::new();
    for _ in 0..missed.len() {
        replayed.push(bob.next_event().await);
    }
    assert_eq!(
        seqs(&replayed),
        (last_seen + 1..=last_seen + 12).collect::<Vec<_>>(),
        "the project's missed events, contiguous and in order"
    );
    assert_eq!(replayed, missed, "each replayed event is the one published");
    bob.assert_no_events().await;

    // Live events follow the replay.
    let (_, live) = commit(&mut alice, create(&web, "Live again")).await;
    assert_eq!(bob.next_event().await, live[0]);
    bob.assert_no_events().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_while_writes_continue_loses_and_repeats_nothing() {
    let app = TestApp::spawn_with(unlimited_commands).await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    let item = alice
        .create_item(&project, pb::WorkItemType::Task, "Busy")
        .await;
    let token = app.token("acme", "boss", TenantRole::Admin);
    let mut reader = Client::connect(&app.ws_url(), &token).await;
    let head = reader.subscribe(&project.id).await.head_seq;

    // Mostly comments: what matters is a steady stream of events, not the board.
    const WRITES: usize = 1000;
    let writer_project = project.clone();
    let mut writer = tokio::spawn(async move {
        let mut written = Vec::new();
        for i in 0..WRITES {
            let events = if i % 10 == 0 {
                commit(&mut alice, create(&writer_project, &format!("Item {i}")))
                    .await
                    .1
            } else {
                commit(
                    &mut alice,
                    pb::AddComment {
                        work_item_id: item.id.clone(),
                        body: format!("Comment {i}"),
                    },
                )
                .await
                .1
            };
            written.extend(seqs(&events));
        }
        written
    });

    // Until the writer is done: read one to three events, drop the connection, resume from the
    // last seq read.
    let mut rng = Rng(7);
    let mut seen = Vec::new();
    let mut resumes = 0;
    let written = 'rounds: loop {
        for _ in 0..=rng.below(3) {
            tokio::select! {
                event = reader.next_event() => seen.push(event.seq),
                written = &mut writer => break 'rounds written.unwrap(),
            }
        }
        let since = seen.last().copied().unwrap_or(head);
        reader = Client::connect(&app.ws_url(), &token).await;
        reader.ok(subscribe_since(&reader, &project, since)).await;
        resumes += 1;
    };
    // The barrier: everything committed is queued for the reader or replayed to it by now.
    seen.extend(seqs(&reader.drain_events().await));

    assert!(resumes > 1);
    let misordered: Vec<&[u64]> = seen.windows(2).filter(|w| w[0] >= w[1]).collect();
    assert!(misordered.is_empty(), "seqs out of order: {misordered:?}");
    assert_eq!(seen, written, "no gap, no duplicate");
}

#[tokio::test]
async fn a_since_older_than_the_retained_change_log_is_answered_with_a_resync() {
    let app = TestApp::spawn_with(|config| config.change_log_max_rows = 5).await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    let token = app.token("acme", "boss", TenantRole::Admin);
    let mut boss = Client::connect(&app.ws_url(), &token).await;
    let since = boss.subscribe(&project.id).await.head_seq;
    drop(boss);
    let mut head = 0;
    for i in 0..20 {
        let (_, events) = commit(&mut alice, create(&project, &format!("Item {i}"))).await;
        head = events[0].seq;
    }

    let mut boss = Client::connect(&app.ws_url(), &token).await;
    let subscribed = boss.ok(subscribe_since(&boss, &project, since)).await;
    assert_eq!(subscribed.head_seq, head);
    let resync = loop {
        match boss.next_message().await.message {
            Some(Server::ResyncRequired(r)) => break r,
            Some(Server::Presence(_)) => continue,
            other => panic!("expected a resync, got {other:?}"),
        }
    };
    assert_eq!(
        (resync.project_id.as_str(), resync.reason, resync.head_seq),
        (
            project.id.as_str(),
            pb::ResyncReason::SinceTooOld.into(),
            head
        )
    );

    // The subscription stands: a snapshot plus the live events after it catch the client up.
    let snapshot = boss
        .ok(pb::GetSnapshot {
            project_id: project.id.clone(),
        })
        .await;
    assert_eq!((snapshot.seq, snapshot.work_items.len()), (head, 20));
    let (_, live) = commit(&mut alice, create(&project, "After the resync")).await;
    assert_eq!(boss.next_event().await, live[0]);
    let head = live[0].seq;

    // The retained window is exactly the last five changes.
    let mut edge = Client::connect(&app.ws_url(), &token).await;
    edge.ok(subscribe_since(&edge, &project, head - 5)).await;
    let messages = edge.drain_messages().await;
    let replayed: Vec<u64> = messages
        .iter()
        .filter_map(|m| match &m.message {
            Some(Server::Event(e)) => Some(e.seq),
            Some(Server::ResyncRequired(r)) => panic!("unexpected resync {r:?}"),
            _ => None,
        })
        .collect();
    assert_eq!(replayed, (head - 4..=head).collect::<Vec<_>>());
    let mut beyond = Client::connect(&app.ws_url(), &token).await;
    beyond
        .ok(subscribe_since(&beyond, &project, head - 6))
        .await;
    let messages = beyond.drain_messages().await;
    assert!(
        messages.iter().any(|m| matches!(
            &m.message,
            Some(Server::ResyncRequired(r)) if r.reason == i32::from(pb::ResyncReason::SinceTooOld)
        )),
        "{messages:?}"
    );
    assert!(
        !messages
            .iter()
            .any(|m| matches!(m.message, Some(Server::Event(_)))),
        "nothing is replayed when the window cannot cover it"
    );
}

// ---- a client that stops reading -------------------------------------------------------------

/// A client whose socket receive buffer is tiny and fixed, so that when it stops reading the
/// server's writes back up after a few frames instead of after megabytes of kernel buffering.
async fn connect_with_small_receive_buffer(app: &TestApp, token: &str) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.addr).await.unwrap();
    let mut request = app.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .expect("connect");
    Client::from_socket(ws).await
}

enum Cut {
    Resync(pb::ResyncRequired),
    Closed,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_queue_overflows_is_told_to_resync_and_a_reading_client_misses_nothing() {
    let app = TestApp::spawn_with(|config| {
        unlimited_commands(config);
        config.outbound_queue = 16;
        // Far longer than the test: the slow client's connection must not be closed for a stalled
        // write or for silence, so the only way out of its stall is the overflow path.
        config.write_timeout_ms = 600_000;
        config.idle_timeout_ms = 600_000;
    })
    .await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    let mut slow =
        connect_with_small_receive_buffer(&app, &app.token("acme", "boss", TenantRole::Admin))
            .await;
    slow.subscribe(&project.id).await;
    let mut reader = app.client("acme", "root", TenantRole::Admin).await;
    reader.subscribe(&project.id).await;

    // Far more than the kernel buffers of one connection hold: 300 events of about 40 KB.
    const CHANGES: usize = 300;
    let reading = tokio::spawn(async move {
        let mut received = Vec::with_capacity(CHANGES);
        for _ in 0..CHANGES {
            received.push(reader.next_event().await.seq);
        }
        (reader, received)
    });
    let description = "x".repeat(40_000);
    let mut written = Vec::with_capacity(CHANGES);
    for i in 0..CHANGES {
        let (_, events) = commit(
            &mut alice,
            pb::CreateWorkItem {
                description: description.clone(),
                ..create(&project, &format!("Big {i}"))
            },
        )
        .await;
        written.extend(seqs(&events));
    }
    let (mut reader, received) = reading.await.unwrap();
    assert_eq!(received, written, "the reading client received every event");
    reader.assert_no_events().await;

    // Now the slow client reads what reached it.
    let mut got = Vec::new();
    let cut = loop {
        let frame = tokio::time::timeout(PATIENCE, slow.ws.next())
            .await
            .expect("a frame or the end within the patience");
        match frame {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break Cut::Closed,
            Some(Ok(Message::Binary(bytes))) => {
                match pm_proto::decode_server(&bytes).unwrap().message {
                    Some(Server::Event(e)) => got.push(e.seq),
                    Some(Server::ResyncRequired(r)) => break Cut::Resync(r),
                    Some(Server::Presence(_)) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            Some(Ok(_)) => {}
        }
    };
    assert!(got.len() < CHANGES, "its queue overflowed");
    assert_eq!(
        got[..],
        written[..got.len()],
        "in order and gap-free up to the cut"
    );
    let Cut::Resync(resync) = cut else {
        panic!("the slow client's connection was closed instead of told to resync");
    };
    assert_eq!(
        (resync.project_id.as_str(), resync.reason, resync.head_seq),
        (
            "",
            pb::ResyncReason::QueueOverflow.into(),
            *written.last().unwrap()
        )
    );

    // The connection lives on, unsubscribed; a snapshot and a new subscription catch it up.
    let snapshot = slow
        .ok(pb::GetSnapshot {
            project_id: project.id.clone(),
        })
        .await;
    assert_eq!(
        (snapshot.seq, snapshot.work_items.len()),
        (*written.last().unwrap(), CHANGES)
    );
    alice
        .create_item(&project, pb::WorkItemType::Task, "Unseen")
        .await;
    slow.assert_no_events().await;
    slow.ok(subscribe_since(&slow, &project, snapshot.seq))
        .await;
    let (_, events) = commit(&mut alice, create(&project, "Seen")).await;
    let caught_up = slow.drain_events().await;
    assert_eq!(seqs(&caught_up), [events[0].seq - 1, events[0].seq]);
}

// ---- convergence under churn -----------------------------------------------------------------

/// Title of the item that marks the end of a project's writes.
const END: &str = "END OF WRITES";

const STATUSES: [pb::WorkItemStatus; 5] = [
    pb::WorkItemStatus::Backlog,
    pb::WorkItemStatus::Todo,
    pb::WorkItemStatus::InProgress,
    pb::WorkItemStatus::Review,
    pb::WorkItemStatus::Done,
];

/// An item a writer created; only its creator touches it, so the writer's copy is exact.
struct Own {
    project: usize,
    id: String,
    version: i64,
    status: i32,
}

/// Issues `count` random valid mutations across `projects`; returns the events they committed.
async fn write_randomly(
    mut client: Client,
    projects: Vec<pb::Project>,
    seed: u64,
    count: usize,
) -> Vec<pb::Event> {
    let mut rng = Rng(seed);
    let mut own: Vec<Own> = Vec::new();
    let mut events = Vec::new();
    for step in 0..count {
        let choice = if own.len() < 3 { 0 } else { rng.below(10) };
        let events_of_step = match choice {
            0..=2 => {
                let project = rng.below(projects.len());
                let status = STATUSES[rng.below(STATUSES.len())];
                let kind = if rng.below(2) == 0 {
                    pb::WorkItemType::Task
                } else {
                    pb::WorkItemType::Story
                };
                let (r, events) = commit(
                    &mut client,
                    pb::CreateWorkItem {
                        r#type: kind.into(),
                        status: Some(status.into()),
                        ..create(&projects[project], &format!("{seed}/{step}"))
                    },
                )
                .await;
                let item = r.work_item.unwrap();
                own.push(Own {
                    project,
                    id: item.id,
                    version: item.version,
                    status: item.status,
                });
                events
            }
            3 | 4 => {
                let i = rng.below(own.len());
                let (r, events) = commit(
                    &mut client,
                    pb::UpdateWorkItem {
                        work_item_id: own[i].id.clone(),
                        version: own[i].version,
                        title: Some(format!("{seed}/{step} renamed")),
                        status: Some(STATUSES[rng.below(STATUSES.len())].into()),
                        ..Default::default()
                    },
                )
                .await;
                let item = r.work_item.unwrap();
                (own[i].version, own[i].status) = (item.version, item.status);
                events
            }
            5 | 6 => {
                let i = rng.below(own.len());
                let status: i32 = STATUSES[rng.below(STATUSES.len())].into();
                // Below one of the writer's own cards of the target column, when it has one.
                let neighbours: Vec<&Own> = own
                    .iter()
                    .filter(|o| o.project == own[i].project && o.status == status)
                    .filter(|o| o.id != own[i].id)
                    .collect();
                let after_id = match neighbours.len() {
                    0 => None,
                    n => Some(neighbours[rng.below(n)].id.clone()),
                };
                let (r, events) = commit(
                    &mut client,
                    pb::MoveWorkItem {
                        work_item_id: own[i].id.clone(),
                        version: own[i].version,
                        status: Some(status),
                        after_id,
                        ..Default::default()
                    },
                )
                .await;
                let item = r.work_item.unwrap();
                (own[i].version, own[i].status) = (item.version, item.status);
                events
            }
            7 => {
                let gone = own.swap_remove(rng.below(own.len()));
                commit(
                    &mut client,
                    pb::DeleteWorkItem {
                        work_item_id: gone.id,
                        version: gone.version,
                    },
                )
                .await
                .1
            }
            _ => {
                let i = rng.below(own.len());
                commit(
                    &mut client,
                    pb::AddComment {
                        work_item_id: own[i].id.clone(),
                        body: format!("{seed}/{step}"),
                    },
                )
                .await
                .1
            }
        };
        events.extend(events_of_step);
    }
    events
}

/// A client that keeps a local copy of the work items of some projects, drops its connection at
/// random points and resumes with `since`.
struct Reader {
    name: String,
    url: String,
    token: String,
    projects: Vec<String>,
    rng: Rng,
    client: Client,
    /// Per project: the head when first subscribed, the resume point until an event is applied.
    first_head: HashMap<String, u64>,
    items: HashMap<String, pb::WorkItem>,
    /// Per project: every seq applied, in order.
    applied: HashMap<String, Vec<u64>>,
    resumes: usize,
}

impl Reader {
    async fn start(app: &TestApp, name: &str, projects: &[pb::Project], seed: u64) -> Self {
        let token = app.token("acme", name, TenantRole::Admin);
        let mut client = Client::connect(&app.ws_url(), &token).await;
        let mut first_head = HashMap::new();
        for p in projects {
            first_head.insert(p.id.clone(), client.subscribe(&p.id).await.head_seq);
        }
        Self {
            name: name.to_owned(),
            url: app.ws_url(),
            token,
            projects: projects.iter().map(|p| p.id.clone()).collect(),
            rng: Rng(seed),
            client,
            first_head,
            items: HashMap::new(),
            applied: HashMap::new(),
            resumes: 0,
        }
    }

    /// Applies events until it has seen the end marker of every project.
    async fn run(mut self) -> Self {
        let mut ended = BTreeSet::new();
        let mut until_drop = 1 + self.rng.below(12);
        while ended.len() < self.projects.len() {
            let event = self.client.next_event().await;
            let applied = self.applied.entry(event.project_id.clone()).or_default();
            if let Some(last) = applied.last() {
                assert!(
                    event.seq > *last,
                    "{}: seq {} after {last} in project {}",
                    self.name,
                    event.seq,
                    event.project_id
                );
            }
            applied.push(event.seq);
            match change(&event) {
                Change::WorkItem(w) => {
                    if w.title == END {
                        ended.insert(w.project_id.clone());
                    }
                    let held = self.items.get(&w.id).map(|h| h.version);
                    if held.is_none_or(|v| w.version >= v) {
                        self.items.insert(w.id.clone(), w.clone());
                    }
                }
                Change::Deleted(d) if d.entity == i32::from(pb::EntityKind::WorkItem) => {
                    self.items.remove(&d.id);
                }
                _ => {}
            }
            until_drop -= 1;
            if until_drop == 0 {
                self.resume().await;
                until_drop = 1 + self.rng.below(12);
            }
        }
        self
    }

    /// Drops the connection without a goodbye and resumes every project from its last seq.
    async fn resume(&mut self) {
        self.client = Client::connect(&self.url, &self.token).await;
        for project in &self.projects {
            let since = self
                .applied
                .get(project)
                .and_then(|seqs| seqs.last())
                .copied()
                .unwrap_or(self.first_head[project]);
            self.client
                .ok(pb::Subscribe {
                    project_id: project.clone(),
                    since: Some(since),
                    history_epoch: self.client.welcome.history_epoch.clone(),
                })
                .await;
        }
        self.resumes += 1;
    }
}

type Board = BTreeMap<String, (i64, String, i32, String)>;

fn board<'a>(items: impl Iterator<Item = &'a pb::WorkItem>) -> Board {
    items
        .map(|w| {
            (
                w.id.clone(),
                (w.version, w.title.clone(), w.status, w.position.clone()),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_that_drop_and_resume_at_random_converge_on_the_snapshot_without_a_gap() {
    let app = TestApp::spawn_with(unlimited_commands).await;
    let mut admin = app.client("acme", "root", TenantRole::Admin).await;
    let projects = vec![
        admin.create_project("WEB").await,
        admin.create_project("API").await,
    ];

    let mut readers = Vec::new();
    for (i, name) in ["reader-1", "reader-2", "reader-3"].into_iter().enumerate() {
        let seed = 1000 + u64::try_from(i).unwrap();
        readers.push(Reader::start(&app, name, &projects, seed).await);
    }
    let readers: Vec<_> = readers.into_iter().map(|r| tokio::spawn(r.run())).collect();

    const WRITERS: u64 = 3;
    const MUTATIONS: usize = 60;
    let mut writers = Vec::new();
    for seed in 1..=WRITERS {
        let client = app
            .client("acme", &format!("writer-{seed}"), TenantRole::Admin)
            .await;
        writers.push(tokio::spawn(write_randomly(
            client,
            projects.clone(),
            seed,
            MUTATIONS,
        )));
    }
    let mut written: HashMap<String, BTreeSet<u64>> = HashMap::new();
    let mut record = |events: &[pb::Event]| {
        for e in events {
            assert!(
                written
                    .entry(e.project_id.clone())
                    .or_default()
                    .insert(e.seq)
            );
        }
    };
    for writer in writers {
        record(&writer.await.unwrap());
    }
    // The writers are done: mark the end of each project's stream.
    for project in &projects {
        record(&commit(&mut admin, create(project, END)).await.1);
    }

    let mut finished = Vec::new();
    for reader in readers {
        finished.push(reader.await.unwrap());
    }
    let head = written.values().flatten().max().copied().unwrap();
    for project in &projects {
        let snapshot = admin
            .ok(pb::GetSnapshot {
                project_id: project.id.clone(),
            })
            .await;
        assert_eq!(snapshot.seq, head);
        let expected = board(snapshot.work_items.iter());
        for reader in &finished {
            let held = board(reader.items.values().filter(|w| w.project_id == project.id));
            assert_eq!(held, expected, "{} on {}", reader.name, project.key);
            let applied = &reader.applied[&project.id];
            let distinct: BTreeSet<u64> = applied.iter().copied().collect();
            assert_eq!(applied.len(), distinct.len(), "{}: duplicates", reader.name);
            assert_eq!(
                &distinct, &written[&project.id],
                "{} on {}: exactly the project's changes",
                reader.name, project.key
            );
        }
    }
    for reader in &finished {
        assert!(reader.resumes > 0, "{} never resumed", reader.name);
    }
}
