use pm_core::{Action, ActivityAction, EntityKind, ProjectId, ProjectMember, ProjectRole, UserId};
use pm_db::{SqliteConnection, member};
use pm_proto::{WireEnum, field, pb};

use crate::access::require;
use crate::lookup;
use crate::mutation::{Diff, Mutation};
use crate::service::Read;
use crate::{Error, Result};

async fn ids(
    conn: &mut SqliteConnection,
    project_id: &str,
    user_id: &str,
) -> Result<(ProjectId, UserId)> {
    let user = field::parse(user_id, "user_id", UserId::parse)?;
    Ok((
        lookup::project_id(conn, project_id, "project_id").await?,
        user,
    ))
}

fn member_key(m: &ProjectMember) -> String {
    format!("{}/{}", m.project_id, m.user_id)
}

pub(crate) async fn add(m: &mut Mutation<'_>, c: pb::AddMember) -> Result<pb::MemberResponse> {
    let (project, user) = ids(m.tx, &c.project_id, &c.user_id).await?;
    require(m.tx, &m.actor, project, Action::Administer).await?;
    let role = ProjectRole::from_wire(c.role, "role")?;
    let new = ProjectMember {
        project_id: project,
        user_id: user,
        role,
        version: 1,
        created_at: m.at,
        created_by: m.actor.user.clone(),
        updated_at: m.at,
        updated_by: m.actor.user.clone(),
    };
    member::insert(m.tx, &new).await?;
    m.record(
        project,
        EntityKind::Member,
        member_key(&new),
        ActivityAction::Created,
        pb::change::Change::Member((&new).into()),
        Vec::new(),
    );
    Ok(pb::MemberResponse {
        member: Some((&new).into()),
    })
}

pub(crate) async fn change_role(
    m: &mut Mutation<'_>,
    c: pb::ChangeMemberRole,
) -> Result<pb::MemberResponse> {
    let (project, user) = ids(m.tx, &c.project_id, &c.user_id).await?;
    require(m.tx, &m.actor, project, Action::Administer).await?;
    let role = ProjectRole::from_wire(c.role, "role")?;
    let before = member::get(m.tx, project, &user).await?;
    if before.role == ProjectRole::Admin
        && role != ProjectRole::Admin
        && member::count_admins(m.tx, project).await? <= 1
    {
        return Err(Error::conflict(
            "the project's last admin cannot be demoted",
        ));
    }
    let mut after = before.clone();
    after.role = role;
    after.updated_at = m.at;
    after.updated_by = m.actor.user.clone();
    let stored =
        member::update_role(m.tx, &after, c.version)
            .await
            .map_err(|e| match Error::from(e) {
                // The client rebases on the stored state, read in this transaction.
                Error::Conflict {
                    message,
                    current_version: Some(v),
                    current: None,
                } => Error::Conflict {
                    message,
                    current_version: Some(v),
                    current: Some(Box::new(pb::error::Current::Member((&before).into()))),
                },
                other => other,
            })?;
    let mut diff = Diff::default();
    diff.field("role", &before.role, &stored.role);
    m.record(
        project,
        EntityKind::Member,
        member_key(&stored),
        ActivityAction::Updated,
        pb::change::Change::Member((&stored).into()),
        diff.0,
    );
    Ok(pb::MemberResponse {
        member: Some((&stored).into()),
    })
}

pub(crate) async fn remove(m: &mut Mutation<'_>, c: pb::RemoveMember) -> Result<pb::MemberRemoved> {
    let (project, user) = ids(m.tx, &c.project_id, &c.user_id).await?;
    require(m.tx, &m.actor, project, Action::Administer).await?;
    let before = member::get(m.tx, project, &user).await?;
    if before.role == ProjectRole::Admin && member::count_admins(m.tx, project).await? <= 1 {
        return Err(Error::conflict(
            "the project's last admin cannot be removed",
        ));
    }
    member::remove(m.tx, project, &user).await?;
    let removed = pb::MemberRemoved {
        project_id: project.to_string(),
        user_id: user.to_string(),
    };
    m.record(
        project,
        EntityKind::Member,
        member_key(&before),
        ActivityAction::Deleted,
        pb::change::Change::MemberRemoved(removed.clone()),
        Vec::new(),
    );
    Ok(removed)
}

pub(crate) async fn list(r: &mut Read, c: pb::ListMembers) -> Result<pb::MemberList> {
    let project = lookup::project_id(&mut r.conn, &c.project_id, "project_id").await?;
    require(&mut r.conn, &r.actor, project, Action::Read).await?;
    let members = member::list(&mut r.conn, project).await?;
    Ok(pb::MemberList {
        members: members.iter().map(Into::into).collect(),
    })
}
