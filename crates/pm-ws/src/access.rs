//! Who may do what in a project, applied to the stored membership.

use pm_auth::Identity;
use pm_core::{
    Action, Project, ProjectId, ProjectRole, ProjectStatus, effective_project_role, is_allowed,
};
use pm_db::{SqliteConnection, member, project};

use crate::{Error, Result};

/// The caller's effective role in a project, or `NotFound` when the project does not exist or is
/// invisible to them (not revealing whether it exists).
pub(crate) async fn role_in(
    conn: &mut SqliteConnection,
    actor: &Identity,
    project: &Project,
) -> Result<ProjectRole> {
    let membership = member::find(conn, project.id, &actor.user).await?;
    effective_project_role(actor.role, membership.map(|m| m.role)).ok_or(Error::NotFound {
        entity: pm_core::EntityKind::Project,
    })
}

/// Loads a live project and checks that the caller may perform `action` in it. Content of an
/// archived project is read-only: only reading and administration stay possible.
pub(crate) async fn require(
    conn: &mut SqliteConnection,
    actor: &Identity,
    project_id: ProjectId,
    action: Action,
) -> Result<(Project, ProjectRole)> {
    let project = project::get(conn, project_id).await?;
    let role = role_in(conn, actor, &project).await?;
    if !is_allowed(role, action) {
        return Err(Error::PermissionDenied(match action {
            Action::Read => "you cannot see this project",
            Action::Edit => "your role in this project is read-only",
            Action::Delete => "only project admins delete",
            Action::ManageSprints => "only project admins start, complete or cancel sprints",
            Action::Administer => "only project admins manage the project and its members",
            Action::CreateProject => "your role cannot create projects",
        }));
    }
    if project.status == ProjectStatus::Archived
        && matches!(
            action,
            Action::Edit | Action::Delete | Action::ManageSprints
        )
    {
        return Err(Error::conflict(
            "the project is archived; unarchive it to change its content",
        ));
    }
    Ok((project, role))
}
