use pm_core::{
    Action, ActivityAction, Dependency, DependencyId, DependencyType, EntityKind, RuleViolation,
    find_cycle_path,
};
use pm_db::{dependency, work_item};
use pm_proto::{WireEnum, field, pb};

use crate::access::require;
use crate::commands::work_item::{load as load_item, report_blocked_changes};
use crate::lookup;
use crate::mutation::Mutation;
use crate::service::Read;
use crate::view;
use crate::{Error, Result};

pub(crate) async fn add(
    m: &mut Mutation<'_>,
    c: pb::AddDependency,
) -> Result<pb::DependencyResponse> {
    let blocking_id = lookup::work_item_id(m.tx, &c.blocking_id, "blocking_id").await?;
    let blocked_id = lookup::work_item_id(m.tx, &c.blocked_id, "blocked_id").await?;
    let dep_type = DependencyType::from_wire(c.r#type, "type")?;
    if blocking_id == blocked_id {
        return Err(RuleViolation::SelfDependency.into());
    }
    let (blocking, project) = load_item(m.tx, &m.actor, blocking_id, Action::Edit).await?;
    let blocked = match work_item::get(m.tx, blocked_id).await {
        Ok(b) if b.project_id == project.id => b,
        Ok(_) => {
            return Err(Error::validation(
                "blocked_id",
                "both items must be in the same project",
            ));
        }
        Err(pm_db::Error::NotFound { .. }) => {
            return Err(Error::validation(
                "blocked_id",
                "the item is not a live item",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    // The cycle check and the insert share this IMMEDIATE transaction: two opposite links sent at
    // the same instant are serialised, and the second one sees the first.
    if dep_type == DependencyType::Blocks {
        let edges = dependency::blocks_edges(m.tx, project.id).await?;
        if let Some(path) = find_cycle_path(&edges, &blocking.id, &blocked.id) {
            let mut keys = Vec::with_capacity(path.len());
            for id in path {
                keys.push(work_item::get(m.tx, id).await?.key.to_string());
            }
            return Err(RuleViolation::DependencyCycle { path: keys }.into());
        }
    }
    let blocked_before = dependency::blocked_items(m.tx, project.id).await?;
    let stored = dependency::insert(
        m.tx,
        &Dependency {
            id: DependencyId::new(),
            project_id: project.id,
            blocking_id: blocking.id,
            blocked_id: blocked.id,
            dep_type,
            created_at: m.at,
            created_by: m.actor.user.clone(),
            deleted_at: None,
        },
    )
    .await?;
    let wire = view::dependency(m.tx, &stored).await?;
    m.record(
        project.id,
        EntityKind::Dependency,
        stored.id.to_string(),
        ActivityAction::Created,
        pb::change::Change::Dependency(wire.clone()),
        Vec::new(),
    );
    report_blocked_changes(m, project.id, &blocked_before).await?;
    Ok(pb::DependencyResponse {
        dependency: Some(wire),
    })
}

pub(crate) async fn remove(m: &mut Mutation<'_>, c: pb::RemoveDependency) -> Result<pb::Deleted> {
    let id = field::parse(&c.dependency_id, "dependency_id", DependencyId::parse)?;
    let link = dependency::get(m.tx, id).await?;
    require(m.tx, &m.actor, link.project_id, Action::Edit).await?;
    let blocked_before = dependency::blocked_items(m.tx, link.project_id).await?;
    dependency::soft_delete(m.tx, link.id, m.at, &m.actor.user).await?;
    m.record(
        link.project_id,
        EntityKind::Dependency,
        link.id.to_string(),
        ActivityAction::Deleted,
        pb::change::Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::Dependency.into(),
            id: link.id.to_string(),
        }),
        Vec::new(),
    );
    report_blocked_changes(m, link.project_id, &blocked_before).await?;
    Ok(pb::Deleted {
        id: link.id.to_string(),
    })
}

pub(crate) async fn list(r: &mut Read, c: pb::ListDependencies) -> Result<pb::DependencyList> {
    let item_id = lookup::work_item_id(&mut r.conn, &c.work_item_id, "work_item_id").await?;
    let (item, _) = load_item(&mut r.conn, &r.actor, item_id, Action::Read).await?;
    let mut out = pb::DependencyList::default();
    for link in dependency::list_for_item(&mut r.conn, item.id).await? {
        let wire = view::dependency(&mut r.conn, &link).await?;
        match link.dep_type {
            DependencyType::RelatesTo => out.related.push(wire),
            DependencyType::Blocks if link.blocked_id == item.id => out.blocked_by.push(wire),
            DependencyType::Blocks => out.blocking.push(wire),
        }
    }
    Ok(out)
}
