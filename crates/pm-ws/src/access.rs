//! Who may do what in a project, applied to the stored membership.

use pm_auth::Identity;
use pm_core::{
    Action, Project, ProjectId, ProjectRole, ProjectStatus, effective_project_role, is_allowed,
};
use pm_db::{SqliteConnection, project};

use crate::{Error, Result};

/// Loads a live project and checks that the caller may perform `action` in it (a project
/// invisible to the caller is `NotFound`, not revealing whether it exists). Content of an
/// archived project is read-only: only reading and administration stay possible.
pub(crate) async fn require(
    conn: &mut SqliteConnection,
    actor: &Identity,
    project_id: ProjectId,
    action: Action,
) -> Result<(Project, ProjectRole)> {
    let (project, membership) = project::get_with_role(conn, project_id, &actor.user).await?;
    let role = check(actor, &project, membership, action)?;
    Ok((project, role))
}

/// [`require`] on a project already read with the caller's membership role.
pub(crate) fn check(
    actor: &Identity,
    project: &Project,
    membership: Option<ProjectRole>,
    action: Action,
) -> Result<ProjectRole> {
    let role = effective_project_role(actor.role, membership).ok_or(Error::NotFound {
        entity: pm_core::EntityKind::Project,
    })?;
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
    Ok(role)
}
