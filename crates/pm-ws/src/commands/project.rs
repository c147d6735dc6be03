use std::collections::HashMap;

use pm_core::{
    Action, ActivityAction, Description, EntityKind, Project, ProjectId, ProjectKey, ProjectMember,
    ProjectRef, ProjectRole, ProjectStatus, Title,
};
use pm_db::{dependency, member, project, swim_lane, work_item};
use pm_proto::{field, pb};

use crate::access::require;
use crate::lookup;
use crate::mutation::{Diff, Mutation};
use crate::query;
use crate::query::hide_unreadable;
use crate::service::Read;
use crate::view::ProjectDerived;
use crate::{Error, Result};

pub(crate) async fn create(
    m: &mut Mutation<'_>,
    c: pb::CreateProject,
) -> Result<pb::ProjectResponse> {
    if !m.actor.role.may_create_projects() {
        return Err(Error::PermissionDenied(
            "tenant viewers cannot create projects",
        ));
    }
    let p = Project {
        id: ProjectId::new(),
        key: field::parse(&c.key, "key", ProjectKey::parse)?,
        title: field::parse(&c.title, "title", Title::parse)?,
        description: field::parse(&c.description, "description", Description::parse)?,
        status: ProjectStatus::Active,
        next_item_number: 1,
        version: 1,
        created_at: m.at,
        created_by: m.actor.user.clone(),
        updated_at: m.at,
        updated_by: m.actor.user.clone(),
        deleted_at: None,
    };
    project::insert(m.tx, &p).await?;
    m.record(
        p.id,
        EntityKind::Project,
        p.id.to_string(),
        ActivityAction::Created,
        pb::change::Change::Project((&p).into()),
        Vec::new(),
    );
    // The creator administers the project.
    let admin = ProjectMember {
        project_id: p.id,
        user_id: m.actor.user.clone(),
        role: ProjectRole::Admin,
        version: 1,
        created_at: m.at,
        created_by: m.actor.user.clone(),
        updated_at: m.at,
        updated_by: m.actor.user.clone(),
    };
    member::insert(m.tx, &admin).await?;
    m.record(
        p.id,
        EntityKind::Member,
        format!("{}/{}", p.id, admin.user_id),
        ActivityAction::Created,
        pb::change::Change::Member((&admin).into()),
        Vec::new(),
    );
    for lane in swim_lane::insert_defaults(m.tx, p.id, m.at).await? {
        m.record(
            p.id,
            EntityKind::SwimLane,
            lane.id.to_string(),
            ActivityAction::Created,
            pb::change::Change::SwimLane((&lane).into()),
            Vec::new(),
        );
    }
    Ok(pb::ProjectResponse {
        project: Some((&p).into()),
        my_role: pb::ProjectRole::Admin.into(),
    })
}

async fn save(
    m: &mut Mutation<'_>,
    before: &Project,
    after: Project,
    version: i64,
    role: ProjectRole,
) -> Result<pb::ProjectResponse> {
    let mut diff = Diff::default();
    diff.field("key", &before.key, &after.key)
        .field("title", &before.title, &after.title)
        .field("description", &before.description, &after.description)
        .field("status", &before.status, &after.status);
    let stored = project::update(m.tx, &after, version)
        .await
        .map_err(|e| with_current(e, before))?;
    m.record(
        stored.id,
        EntityKind::Project,
        stored.id.to_string(),
        ActivityAction::Updated,
        pb::change::Change::Project((&stored).into()),
        diff.0,
    );
    if stored.key != before.key {
        publish_rekeyed(m, stored.id).await?;
    }
    Ok(pb::ProjectResponse {
        project: Some((&stored).into()),
        my_role: pm_proto::WireEnum::to_wire(role),
    })
}

/// A new project key changes every item's key (`OLD-7` becomes `NEW-7`) and the keys every link
/// carries. Upserts carry an entity's whole state, so each re-keyed item and link is published in
/// the same transaction (without activity rows: nobody edited them), and a client that follows
/// the upsert rule shows the new keys at once.
async fn publish_rekeyed(m: &mut Mutation<'_>, project_id: ProjectId) -> Result<()> {
    let items = work_item::list(m.tx, project_id, &Default::default()).await?;
    let derived = ProjectDerived::load(m.tx, project_id).await?;
    let links = dependency::list_for_project(m.tx, project_id).await?;
    for wire in derived.items(&items) {
        let id = wire.id.clone();
        m.emit(
            project_id,
            EntityKind::WorkItem,
            id,
            ActivityAction::Updated,
            pb::change::Change::WorkItem(wire),
        );
    }
    let keys: HashMap<_, _> = items.iter().map(|i| (i.id, i.key.clone())).collect();
    for link in &links {
        let (Some(blocking), Some(blocked)) =
            (keys.get(&link.blocking_id), keys.get(&link.blocked_id))
        else {
            continue;
        };
        m.emit(
            project_id,
            EntityKind::Dependency,
            link.id.to_string(),
            ActivityAction::Updated,
            pb::change::Change::Dependency(pb::Dependency::from_domain(link, blocking, blocked)),
        );
    }
    Ok(())
}

