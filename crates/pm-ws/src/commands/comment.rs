use pm_core::{Action, ActivityAction, Comment, CommentBody, CommentId, EntityKind, ProjectRole};
use pm_db::comment;
use pm_proto::{field, pb};

use crate::access::require;
use crate::commands::work_item::load as load_item;
use crate::lookup;
use crate::mutation::{Diff, Mutation};
use crate::service::Read;
use crate::{Error, Result};

async fn load(
    m: &mut Mutation<'_>,
    raw_id: &str,
    action: Action,
) -> Result<(Comment, pm_core::ProjectId, ProjectRole)> {
    let id = field::parse(raw_id, "comment_id", CommentId::parse)?;
    let c = comment::get(m.tx, id).await?;
    let item = pm_db::work_item::get(m.tx, c.work_item_id).await?;
    let (_, role) = require(m.tx, &m.actor, item.project_id, action).await?;
    Ok((c, item.project_id, role))
}

/// Attaches the comment's stored state (read in this transaction) to a conflict, so the client can
/// rebase without a read.
fn with_current(err: pm_db::Error, current: &Comment, project: pm_core::ProjectId) -> Error {
    match Error::from(err) {
        Error::Conflict {
            message,
            current_version,
            ..
        } => Error::Conflict {
            message,
            current_version,
            current: Some(Box::new(pb::error::Current::Comment(
                pb::Comment::from_domain(current, project),
            ))),
        },
        other => other,
    }
}

pub(crate) async fn add(m: &mut Mutation<'_>, c: pb::AddComment) -> Result<pb::CommentResponse> {
    let item_id = lookup::work_item_id(m.tx, &c.work_item_id, "work_item_id").await?;
    let (item, project) = load_item(m.tx, &m.actor, item_id, Action::Edit).await?;
    let new = Comment {
        id: CommentId::new(),
        work_item_id: item.id,
        author: m.actor.user.clone(),
        body: field::parse(&c.body, "body", CommentBody::parse)?,
        version: 1,
        created_at: m.at,
        updated_at: m.at,
        deleted_at: None,
    };
    comment::insert(m.tx, &new).await?;
    let wire = pb::Comment::from_domain(&new, project.id);
    m.record(
        project.id,
        EntityKind::Comment,
        new.id.to_string(),
        ActivityAction::Created,
        pb::change::Change::Comment(wire.clone()),
        Vec::new(),
    );
    Ok(pb::CommentResponse {
        comment: Some(wire),
    })
}

pub(crate) async fn edit(m: &mut Mutation<'_>, c: pb::EditComment) -> Result<pb::CommentResponse> {
    let (before, project, _) = load(m, &c.comment_id, Action::Edit).await?;
    if before.author != m.actor.user {
        return Err(Error::PermissionDenied("only the author edits a comment"));
    }
    let mut after = before.clone();
    after.body = field::parse(&c.body, "body", CommentBody::parse)?;
    after.updated_at = m.at;
    let stored = comment::update(m.tx, &after, c.version)
        .await
        .map_err(|e| with_current(e, &before, project))?;
    let wire = pb::Comment::from_domain(&stored, project);
    let mut diff = Diff::default();
    diff.field("body", &before.body, &stored.body);
    m.record(
        project,
        EntityKind::Comment,
        stored.id.to_string(),
        ActivityAction::Updated,
        pb::change::Change::Comment(wire.clone()),
        diff.0,
    );
    Ok(pb::CommentResponse {
        comment: Some(wire),
    })
}

pub(crate) async fn delete(m: &mut Mutation<'_>, c: pb::DeleteComment) -> Result<pb::Deleted> {
    let (existing, project, role) = load(m, &c.comment_id, Action::Read).await?;
    let is_author = existing.author == m.actor.user;
    if !is_author && role != ProjectRole::Admin {
        return Err(Error::PermissionDenied(
            "only the author or a project admin deletes a comment",
        ));
    }
    // Authors still need to be able to write in the project (a viewer cannot delete).
    require(m.tx, &m.actor, project, Action::Edit).await?;
    comment::soft_delete(m.tx, existing.id, c.version, m.at)
        .await
        .map_err(|e| with_current(e, &existing, project))?;
    m.record(
        project,
        EntityKind::Comment,
        existing.id.to_string(),
        ActivityAction::Deleted,
        pb::change::Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::Comment.into(),
            id: existing.id.to_string(),
        }),
        Vec::new(),
    );
    Ok(pb::Deleted {
        id: existing.id.to_string(),
    })
}

pub(crate) async fn list(r: &mut Read, c: pb::ListComments) -> Result<pb::CommentList> {
    let item_id = lookup::work_item_id(&mut r.conn, &c.work_item_id, "work_item_id").await?;
    let (item, _) = load_item(&mut r.conn, &r.actor, item_id, Action::Read).await?;
    let comments = comment::list(&mut r.conn, item.id).await?;
    Ok(pb::CommentList {
        comments: comments
            .iter()
            .map(|c| pb::Comment::from_domain(c, item.project_id))
            .collect(),
    })
}
