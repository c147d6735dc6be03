string_enum!(
    /// The role a token grants within its tenant. It caps every project role: a tenant viewer is
    /// read-only everywhere, and a tenant admin acts as admin of every project.
    TenantRole, field = "role" {
        Viewer = "viewer",
        Editor = "editor",
        Admin = "admin",
    }
);

string_enum!(
    /// A member's role within one project. Ordered: viewer < editor < admin.
    ProjectRole, field = "role" {
        Viewer = "viewer",
        Editor = "editor",
        Admin = "admin",
    }
);

/// Something a user may or may not do within a project (or, for [`Action::CreateProject`], within
/// the tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the project, its items, sprints, comments, time and subscribe to its events.
    Read,
    /// Create, update and move work items; comment; track time; add and remove dependencies;
    /// create and update sprints.
    Edit,
    /// Delete work items, sprints and other people's comments and time entries.
    Delete,
    /// Start, complete and cancel sprints.
    ManageSprints,
    /// Add, re-role and remove members; update, archive and delete the project.
    Administer,
    /// Create a new project in the tenant.
    CreateProject,
}

/// The role a user effectively holds in a project: tenant admins are admins everywhere; others
/// hold their membership role, capped by their tenant role. `None` means the project is invisible
/// to them.
pub fn effective_project_role(
    tenant_role: TenantRole,
    membership: Option<ProjectRole>,
) -> Option<ProjectRole> {
    match tenant_role {
        TenantRole::Admin => Some(ProjectRole::Admin),
        TenantRole::Editor => membership,
        TenantRole::Viewer => membership.map(|_| ProjectRole::Viewer),
    }
}

/// Whether the holder of `role` in a project may perform `action` there.
pub fn is_allowed(role: ProjectRole, action: Action) -> bool {
    match action {
        Action::Read => true,
        Action::Edit | Action::CreateProject => role >= ProjectRole::Editor,
        Action::Delete | Action::ManageSprints | Action::Administer => role == ProjectRole::Admin,
    }
}

impl TenantRole {
    /// Whether this tenant role may create projects (any editor may; viewers are read-only).
    pub fn may_create_projects(self) -> bool {
        self >= TenantRole::Editor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_admin_is_admin_of_every_project_even_without_membership() {
        assert_eq!(
            effective_project_role(TenantRole::Admin, None),
            Some(ProjectRole::Admin)
        );
        assert_eq!(
            effective_project_role(TenantRole::Admin, Some(ProjectRole::Viewer)),
            Some(ProjectRole::Admin)
        );
    }

    #[test]
    fn a_non_member_cannot_see_a_project() {
        assert_eq!(effective_project_role(TenantRole::Editor, None), None);
        assert_eq!(effective_project_role(TenantRole::Viewer, None), None);
    }

    #[test]
    fn a_tenant_viewer_is_read_only_whatever_their_project_role() {
        let role = effective_project_role(TenantRole::Viewer, Some(ProjectRole::Admin)).unwrap();
        assert_eq!(role, ProjectRole::Viewer);
        assert!(is_allowed(role, Action::Read));
        assert!(!is_allowed(role, Action::Edit));
    }

    #[test]
    fn editors_edit_but_do_not_delete_or_run_sprints_or_administer() {
        let role = ProjectRole::Editor;
        assert!(is_allowed(role, Action::Edit));
        assert!(!is_allowed(role, Action::Delete));
        assert!(!is_allowed(role, Action::ManageSprints));
        assert!(!is_allowed(role, Action::Administer));
    }

    #[test]
    fn admins_may_do_everything() {
        for action in [
            Action::Read,
            Action::Edit,
            Action::Delete,
            Action::ManageSprints,
            Action::Administer,
        ] {
            assert!(is_allowed(ProjectRole::Admin, action));
        }
    }

    #[test]
    fn only_tenant_editors_and_admins_create_projects() {
        assert!(!TenantRole::Viewer.may_create_projects());
        assert!(TenantRole::Editor.may_create_projects());
        assert!(TenantRole::Admin.may_create_projects());
    }
}