/// Attaches the project's stored state (read in this transaction) to a stale-version conflict, so
/// the client can rebase without a read.
fn with_current(err: pm_db::Error, current: &Project) -> Error {
    match Error::from(err) {
        Error::Conflict {
            message,
            current_version: Some(v),
            current: None,
        } => Error::Conflict {
            message,
            current_version: Some(v),
            current: Some(Box::new(pb::error::Current::Project(current.into()))),
        },
        other => other,
    }
}

pub(crate) async fn update(
    m: &mut Mutation<'_>,
    c: pb::UpdateProject,
) -> Result<pb::ProjectResponse> {
    let id = lookup::project_id(m.tx, &c.project_id, "project_id").await?;
    let (before, role) = require(m.tx, &m.actor, id, Action::Administer).await?;
    let mut after = before.clone();
    if let Some(key) = c.key.as_deref() {
        after.key = field::parse(key, "key", ProjectKey::parse)?;
    }
    if let Some(title) = c.title.as_deref() {
        after.title = field::parse(title, "title", Title::parse)?;
    }
    if let Some(description) = c.description.as_deref() {
        after.description = field::parse(description, "description", Description::parse)?;
    }
    after.updated_at = m.at;
    after.updated_by = m.actor.user.clone();
    save(m, &before, after, c.version, role).await
}

async fn set_status(
    m: &mut Mutation<'_>,
    raw_id: &str,
    version: i64,
    status: ProjectStatus,
) -> Result<pb::ProjectResponse> {
    let id = lookup::project_id(m.tx, raw_id, "project_id").await?;
    let (before, role) = require(m.tx, &m.actor, id, Action::Administer).await?;
    if before.status == status {
        return Err(Error::conflict(format!("the project is already {status}")));
    }
    let mut after = before.clone();
    after.status = status;
    after.updated_at = m.at;
    after.updated_by = m.actor.user.clone();
    save(m, &before, after, version, role).await
}

pub(crate) async fn archive(
    m: &mut Mutation<'_>,
    c: pb::ArchiveProject,
) -> Result<pb::ProjectResponse> {
    set_status(m, &c.project_id, c.version, ProjectStatus::Archived).await
}

pub(crate) async fn unarchive(
    m: &mut Mutation<'_>,
    c: pb::UnarchiveProject,
) -> Result<pb::ProjectResponse> {
    set_status(m, &c.project_id, c.version, ProjectStatus::Active).await
}

pub(crate) async fn delete(m: &mut Mutation<'_>, c: pb::DeleteProject) -> Result<pb::Deleted> {
    let id = lookup::project_id(m.tx, &c.project_id, "project_id").await?;
    let (p, _) = require(m.tx, &m.actor, id, Action::Administer).await?;
    let live = work_item::count_in_project(m.tx, p.id).await?;
    if live > 0 {
        return Err(Error::conflict(format!(
            "the project still has {live} work item(s); delete or move them first"
        )));
    }
    project::soft_delete(m.tx, p.id, c.version, m.at, &m.actor.user)
        .await
        .map_err(|e| with_current(e, &p))?;
    m.record(
        p.id,
        EntityKind::Project,
        p.id.to_string(),
        ActivityAction::Deleted,
        pb::change::Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::Project.into(),
            id: p.id.to_string(),
        }),
        Vec::new(),
    );
    Ok(pb::Deleted {
        id: p.id.to_string(),
    })
}

pub(crate) async fn list(r: &mut Read, c: pb::ListProjects) -> Result<pb::ProjectList> {
    let projects = query::project::list(&mut r.conn, &r.actor, c.include_archived).await?;
    Ok(pb::ProjectList {
        projects: projects
            .iter()
            .map(|(p, role)| pb::ProjectResponse {
                project: Some(p.into()),
                my_role: pm_proto::WireEnum::to_wire(*role),
            })
            .collect(),
    })
}

/// A project by id or by key.
pub(crate) async fn find(conn: &mut pm_db::SqliteConnection, id_or_key: &str) -> Result<Project> {
    match field::parse(id_or_key, "project", ProjectRef::parse)? {
        ProjectRef::Id(id) => Ok(project::get(conn, id).await?),
        ProjectRef::Key(key) => Ok(project::get_by_key(conn, &key).await?),
    }
}

pub(crate) async fn get(r: &mut Read, c: pb::GetProject) -> Result<pb::ProjectResponse> {
    let (p, role) = query::project::get(&mut r.conn, &r.actor, &c.project)
        .await
        .map_err(hide_unreadable)?;
    Ok(pb::ProjectResponse {
        project: Some((&p).into()),
        my_role: pm_proto::WireEnum::to_wire(role),
    })
}
