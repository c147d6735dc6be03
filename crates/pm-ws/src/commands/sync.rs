use pm_core::Action;
use pm_db::{
    Connection, change_log, dependency, history, member, sprint, swim_lane, time_entry, work_item,
};
use pm_proto::pb;

use crate::Result;
use crate::access::require;
use crate::lookup;
use crate::service::Read;
use crate::view::ProjectDerived;

/// The complete state of a project and the sequence number it is consistent with: everything is
/// read in one read transaction, so it is one snapshot of the database.
pub(crate) async fn snapshot(r: &mut Read, c: pb::GetSnapshot) -> Result<pb::Snapshot> {
    let mut tx = r.conn.begin().await.map_err(pm_db::Error::from)?;
    let project_id = lookup::project_id(&mut tx, &c.project_id, "project_id").await?;
    let seq = change_log::head(&mut tx).await?;
    let history_epoch = history::epoch(&mut tx).await?;
    let (project, _) = require(&mut tx, &r.actor, project_id, Action::Read).await?;
    let members = member::list(&mut tx, project.id).await?;
    let lanes = swim_lane::list(&mut tx, project.id).await?;
    let items = work_item::list(&mut tx, project.id, &Default::default()).await?;
    let sprints = sprint::list(&mut tx, project.id).await?;
    let links = dependency::list_for_project(&mut tx, project.id).await?;
    let running = time_entry::running_in_project(&mut tx, project.id).await?;
    let derived = ProjectDerived::load(&mut tx, project.id).await?;
    let keys: std::collections::HashMap<_, _> =
        items.iter().map(|i| (i.id, i.key.clone())).collect();
    let dependencies = links
        .iter()
        .filter_map(|d| {
            let blocking = keys.get(&d.blocking_id)?;
            let blocked = keys.get(&d.blocked_id)?;
            Some(pb::Dependency::from_domain(d, blocking, blocked))
        })
        .collect();
    tx.commit().await.map_err(pm_db::Error::from)?;
    Ok(pb::Snapshot {
        seq: u64::try_from(seq).unwrap_or_default(),
        project: Some((&project).into()),
        members: members.iter().map(Into::into).collect(),
        swim_lanes: lanes.iter().map(Into::into).collect(),
        work_items: derived.items(&items),
        sprints: sprints.iter().map(Into::into).collect(),
        dependencies,
        running_timers: running
            .iter()
            .map(|t| pb::TimeEntry::from_domain(t, project.id))
            .collect(),
        history_epoch,
    })
}
