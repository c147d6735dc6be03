//! Projects over the WebSocket: creating, changing, archiving and deleting them, who sees which,
//! and the rules that refuse a change without writing anything.

use pm_core::TenantRole;
use pm_proto::pb::{
    self, ErrorCode, ProjectRole, ProjectStatus, WorkItemStatus as Status, WorkItemType as Type,
    change::Change, client_message::Command, error::Current,
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

fn new_project(key: &str, title: &str) -> pb::CreateProject {
    pb::CreateProject {
        key: key.to_owned(),
        title: title.to_owned(),
        description: String::new(),
    }
}

async fn get(client: &mut Client, id_or_key: &str) -> pb::ProjectResponse {
    client
        .ok(pb::GetProject {
            project: id_or_key.to_owned(),
        })
        .await
}

async fn listed(client: &mut Client, include_archived: bool) -> Vec<(String, ProjectRole)> {
    client
        .ok(pb::ListProjects { include_archived })
        .await
        .projects
        .into_iter()
        .map(|p| (p.project.as_ref().unwrap().key.clone(), p.my_role()))
        .collect()
}

fn entries(list: &[(&str, ProjectRole)]) -> Vec<(String, ProjectRole)> {
    list.iter().map(|(k, r)| ((*k).to_owned(), *r)).collect()
}

#[tokio::test]
async fn creating_a_project_makes_the_creator_its_admin_with_the_five_default_lanes() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let created = alice
        .ok(pb::CreateProject {
            description: "The *public* site".into(),
            ..new_project("WEB", "Website")
        })
        .await;
    assert_eq!(created.my_role(), ProjectRole::Admin);
    let project = created.project.clone().unwrap();
    assert_eq!(
        (
            project.key.as_str(),
            project.title.as_str(),
            project.description.as_str()
        ),
        ("WEB", "Website", "The *public* site")
    );
    assert_eq!(project.status(), ProjectStatus::Active);
    assert_eq!(project.version, 1);
    assert_eq!(
        (project.created_by.as_str(), project.updated_by.as_str()),
        ("alice", "alice")
    );

    let snapshot = alice
        .ok(pb::GetSnapshot {
            project_id: project.id.clone(),
        })
        .await;
    assert_eq!(snapshot.project.as_ref(), Some(&project));
    let members: Vec<(&str, ProjectRole)> = snapshot
        .members
        .iter()
        .map(|m| (m.user_id.as_str(), m.role()))
        .collect();
    assert_eq!(members, [("alice", ProjectRole::Admin)]);
    let lanes: Vec<(&str, Status, u32)> = snapshot
        .swim_lanes
        .iter()
        .map(|l| (l.name.as_str(), l.status(), l.position))
        .collect();
    assert_eq!(
        lanes,
        [
            ("Backlog", Status::Backlog, 0),
            ("To do", Status::Todo, 1),
            ("In progress", Status::InProgress, 2),
            ("Review", Status::Review, 3),
            ("Done", Status::Done, 4),
        ]
    );
    assert!(
        snapshot
            .swim_lanes
            .iter()
            .all(|l| l.project_id == project.id)
    );
    assert!(snapshot.work_items.is_empty() && snapshot.sprints.is_empty());
    assert_eq!(get(&mut alice, &project.id).await, created);
}

