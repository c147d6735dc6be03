//! Comments over the WebSocket: who may add, edit and delete them, and the rules that refuse a
//! change without writing anything.

use pm_core::TenantRole;
use pm_proto::pb::{
    self, ErrorCode, ProjectRole, WorkItemType as Type, change::Change, client_message::Command,
    error::Current,
};

use crate::helpers::*;

/// Alice administers project WEB with one item, WEB-1; `root`, a tenant admin, watches it.
async fn board(app: &TestApp) -> (Client, pb::Project, pb::WorkItem, Client) {
    let mut alice = app.editor("alice").await;
    let web = alice.create_project("WEB").await;
    let item = alice.create_item(&web, Type::Task, "Discuss me").await;
    let mut watcher = app.client("acme", "root", TenantRole::Admin).await;
    watcher.subscribe(&web.id).await;
    (alice, web, item, watcher)
}

async fn comment(client: &mut Client, item: &pb::WorkItem, body: &str) -> pb::Comment {
    client
        .ok(pb::AddComment {
            work_item_id: item.id.clone(),
            body: body.to_owned(),
        })
        .await
        .comment
        .unwrap()
}

async fn comments(client: &mut Client, item: &pb::WorkItem) -> Vec<pb::Comment> {
    client
        .ok(pb::ListComments {
            work_item_id: item.id.clone(),
        })
        .await
        .comments
}

fn edit(comment: &pb::Comment, body: &str) -> pb::EditComment {
    pb::EditComment {
        comment_id: comment.id.clone(),
        version: comment.version,
        body: body.to_owned(),
    }
}

fn delete(comment: &pb::Comment) -> pb::DeleteComment {
    pb::DeleteComment {
        comment_id: comment.id.clone(),
        version: comment.version,
    }
}

#[tokio::test]
async fn a_member_adds_edits_and_deletes_comments_and_the_list_follows() {
    let app = TestApp::spawn().await;
    let (mut alice, web, item, mut watcher) = board(&app).await;
    alice.add_member(&web, "bob", ProjectRole::Editor).await;
    let mut bob = app.editor("bob").await;
    bob.subscribe(&web.id).await;
    alice.subscribe(&web.id).await;
    watcher.drain_events().await;

    let first = comment(&mut alice, &item, "# Plan\n\n- first\n- second\n").await;
    assert_eq!(
        (
            first.work_item_id.as_str(),
            first.project_id.as_str(),
            first.author.as_str()
        ),
        (item.id.as_str(), web.id.as_str(), "alice")
    );
    assert_eq!(
        first.body, "# Plan\n\n- first\n- second\n",
        "markdown kept as written"
    );
    assert_eq!(first.version, 1);
    assert_eq!(
        change(&bob.next_event().await),
        &Change::Comment(first.clone())
    );
    let second = comment(&mut bob, &item, "Sounds good").await;
    assert_eq!(second.author, "bob");
    assert_eq!(
        change(&alice.next_event().await),
        &Change::Comment(second.clone())
    );
    assert_eq!(
        comments(&mut bob, &item).await,
        [first.clone(), second.clone()]
    );

    let edited = alice
        .ok(edit(&first, "Plan, revised"))
        .await
        .comment
        .unwrap();
    let expected = pb::Comment {
        body: "Plan, revised".into(),
        version: 2,
        updated_at: edited.updated_at,
        ..first.clone()
    };
    assert_eq!(edited, expected);
    assert_eq!(
        change(&bob.next_event().await),
        &Change::Comment(expected.clone())
    );
    assert_eq!(
        comments(&mut alice, &item).await,
        [expected, second.clone()]
    );

    let deleted = bob.ok(delete(&second)).await;
    assert_eq!(deleted.id, second.id);
    assert_eq!(
        change(&alice.next_event().await),
        &Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::Comment.into(),
            id: second.id.clone(),
        })
    );
    assert_eq!(comments(&mut bob, &item).await.len(), 1);
    assert_eq!(watcher.drain_events().await.len(), 4);
    alice.assert_no_events().await;
    bob.assert_no_events().await;
}

