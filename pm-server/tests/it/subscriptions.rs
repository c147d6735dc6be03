//! Events reach exactly the subscribers entitled to them.

use std::collections::BTreeSet;

use pm_core::{ProjectId, TenantId, TenantRole, Timestamp, UserId};
use pm_proto::pb::{self, change::Change};

use crate::helpers::*;

#[tokio::test]
async fn a_change_reaches_other_subscribers_and_the_sender_gets_it_in_its_reply() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    alice
        .add_member(&project, "bob", pb::ProjectRole::Editor)
        .await;
    let mut bob = app.editor("bob").await;
    let mut bob_phone = app.editor("bob").await;
    alice.subscribe(&project.id).await;
    bob.subscribe(&project.id).await;
    bob_phone.subscribe(&project.id).await;

    let id = request_id();
    alice
        .send(
            &id,
            pb::CreateWorkItem {
                project_id: project.id.clone(),
                r#type: pb::WorkItemType::Task.into(),
                title: "Write the docs".into(),
                ..Default::default()
            },
        )
        .await;
    let reply = alice.reply_to(&id).await;
    assert_eq!(
        reply.events.len(),
        1,
        "the sender's reply carries its event"
    );
    let seq = reply.events[0].seq;
    for client in [&mut bob, &mut bob_phone] {
        let event = client.next_event().await;
        assert_eq!(event.seq, seq);
        assert_eq!(event.actor, "alice");
        assert_eq!(event.request_id, id);
        let Change::WorkItem(item) = change(&event) else {
            panic!("{event:?}")
        };
        assert_eq!(item.title, "Write the docs");
        assert_eq!(item.key, "WEB-1");
    }
    // The sender does not get its own change a second time.
    alice.assert_no_events().await;
}

#[tokio::test]
async fn events_reach_only_subscribers_of_that_project() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let web = alice.create_project("WEB").await;
    let api = alice.create_project("API").await;
    alice.add_member(&web, "bob", pb::ProjectRole::Viewer).await;
    alice.add_member(&api, "bob", pb::ProjectRole::Viewer).await;
    let mut bob = app.editor("bob").await;
    bob.subscribe(&api.id).await;
    let mut idle = app.editor("bob").await; // connected, subscribed to nothing

    alice
        .create_item(&web, pb::WorkItemType::Task, "Only for WEB")
        .await;
    bob.assert_no_events().await;
    idle.assert_no_events().await;

    alice
        .create_item(&api, pb::WorkItemType::Task, "For API")
        .await;
    assert_eq!(bob.drain_events().await.len(), 1);
    idle.assert_no_events().await;
}

#[tokio::test]
async fn after_unsubscribing_no_more_events_arrive() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    let mut watcher = app.client("acme", "boss", TenantRole::Admin).await;
    watcher.subscribe(&project.id).await;
    alice
        .create_item(&project, pb::WorkItemType::Task, "Seen")
        .await;
    assert_eq!(watcher.drain_events().await.len(), 1);
    let r = watcher
        .ok(pb::Unsubscribe {
            project_id: project.id.clone(),
        })
        .await;
    assert_eq!(r.project_id, project.id);
    alice
        .create_item(&project, pb::WorkItemType::Task, "Not seen")
        .await;
    watcher.assert_no_events().await;
}

#[tokio::test]
async fn only_members_and_tenant_admins_may_subscribe() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    let mut stranger = app.editor("mallory").await;
    let err = stranger
        .err(pb::Subscribe {
            project_id: project.id.clone(),
            since: None,
            history_epoch: String::new(),
        })
        .await;
    assert_eq!(
        code(&err),
        pb::ErrorCode::NotFound,
        "a non-member cannot tell the project exists"
    );
    let err = stranger
        .err(pb::Subscribe {
            project_id: "not-a-uuid".into(),
            since: None,
            history_epoch: String::new(),
        })
        .await;
    assert_eq!(
        (code(&err), err.field.as_str()),
        (pb::ErrorCode::Validation, "project_id")
    );
    let mut admin = app.client("acme", "root", TenantRole::Admin).await;
    assert_eq!(admin.subscribe(&project.id).await.project_id, project.id);
}