#[tokio::test]
async fn an_admin_changes_title_description_and_key_and_item_keys_follow() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let item = alice.create_item(&web, Type::Task, "Task").await;
    assert_eq!(item.key, "WEB-1");
    watcher.drain_events().await;

    let retitled = alice
        .ok(pb::UpdateProject {
            project_id: web.id.clone(),
            version: 1,
            title: Some("Shop".into()),
            description: Some("Everything we sell".into()),
            ..Default::default()
        })
        .await;
    let retitled = retitled.project.unwrap();
    let expected = pb::Project {
        title: "Shop".into(),
        description: "Everything we sell".into(),
        version: 2,
        updated_at: retitled.updated_at,
        ..web.clone()
    };
    assert_eq!(retitled, expected);
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::Project(expected)
    );

    let rekeyed = alice
        .ok(pb::UpdateProject {
            project_id: web.id.clone(),
            version: 2,
            key: Some("SHOP".into()),
            ..Default::default()
        })
        .await
        .project
        .unwrap();
    assert_eq!(
        (rekeyed.key.as_str(), rekeyed.title.as_str()),
        ("SHOP", "Shop")
    );
    assert_eq!(rekeyed.version, 3);
    assert_eq!(get(&mut alice, "SHOP").await.project, Some(rekeyed.clone()));
    let err = alice
        .err(pb::GetProject {
            project: "WEB".into(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    let by_new_key = alice
        .ok(pb::GetWorkItem {
            work_item: "SHOP-1".into(),
        })
        .await
        .work_item
        .unwrap();
    assert_eq!(
        (by_new_key.id.as_str(), by_new_key.key.as_str()),
        (item.id.as_str(), "SHOP-1")
    );
    let err = alice
        .err(pb::GetWorkItem {
            work_item: "WEB-1".into(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::Project(rekeyed)
    );
    // New items are numbered on.
    assert_eq!(
        alice.create_item(&web, Type::Task, "Next").await.key,
        "SHOP-2"
    );
}

#[tokio::test]
async fn an_archived_project_is_read_only_until_it_is_unarchived() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let item = alice.create_item(&web, Type::Task, "Task").await;
    watcher.drain_events().await;

    let archived = alice
        .ok(pb::ArchiveProject {
            project_id: web.id.clone(),
            version: 1,
        })
        .await
        .project
        .unwrap();
    assert_eq!(archived.status(), ProjectStatus::Archived);
    assert_eq!(archived.version, 2);
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::Project(archived.clone())
    );
    assert!(listed(&mut alice, false).await.is_empty());
    assert_eq!(
        listed(&mut alice, true).await,
        entries(&[("WEB", ProjectRole::Admin)])
    );

    let content: Vec<Command> = vec![
        pb::CreateWorkItem {
            project_id: web.id.clone(),
            r#type: Type::Task.into(),
            title: "New".into(),
            ..Default::default()
        }
        .into(),
        pb::UpdateWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
            title: Some("Changed".into()),
            ..Default::default()
        }
        .into(),
        pb::DeleteWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
        }
        .into(),
        pb::CreateSprint {
            project_id: web.id.clone(),
            name: "Sprint".into(),
            ..Default::default()
        }
        .into(),
        pb::AddComment {
            work_item_id: item.id.clone(),
            body: "Hello?".into(),
        }
        .into(),
        pb::ArchiveProject {
            project_id: web.id.clone(),
            version: 2,
        }
        .into(),
    ];
    for command in content {
        assert_command_refused(&mut alice, command, ErrorCode::Conflict, &mut watcher, &web).await;
    }

    let active = alice
        .ok(pb::UnarchiveProject {
            project_id: web.id.clone(),
            version: 2,
        })
        .await
        .project
        .unwrap();
    assert_eq!(active.status(), ProjectStatus::Active);
    assert_eq!(active.version, 3);
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::Project(active.clone())
    );
    assert_refused(
        &mut alice,
        pb::UnarchiveProject {
            project_id: web.id.clone(),
            version: 3,
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    alice.create_item(&web, Type::Task, "Writable again").await;
}

#[tokio::test]
async fn a_project_with_live_items_is_kept_but_an_empty_one_is_deleted_and_frees_its_key() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let item = alice.create_item(&web, Type::Task, "Still here").await;
    watcher.drain_events().await;

    assert_refused(
        &mut alice,
        pb::DeleteProject {
            project_id: web.id.clone(),
            version: 1,
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;

    alice
        .ok(pb::DeleteWorkItem {
            work_item_id: item.id.clone(),
            version: 1,
        })
        .await;
    watcher.drain_events().await;
    let unchanged = get(&mut alice, &web.id).await.project.unwrap();
    let deleted = alice
        .ok(pb::DeleteProject {
            project_id: web.id.clone(),
            version: unchanged.version,
        })
        .await;
    assert_eq!(deleted.id, web.id);
    assert_eq!(
        change(&watcher.next_event().await),
        &Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::Project.into(),
            id: web.id.clone(),
        })
    );
    for lookup in [web.id.as_str(), "WEB"] {
        let err = alice
            .err(pb::GetProject {
                project: lookup.into(),
            })
            .await;
        assert_eq!(code(&err), ErrorCode::NotFound, "{lookup}");
    }
    assert!(listed(&mut alice, true).await.is_empty());

    let again = alice.create_project("WEB").await;
    assert_ne!(again.id, web.id);
    assert_eq!(get(&mut alice, "WEB").await.project, Some(again.clone()));
    assert_eq!(
        alice.create_item(&again, Type::Task, "Fresh").await.key,
        "WEB-1"
    );
}

