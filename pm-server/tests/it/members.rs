//! Project membership over the WebSocket: adding members, changing their role, removing them, and
//! the rules that keep every project administered.

use pm_core::TenantRole;
use pm_proto::pb::{
    self, ErrorCode, ProjectRole, WorkItemType as Type, change::Change, client_message::Command,
    error::Current,
};

use crate::helpers::*;

/// Alice administers project WEB; `root`, a tenant admin, watches it.
async fn board(app: &TestApp) -> (Client, pb::Project, Client) {
    let mut alice = app.editor("alice").await;
    let web = alice.create_project("WEB").await;
    let mut watcher = app.client("acme", "root", TenantRole::Admin).await;
    watcher.subscribe(&web.id).await;
    (alice, web, watcher)
}

async fn add(
    client: &mut Client,
    project: &pb::Project,
    user: &str,
    role: ProjectRole,
) -> pb::Member {
    client
        .ok(pb::AddMember {
            project_id: project.id.clone(),
            user_id: user.to_owned(),
            role: role.into(),
        })
        .await
        .member
        .unwrap()
}

async fn members(client: &mut Client, project: &pb::Project) -> Vec<pb::Member> {
    client
        .ok(pb::ListMembers {
            project_id: project.id.clone(),
        })
        .await
        .members
}

fn roles(members: &[pb::Member]) -> Vec<(&str, ProjectRole)> {
    members
        .iter()
        .map(|m| (m.user_id.as_str(), m.role()))
        .collect()
}

fn member_of<'a>(members: &'a [pb::Member], user: &str) -> &'a pb::Member {
    members.iter().find(|m| m.user_id == user).unwrap()
}