#[tokio::test]
async fn another_tenant_never_sees_events_even_for_the_same_project_id() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;

    // Give tenant "other" a project with the very same id (and a member), straight in its file.
    let store = pm_db::TenantManager::new(pm_db::StorageConfig::new(app.dir.path()));
    let other = store
        .open(&TenantId::parse("other").unwrap())
        .await
        .unwrap();
    let mut tx = other.begin_write().await.unwrap();
    let now = Timestamp::now();
    let eve = UserId::parse("eve").unwrap();
    let twin = pm_core::Project {
        id: ProjectId::parse(&project.id).unwrap(),
        key: pm_core::ProjectKey::parse("WEB").unwrap(),
        title: pm_core::Title::parse("Twin").unwrap(),
        description: pm_core::Description::empty(),
        status: pm_core::ProjectStatus::Active,
        next_item_number: 1,
        version: 1,
        created_at: now,
        created_by: eve.clone(),
        updated_at: now,
        updated_by: eve.clone(),
        deleted_at: None,
    };
    pm_db::project::insert(&mut tx, &twin).await.unwrap();
    pm_db::member::insert(
        &mut tx,
        &pm_core::ProjectMember {
            project_id: twin.id,
            user_id: eve.clone(),
            role: pm_core::ProjectRole::Admin,
            version: 1,
            created_at: now,
            created_by: eve.clone(),
            updated_at: now,
            updated_by: eve,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut eve = app.client("other", "eve", TenantRole::Editor).await;
    eve.subscribe(&project.id).await;
    alice.subscribe(&project.id).await;
    alice
        .create_item(&project, pb::WorkItemType::Task, "Tenant acme only")
        .await;
    eve.assert_no_events().await;
    eve.create_item(
        &pb::Project {
            id: project.id.clone(),
            ..Default::default()
        },
        pb::WorkItemType::Task,
        "Tenant other only",
    )
    .await;
    alice.assert_no_events().await;
}

#[tokio::test]
async fn subscribers_are_told_who_else_is_viewing_including_after_an_abrupt_disconnect() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("WEB").await;
    alice
        .add_member(&project, "bob", pb::ProjectRole::Viewer)
        .await;
    let first = alice.subscribe(&project.id).await;
    assert_eq!(first.viewers, vec!["alice"]);
    let mut alice_sees: BTreeSet<String> = first.viewers.into_iter().collect();

    let mut bob = app.editor("bob").await;
    let subscribed = bob.subscribe(&project.id).await;
    // Bob starts from what was last announced (alice's arrival may still be on its way), himself
    // included, and the presence messages that follow bring both views to the same set.
    assert!(subscribed.viewers.contains(&"bob".to_owned()));
    let mut bob_sees: BTreeSet<String> = subscribed.viewers.into_iter().collect();
    presence_until(&mut bob, &mut bob_sees, &["alice", "bob"]).await;
    presence_until(&mut alice, &mut alice_sees, &["alice", "bob"]).await;

    // Bob's connection drops without a goodbye.
    drop(bob);
    presence_until(&mut alice, &mut alice_sees, &["alice"]).await;
}

/// Applies the presence messages `client` receives to `viewers`, as a client does, until they are
/// `expected` (the helper's receive timeout fails the test if they never get there).
async fn presence_until(client: &mut Client, viewers: &mut BTreeSet<String>, expected: &[&str]) {
    let expected: BTreeSet<String> = expected.iter().map(|u| (*u).to_owned()).collect();
    while *viewers != expected {
        if let Some(pb::server_message::Message::Presence(p)) = client.next_message().await.message
        {
            for user in p.departed {
                viewers.remove(&user);
            }
            viewers.extend(p.arrived);
        }
    }
}

/// A subscribe and a removal racing each other: whichever wins, the removed user never receives
/// a change made after the removal. (Subscribe checks access on a snapshot and joins the hub
/// afterwards; a removal published in between must not leave them subscribed.)
#[tokio::test]
async fn a_subscribe_racing_a_removal_never_leaves_the_removed_user_subscribed() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let project = alice.create_project("RACE").await;
    let mut bob = app.editor("bob").await;
    for round in 0..40 {
        alice
            .add_member(&project, "bob", pb::ProjectRole::Viewer)
            .await;
        let subscribe_id = request_id();
        let remove_id = request_id();
        // Both frames leave before either reply is read: the server handles them concurrently.
        tokio::join!(
            bob.send(
                &subscribe_id,
                pb::Subscribe {
                    project_id: project.id.clone(),
                    since: None,
                    history_epoch: String::new(),
                },
            ),
            alice.send(
                &remove_id,
                pb::RemoveMember {
                    project_id: project.id.clone(),
                    user_id: "bob".into(),
                },
            ),
        );
        let (_subscribed, removed) =
            tokio::join!(bob.reply_to(&subscribe_id), alice.reply_to(&remove_id));
        assert!(
            matches!(removed.result, Some(pb::reply::Result::MemberRemoved(_))),
            "round {round}: {removed:?}"
        );
        let after = alice
            .create_item(&project, pb::WorkItemType::Task, &format!("after {round}"))
            .await;
        let leaked: Vec<_> = bob
            .drain_events()
            .await
            .into_iter()
            .filter(|e| matches!(change(e), Change::WorkItem(w) if w.id == after.id))
            .collect();
        assert!(leaked.is_empty(), "round {round}: bob saw {leaked:?}");
        // Whatever happened, end the round unsubscribed.
        bob.ok(pb::Unsubscribe {
            project_id: project.id.clone(),
        })
        .await;
    }
}