#[tokio::test]
async fn only_the_author_edits_a_comment() {
    let app = TestApp::spawn().await;
    let (mut alice, web, item, mut watcher) = board(&app).await;
    alice.add_member(&web, "bob", ProjectRole::Editor).await;
    let mut bob = app.editor("bob").await;
    let bobs = comment(&mut bob, &item, "Bob's words").await;
    let alices = comment(&mut alice, &item, "Alice's words").await;
    watcher.drain_events().await;

    assert_refused(
        &mut bob,
        edit(&alices, "Put in her mouth"),
        (ErrorCode::PermissionDenied, ""),
        &mut watcher,
        &web,
    )
    .await;
    // Not even a project admin or a tenant admin.
    assert_refused(
        &mut alice,
        edit(&bobs, "Moderated"),
        (ErrorCode::PermissionDenied, ""),
        &mut watcher,
        &web,
    )
    .await;
    let mut root = app.client("acme", "boss", TenantRole::Admin).await;
    assert_refused(
        &mut root,
        edit(&bobs, "Moderated"),
        (ErrorCode::PermissionDenied, ""),
        &mut watcher,
        &web,
    )
    .await;
    assert_eq!(comments(&mut alice, &item).await, [bobs, alices]);
}

#[tokio::test]
async fn the_author_or_a_project_admin_deletes_a_comment() {
    let app = TestApp::spawn().await;
    let (mut alice, web, item, mut watcher) = board(&app).await;
    alice.add_member(&web, "bob", ProjectRole::Editor).await;
    alice.add_member(&web, "carol", ProjectRole::Editor).await;
    let mut bob = app.editor("bob").await;
    let mut carol = app.editor("carol").await;
    let bobs = comment(&mut bob, &item, "Bob's").await;
    let carols = comment(&mut carol, &item, "Carol's").await;
    let more = comment(&mut carol, &item, "Carol's too").await;
    watcher.drain_events().await;

    assert_refused(
        &mut carol,
        delete(&bobs),
        (ErrorCode::PermissionDenied, ""),
        &mut watcher,
        &web,
    )
    .await;
    bob.ok(delete(&bobs)).await;
    alice.ok(delete(&carols)).await;
    let mut root = app.client("acme", "boss", TenantRole::Admin).await;
    root.ok(delete(&more)).await;
    assert!(comments(&mut alice, &item).await.is_empty());
    assert_eq!(watcher.drain_events().await.len(), 3);
}

#[tokio::test]
async fn viewers_may_read_comments_but_not_add_edit_or_delete_them() {
    let app = TestApp::spawn().await;
    let (mut alice, web, item, mut watcher) = board(&app).await;
    alice.add_member(&web, "pat", ProjectRole::Editor).await;
    // A tenant viewer is read-only even as a project admin.
    alice.add_member(&web, "vic", ProjectRole::Admin).await;
    // Both wrote a comment while they could.
    let mut pat = app.editor("pat").await;
    let pats = comment(&mut pat, &item, "Pat's").await;
    let vics = comment(&mut app.editor("vic").await, &item, "Vic's").await;
    let alices = comment(&mut alice, &item, "Alice's").await;
    alice
        .ok(pb::ChangeMemberRole {
            project_id: web.id.clone(),
            user_id: "pat".into(),
            role: ProjectRole::Viewer.into(),
            version: 1,
        })
        .await;
    watcher.drain_events().await;
    let vic = app.client("acme", "vic", TenantRole::Viewer).await;

    for (mut viewer, own) in [(pat, pats), (vic, vics)] {
        let mutations: Vec<Command> = vec![
            pb::AddComment {
                work_item_id: item.id.clone(),
                body: "Can I?".into(),
            }
            .into(),
            edit(&own, "My own words").into(),
            delete(&own).into(),
            delete(&alices).into(),
        ];
        for command in mutations {
            assert_command_refused(
                &mut viewer,
                command,
                ErrorCode::PermissionDenied,
                &mut watcher,
                &web,
            )
            .await;
        }
        assert_eq!(comments(&mut viewer, &item).await.len(), 3);
    }
}