#[tokio::test]
async fn the_list_shows_the_projects_a_user_may_see_and_a_tenant_admin_sees_all() {
    let app = TestApp::spawn().await;
    let mut alice = app.editor("alice").await;
    let web = alice.create_project("WEB").await;
    let api = alice.create_project("API").await;
    let mut bob = app.editor("bob").await;
    bob.create_project("OPS").await;
    alice.add_member(&api, "bob", ProjectRole::Viewer).await;
    alice.add_member(&web, "bob", ProjectRole::Editor).await;
    alice
        .ok(pb::ArchiveProject {
            project_id: web.id.clone(),
            version: 1,
        })
        .await;

    assert_eq!(
        listed(&mut alice, false).await,
        entries(&[("API", ProjectRole::Admin)])
    );
    assert_eq!(
        listed(&mut bob, false).await,
        entries(&[("API", ProjectRole::Viewer), ("OPS", ProjectRole::Admin)])
    );
    assert_eq!(
        listed(&mut bob, true).await,
        entries(&[
            ("API", ProjectRole::Viewer),
            ("OPS", ProjectRole::Admin),
            ("WEB", ProjectRole::Editor)
        ])
    );
    let mut carol = app.editor("carol").await;
    assert!(listed(&mut carol, true).await.is_empty());
    // As a tenant viewer, bob sees the same projects, read-only.
    let mut bob_read_only = app.client("acme", "bob", TenantRole::Viewer).await;
    assert_eq!(
        listed(&mut bob_read_only, true).await,
        entries(&[
            ("API", ProjectRole::Viewer),
            ("OPS", ProjectRole::Viewer),
            ("WEB", ProjectRole::Viewer)
        ])
    );
    let mut root = app.client("acme", "root", TenantRole::Admin).await;
    assert_eq!(
        listed(&mut root, true).await,
        entries(&[
            ("API", ProjectRole::Admin),
            ("OPS", ProjectRole::Admin),
            ("WEB", ProjectRole::Admin)
        ])
    );
    // Another tenant's projects are never listed.
    let mut eve = app.client("globex", "eve", TenantRole::Admin).await;
    assert!(listed(&mut eve, true).await.is_empty());
}

#[tokio::test]
async fn a_project_is_read_by_id_or_by_key() {
    let app = TestApp::spawn().await;
    let (mut alice, web, _watcher) = board(&app).await;
    alice.add_member(&web, "bob", ProjectRole::Viewer).await;
    let web = get(&mut alice, &web.id).await.project.unwrap();

    let by_id = get(&mut alice, &web.id).await;
    assert_eq!(by_id.project.as_ref(), Some(&web));
    assert_eq!(by_id.my_role(), ProjectRole::Admin);
    assert_eq!(get(&mut alice, "WEB").await, by_id);
    assert_eq!(
        get(&mut alice, "web").await,
        by_id,
        "keys in any letter case"
    );
    let mut bob = app.editor("bob").await;
    assert_eq!(get(&mut bob, "WEB").await.my_role(), ProjectRole::Viewer);
    let mut root = app.client("acme", "root", TenantRole::Admin).await;
    assert_eq!(get(&mut root, "WEB").await.my_role(), ProjectRole::Admin);

    for (lookup, expected) in [
        ("NOPE", (ErrorCode::NotFound, "")),
        (&uuid::Uuid::now_v7().to_string(), (ErrorCode::NotFound, "")),
        ("w-b", (ErrorCode::Validation, "project")),
        ("", (ErrorCode::Validation, "project")),
    ] {
        let err = alice
            .err(pb::GetProject {
                project: lookup.to_owned(),
            })
            .await;
        assert_eq!((code(&err), err.field.as_str()), expected, "{lookup:?}");
    }
}