#[tokio::test]
async fn an_admin_adds_a_member_changes_their_role_and_removes_them() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    watcher.drain_events().await;

    let bob = add(&mut alice, &web, "bob", ProjectRole::Editor).await;
    assert_eq!(
        (bob.project_id.as_str(), bob.user_id.as_str(), bob.role()),
        (web.id.as_str(), "bob", ProjectRole::Editor)
    );
    assert_eq!((bob.version, bob.created_by.as_str()), (1, "alice"));
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::Member(bob.clone())
    );
    assert_eq!(
        roles(&members(&mut alice, &web).await),
        [("alice", ProjectRole::Admin), ("bob", ProjectRole::Editor)]
    );
    let mut bob_client = app.editor("bob").await;
    assert_eq!(
        bob_client
            .ok(pb::GetProject {
                project: "WEB".into(),
            })
            .await
            .my_role(),
        ProjectRole::Editor
    );

    let viewer = alice
        .ok(pb::ChangeMemberRole {
            project_id: web.id.clone(),
            user_id: "bob".into(),
            role: ProjectRole::Viewer.into(),
            version: 1,
        })
        .await
        .member
        .unwrap();
    let expected = pb::Member {
        role: ProjectRole::Viewer.into(),
        version: 2,
        updated_at: viewer.updated_at,
        ..bob.clone()
    };
    assert_eq!(viewer, expected);
    assert_eq!(
        member_of(&members(&mut alice, &web).await, "bob"),
        &expected
    );
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::Member(expected)
    );

    let removed = alice
        .ok(pb::RemoveMember {
            project_id: web.id.clone(),
            user_id: "bob".into(),
        })
        .await;
    let gone = pb::MemberRemoved {
        project_id: web.id.clone(),
        user_id: "bob".into(),
    };
    assert_eq!(removed, gone);
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::MemberRemoved(gone)
    );
    assert_eq!(
        roles(&members(&mut alice, &web).await),
        [("alice", ProjectRole::Admin)]
    );
    let err = bob_client
        .err(pb::GetProject {
            project: "WEB".into(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound, "bob lost access");

    // A removed member can be added again, afresh.
    let back = add(&mut alice, &web, "bob", ProjectRole::Admin).await;
    assert_eq!((back.version, back.role()), (1, ProjectRole::Admin));
}

#[tokio::test]
async fn the_last_admin_can_be_neither_removed_nor_demoted() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    watcher.drain_events().await;

    assert_refused(
        &mut alice,
        pb::RemoveMember {
            project_id: web.id.clone(),
            user_id: "alice".into(),
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    for role in [ProjectRole::Editor, ProjectRole::Viewer] {
        assert_refused(
            &mut alice,
            pb::ChangeMemberRole {
                project_id: web.id.clone(),
                user_id: "alice".into(),
                role: role.into(),
                version: 1,
            },
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await;
    }

    // With a second admin, the first may step down; then the second is the last one.
    add(&mut alice, &web, "bob", ProjectRole::Admin).await;
    let stepped_down = alice
        .ok(pb::ChangeMemberRole {
            project_id: web.id.clone(),
            user_id: "alice".into(),
            role: ProjectRole::Editor.into(),
            version: 1,
        })
        .await
        .member
        .unwrap();
    assert_eq!(stepped_down.role(), ProjectRole::Editor);
    watcher.drain_events().await;
    let mut bob = app.editor("bob").await;
    assert_refused(
        &mut bob,
        pb::RemoveMember {
            project_id: web.id.clone(),
            user_id: "bob".into(),
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut bob,
        pb::ChangeMemberRole {
            project_id: web.id.clone(),
            user_id: "bob".into(),
            role: ProjectRole::Viewer.into(),
            version: 1,
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    // Removing another admin while one remains is fine.
    bob.ok(pb::ChangeMemberRole {
        project_id: web.id.clone(),
        user_id: "alice".into(),
        role: ProjectRole::Admin.into(),
        version: 2,
    })
    .await;
    bob.ok(pb::RemoveMember {
        project_id: web.id.clone(),
        user_id: "alice".into(),
    })
    .await;
    assert_eq!(
        roles(&members(&mut bob, &web).await),
        [("bob", ProjectRole::Admin)]
    );
}

#[tokio::test]
async fn invalid_membership_changes_are_refused_with_the_field_named() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let bob = add(&mut alice, &web, "bob", ProjectRole::Editor).await;
    watcher.drain_events().await;

    let adding = |user: &str, role: i32| pb::AddMember {
        project_id: web.id.clone(),
        user_id: user.to_owned(),
        role,
    };
    for (request, expected) in [
        (
            adding("carol", ProjectRole::Unspecified.into()),
            (ErrorCode::Validation, "role"),
        ),
        (adding("carol", 7), (ErrorCode::Validation, "role")),
        (
            adding("", ProjectRole::Editor.into()),
            (ErrorCode::Validation, "user_id"),
        ),
        (
            adding(" carol", ProjectRole::Editor.into()),
            (ErrorCode::Validation, "user_id"),
        ),
        (
            adding(&"u".repeat(129), ProjectRole::Editor.into()),
            (ErrorCode::Validation, "user_id"),
        ),
        (
            pb::AddMember {
                project_id: "not-a-uuid".into(),
                ..adding("carol", ProjectRole::Editor.into())
            },
            (ErrorCode::Validation, "project_id"),
        ),
        (
            adding("bob", ProjectRole::Admin.into()),
            (ErrorCode::Conflict, ""),
        ),
    ] {
        assert_refused(&mut alice, request, expected, &mut watcher, &web).await;
    }

    let changing = |user: &str, role: ProjectRole, version: i64| pb::ChangeMemberRole {
        project_id: web.id.clone(),
        user_id: user.to_owned(),
        role: role.into(),
        version,
    };
    for (request, expected) in [
        (
            changing("bob", ProjectRole::Unspecified, 1),
            (ErrorCode::Validation, "role"),
        ),
        (
            changing("", ProjectRole::Viewer, 1),
            (ErrorCode::Validation, "user_id"),
        ),
        (
            changing("nobody", ProjectRole::Viewer, 1),
            (ErrorCode::NotFound, ""),
        ),
    ] {
        assert_refused(&mut alice, request, expected, &mut watcher, &web).await;
    }
    for (user, expected) in [
        ("nobody", (ErrorCode::NotFound, "")),
        ("", (ErrorCode::Validation, "user_id")),
    ] {
        assert_refused(
            &mut alice,
            pb::RemoveMember {
                project_id: web.id.clone(),
                user_id: user.to_owned(),
            },
            expected,
            &mut watcher,
            &web,
        )
        .await;
    }
    let err = alice
        .err(pb::ListMembers {
            project_id: "x".into(),
        })
        .await;
    assert_eq!(
        (code(&err), err.field.as_str()),
        (ErrorCode::Validation, "project_id")
    );
    assert_eq!(member_of(&members(&mut alice, &web).await, "bob"), &bob);
}

#[tokio::test]
async fn a_stale_membership_version_is_a_conflict_that_carries_the_current_membership() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    add(&mut alice, &web, "bob", ProjectRole::Editor).await;
    let now = alice
        .ok(pb::ChangeMemberRole {
            project_id: web.id.clone(),
            user_id: "bob".into(),
            role: ProjectRole::Viewer.into(),
            version: 1,
        })
        .await
        .member
        .unwrap();
    watcher.drain_events().await;

    let err = assert_refused(
        &mut alice,
        pb::ChangeMemberRole {
            project_id: web.id.clone(),
            user_id: "bob".into(),
            role: ProjectRole::Admin.into(),
            version: 1,
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_eq!(err.current_version, Some(2));
    assert_eq!(err.current, Some(Current::Member(now)));
}

#[tokio::test]
async fn only_project_admins_manage_members() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    // A tenant viewer is read-only even as a project admin.
    add(&mut alice, &web, "vic", ProjectRole::Admin).await;
    add(&mut alice, &web, "pat", ProjectRole::Viewer).await;
    add(&mut alice, &web, "ed", ProjectRole::Editor).await;
    watcher.drain_events().await;

    let management: Vec<Command> = vec![
        pb::AddMember {
            project_id: web.id.clone(),
            user_id: "friend".into(),
            role: ProjectRole::Editor.into(),
        }
        .into(),
        pb::ChangeMemberRole {
            project_id: web.id.clone(),
            user_id: "pat".into(),
            role: ProjectRole::Admin.into(),
            version: 1,
        }
        .into(),
        pb::RemoveMember {
            project_id: web.id.clone(),
            user_id: "alice".into(),
        }
        .into(),
        pb::RemoveMember {
            project_id: web.id.clone(),
            user_id: "ed".into(),
        }
        .into(),
    ];
    let vic = app.client("acme", "vic", TenantRole::Viewer).await;
    let pat = app.editor("pat").await;
    let ed = app.editor("ed").await;
    for mut client in [vic, pat, ed] {
        for command in &management {
            assert_command_refused(
                &mut client,
                command.clone(),
                ErrorCode::PermissionDenied,
                &mut watcher,
                &web,
            )
            .await;
        }
        // Every member may read the member list.
        assert_eq!(members(&mut client, &web).await.len(), 4);
    }

    // A tenant admin manages members without being one.
    let mut root = app.client("acme", "boss", TenantRole::Admin).await;
    add(&mut root, &web, "friend", ProjectRole::Viewer).await;
    root.ok(pb::RemoveMember {
        project_id: web.id.clone(),
        user_id: "friend".into(),
    })
    .await;
}

#[tokio::test]
async fn a_role_change_applies_to_the_next_command() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    add(&mut alice, &web, "bob", ProjectRole::Editor).await;
    let mut bob = app.editor("bob").await;
    bob.create_item(&web, Type::Task, "While an editor").await;
    alice
        .ok(pb::ChangeMemberRole {
            project_id: web.id.clone(),
            user_id: "bob".into(),
            role: ProjectRole::Viewer.into(),
            version: 1,
        })
        .await;
    watcher.drain_events().await;

    assert_refused(
        &mut bob,
        pb::CreateWorkItem {
            project_id: web.id.clone(),
            r#type: Type::Task.into(),
            title: "As a viewer".into(),
            ..Default::default()
        },
        (ErrorCode::PermissionDenied, ""),
        &mut watcher,
        &web,
    )
    .await;

    alice
        .ok(pb::ChangeMemberRole {
            project_id: web.id.clone(),
            user_id: "bob".into(),
            role: ProjectRole::Admin.into(),
            version: 2,
        })
        .await;
    add(&mut bob, &web, "carol", ProjectRole::Editor).await;
}

#[tokio::test]
async fn a_non_member_cannot_list_or_manage_members() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    add(&mut alice, &web, "bob", ProjectRole::Editor).await;
    watcher.drain_events().await;
    let mut mallory = app.editor("mallory").await;

    let err = mallory
        .err(pb::ListMembers {
            project_id: web.id.clone(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    assert_refused(
        &mut mallory,
        pb::AddMember {
            project_id: web.id.clone(),
            user_id: "mallory".into(),
            role: ProjectRole::Admin.into(),
        },
        (ErrorCode::NotFound, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut mallory,
        pb::RemoveMember {
            project_id: web.id.clone(),
            user_id: "bob".into(),
        },
        (ErrorCode::NotFound, ""),
        &mut watcher,
        &web,
    )
    .await;
}

#[tokio::test]
async fn a_removed_member_stops_receiving_the_projects_events() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    add(&mut alice, &web, "bob", ProjectRole::Viewer).await;
    let mut bob = app.editor("bob").await;
    bob.subscribe(&web.id).await;
    alice
        .ok(pb::RemoveMember {
            project_id: web.id.clone(),
            user_id: "bob".into(),
        })
        .await;
    // Being told of the removal itself is fair; the project's later changes are not bob's to see.
    bob.drain_events().await;

    alice.create_item(&web, Type::Task, "After bob left").await;
    bob.assert_no_events().await;
}