#[tokio::test]
async fn invalid_comment_input_is_refused_with_the_field_named() {
    let app = TestApp::spawn().await;
    let (mut alice, web, item, mut watcher) = board(&app).await;
    let mine = comment(&mut alice, &item, "Fine").await;
    watcher.drain_events().await;
    let adding = |body: &str| pb::AddComment {
        work_item_id: item.id.clone(),
        body: body.to_owned(),
    };

    for (request, expected) in [
        (adding(""), (ErrorCode::Validation, "body")),
        (adding(&"b".repeat(10_001)), (ErrorCode::Validation, "body")),
        (
            pb::AddComment {
                work_item_id: "not-a-uuid".into(),
                ..adding("Fine")
            },
            (ErrorCode::Validation, "work_item_id"),
        ),
        (
            pb::AddComment {
                work_item_id: uuid::Uuid::now_v7().to_string(),
                ..adding("Fine")
            },
            (ErrorCode::NotFound, ""),
        ),
    ] {
        assert_refused(&mut alice, request, expected, &mut watcher, &web).await;
    }
    for (request, expected) in [
        (edit(&mine, ""), (ErrorCode::Validation, "body")),
        (
            edit(&mine, &"b".repeat(10_001)),
            (ErrorCode::Validation, "body"),
        ),
        (
            pb::EditComment {
                comment_id: "x".into(),
                ..edit(&mine, "Fine")
            },
            (ErrorCode::Validation, "comment_id"),
        ),
        (
            pb::EditComment {
                comment_id: uuid::Uuid::now_v7().to_string(),
                ..edit(&mine, "Fine")
            },
            (ErrorCode::NotFound, ""),
        ),
    ] {
        assert_refused(&mut alice, request, expected, &mut watcher, &web).await;
    }
    assert_refused(
        &mut alice,
        pb::DeleteComment {
            comment_id: "x".into(),
            version: 1,
        },
        (ErrorCode::Validation, "comment_id"),
        &mut watcher,
        &web,
    )
    .await;
    let err = alice
        .err(pb::ListComments {
            work_item_id: "x".into(),
        })
        .await;
    assert_eq!(
        (code(&err), err.field.as_str()),
        (ErrorCode::Validation, "work_item_id")
    );
    // The longest body is accepted, exactly as written.
    let longest = "b".repeat(10_000);
    assert_eq!(comment(&mut alice, &item, &longest).await.body, longest);
}

#[tokio::test]
async fn a_stale_comment_version_is_a_conflict_that_carries_the_current_comment() {
    let app = TestApp::spawn().await;
    let (mut alice, web, item, mut watcher) = board(&app).await;
    let original = comment(&mut alice, &item, "First draft").await;
    let now = alice
        .ok(edit(&original, "Second draft"))
        .await
        .comment
        .unwrap();
    watcher.drain_events().await;

    for err in [
        assert_refused(
            &mut alice,
            edit(&original, "Lost update"),
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await,
        assert_refused(
            &mut alice,
            delete(&original),
            (ErrorCode::Conflict, ""),
            &mut watcher,
            &web,
        )
        .await,
    ] {
        assert_eq!(err.current_version, Some(2), "{err:?}");
        assert_eq!(err.current, Some(Current::Comment(now.clone())), "{err:?}");
    }
    assert_eq!(comments(&mut alice, &item).await, [now]);
}

#[tokio::test]
async fn a_non_member_cannot_read_or_write_comments() {
    let app = TestApp::spawn().await;
    let (mut alice, web, item, mut watcher) = board(&app).await;
    let secret = comment(&mut alice, &item, "Internal").await;
    watcher.drain_events().await;
    let mut mallory = app.editor("mallory").await;

    let err = mallory
        .err(pb::ListComments {
            work_item_id: item.id.clone(),
        })
        .await;
    assert_eq!(code(&err), ErrorCode::NotFound);
    let mutations: Vec<Command> = vec![
        pb::AddComment {
            work_item_id: item.id.clone(),
            body: "Hi".into(),
        }
        .into(),
        edit(&secret, "Defaced").into(),
        delete(&secret).into(),
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
}

#[tokio::test]
async fn comments_of_an_archived_project_are_read_only() {
    let app = TestApp::spawn().await;
    let (mut alice, web, item, mut watcher) = board(&app).await;
    let mine = comment(&mut alice, &item, "Before archiving").await;
    alice
        .ok(pb::ArchiveProject {
            project_id: web.id.clone(),
            version: 1,
        })
        .await;
    watcher.drain_events().await;

    let mutations: Vec<Command> = vec![
        pb::AddComment {
            work_item_id: item.id.clone(),
            body: "After".into(),
        }
        .into(),
        edit(&mine, "Rewritten").into(),
        delete(&mine).into(),
    ];
    for command in mutations {
        assert_command_refused(&mut alice, command, ErrorCode::Conflict, &mut watcher, &web).await;
    }
    assert_eq!(comments(&mut alice, &item).await, [mine]);
}