#[tokio::test]
async fn a_non_member_cannot_tell_that_a_project_exists() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    alice.create_item(&web, Type::Task, "Secret").await;
    watcher.drain_events().await;
    let mut mallory = app.editor("mallory").await;

    let unknown = uuid::Uuid::now_v7().to_string();
    for lookup in [web.id.as_str(), "WEB", unknown.as_str()] {
        let err = mallory
            .err(pb::GetProject {
                project: lookup.to_owned(),
            })
            .await;
        assert_eq!(code(&err), ErrorCode::NotFound, "{lookup}");
    }
    let err = mallory
        .err(pb::GetSnapshot {
            project_id: web.id.clone(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    let err = mallory
        .err(pb::ListMembers {
            project_id: web.id.clone(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    let mutations: Vec<Command> = vec![
        pb::UpdateProject {
            project_id: web.id.clone(),
            version: 1,
            title: Some("Mine".into()),
            ..Default::default()
        }
        .into(),
        pb::ArchiveProject {
            project_id: web.id.clone(),
            version: 1,
        }
        .into(),
        pb::DeleteProject {
            project_id: web.id.clone(),
            version: 1,
        }
        .into(),
        pb::AddMember {
            project_id: web.id.clone(),
            user_id: "mallory".into(),
            role: ProjectRole::Admin.into(),
        }
        .into(),
    ];
    for command in mutations {
        assert_command_refused(
            &mut mallory,
            command,
            ErrorCode::NotFound,
            &mut watcher,
            &web,
        )
        .await;
    }
    // Another tenant cannot see it either.
    let mut eve = app.client("globex", "eve", TenantRole::Admin).await;
    let err = eve
        .err(pb::GetProject {
            project: web.id.clone(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
}

#[tokio::test]
async fn invalid_project_input_is_refused_with_the_field_named() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    watcher.drain_events().await;

    let creates = [
        (new_project("web", "Lower case"), "key"),
        (new_project("W", "Too short"), "key"),
        (new_project("ABCDEFGHIJK", "Too long"), "key"),
        (new_project("1WEB", "Starts with a digit"), "key"),
        (new_project("WE-B", "Punctuation"), "key"),
        (new_project("OK", ""), "title"),
        (new_project("OK", "   "), "title"),
        (new_project("OK", &"t".repeat(201)), "title"),
        (
            pb::CreateProject {
                description: "d".repeat(50_001),
                ..new_project("OK", "Fine")
            },
            "description",
        ),
    ];
    for (request, field) in creates {
        assert_refused(
            &mut alice,
            request,
            (ErrorCode::Validation, field),
            &mut watcher,
            &web,
        )
        .await;
    }
    let update = || pb::UpdateProject {
        project_id: web.id.clone(),
        version: 1,
        ..Default::default()
    };
    let updates = [
        (
            pb::UpdateProject {
                project_id: "not-a-uuid".into(),
                title: Some("Fine".into()),
                ..update()
            },
            "project_id",
        ),
        (
            pb::UpdateProject {
                key: Some("bad key".into()),
                ..update()
            },
            "key",
        ),
        (
            pb::UpdateProject {
                title: Some(String::new()),
                ..update()
            },
            "title",
        ),
        (
            pb::UpdateProject {
                title: Some("t".repeat(201)),
                ..update()
            },
            "title",
        ),
    ];
    for (request, field) in updates {
        assert_refused(
            &mut alice,
            request,
            (ErrorCode::Validation, field),
            &mut watcher,
            &web,
        )
        .await;
    }
    for command in [
        Command::from(pb::ArchiveProject {
            project_id: "x".into(),
            version: 1,
        }),
        pb::UnarchiveProject {
            project_id: "x".into(),
            version: 1,
        }
        .into(),
        pb::DeleteProject {
            project_id: "x".into(),
            version: 1,
        }
        .into(),
    ] {
        assert_command_refused(
            &mut alice,
            command,
            ErrorCode::Validation,
            &mut watcher,
            &web,
        )
        .await;
    }
    // The longest allowed title and key are accepted.
    let longest = "é".repeat(200);
    let created = alice.create_project("ABCDEFGHIJ").await;
    let renamed = alice
        .ok(pb::UpdateProject {
            project_id: created.id.clone(),
            version: 1,
            title: Some(longest.clone()),
            ..Default::default()
        })
        .await;
    assert_eq!(renamed.project.unwrap().title, longest);
}

#[tokio::test]
async fn a_project_key_is_unique_among_live_projects() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let api = alice.create_project("API").await;
    let mut bob = app.editor("bob").await;
    watcher.drain_events().await;

    assert_refused(
        &mut bob,
        new_project("WEB", "Mine too"),
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_refused(
        &mut alice,
        pb::UpdateProject {
            project_id: api.id.clone(),
            version: 1,
            key: Some("WEB".into()),
            ..Default::default()
        },
        (ErrorCode::Conflict, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_eq!(get(&mut alice, "API").await.project, Some(api));
}

#[tokio::test]
async fn only_project_admins_administer_and_tenant_viewers_create_nothing() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    // A tenant viewer is read-only even as a project admin.
    alice.add_member(&web, "vic", ProjectRole::Admin).await;
    alice.add_member(&web, "pat", ProjectRole::Viewer).await;
    alice.add_member(&web, "ed", ProjectRole::Editor).await;
    watcher.drain_events().await;
    let web = get(&mut alice, &web.id).await.project.unwrap();

    let administration: Vec<Command> = vec![
        pb::UpdateProject {
            project_id: web.id.clone(),
            version: web.version,
            title: Some("Taken over".into()),
            ..Default::default()
        }
        .into(),
        pb::ArchiveProject {
            project_id: web.id.clone(),
            version: web.version,
        }
        .into(),
        pb::UnarchiveProject {
            project_id: web.id.clone(),
            version: web.version,
        }
        .into(),
        pb::DeleteProject {
            project_id: web.id.clone(),
            version: web.version,
        }
        .into(),
    ];
    let mut vic = app.client("acme", "vic", TenantRole::Viewer).await;
    assert_refused(
        &mut vic,
        new_project("VIC", "Viewer's own"),
        (ErrorCode::PermissionDenied, ""),
        &mut watcher,
        &web,
    )
    .await;
    let pat = app.editor("pat").await;
    let ed = app.editor("ed").await;
    for mut client in [vic, pat, ed] {
        for command in &administration {
            assert_command_refused(
                &mut client,
                command.clone(),
                ErrorCode::PermissionDenied,
                &mut watcher,
                &web,
            )
            .await;
        }
        assert_eq!(get(&mut client, "WEB").await.project, Some(web.clone()));
    }
    // Any tenant editor may create a project of their own, and a tenant admin administers all.
    let mut ed = app.editor("ed").await;
    assert_eq!(
        ed.ok(new_project("ED", "Ed's")).await.my_role(),
        ProjectRole::Admin
    );
    let mut root = app.client("acme", "root2", TenantRole::Admin).await;
    root.ok(pb::UpdateProject {
        project_id: web.id.clone(),
        version: web.version,
        title: Some("Managed by a tenant admin".into()),
        ..Default::default()
    })
    .await;
}

#[tokio::test]
async fn a_stale_project_version_is_a_conflict_that_carries_the_current_project() {
    let app = TestApp::spawn().await;
    let (mut alice, web, mut watcher) = board(&app).await;
    let now = alice
        .ok(pb::UpdateProject {
            project_id: web.id.clone(),
            version: 1,
            title: Some("Changed by someone else".into()),
            ..Default::default()
        })
        .await
        .project
        .unwrap();
    watcher.drain_events().await;

    let stale: Vec<Command> = vec![
        pb::UpdateProject {
            project_id: web.id.clone(),
            version: 1,
            title: Some("Mine".into()),
            ..Default::default()
        }
        .into(),
        pb::ArchiveProject {
            project_id: web.id.clone(),
            version: 1,
        }
        .into(),
        pb::DeleteProject {
            project_id: web.id.clone(),
            version: 1,
        }
        .into(),
    ];
    for command in stale {
        let id = request_id();
        let before = watcher
            .ok(pb::GetSnapshot {
                project_id: web.id.clone(),
            })
            .await;
        alice
            .send_raw(pm_proto::encode(&pb::ClientMessage {
                request_id: id.clone(),
                command: Some(command),
            }))
            .await;
        let Some(pb::reply::Result::Error(err)) = alice.reply_to(&id).await.result else {
            panic!("a stale version was accepted");
        };
        assert_eq!(code(&err), ErrorCode::Conflict, "{err:?}");
        assert_eq!(err.current_version, Some(2), "{err:?}");
        assert_eq!(err.current, Some(Current::Project(now.clone())), "{err:?}");
        let after = watcher
            .ok(pb::GetSnapshot {
                project_id: web.id.clone(),
            })
            .await;
        assert_eq!(after, before);
        watcher.assert_no_events().await;
    }
}
