use pm_db::Connection;
use pm_proto::pb;

use crate::Result;
use crate::query::{self, hide_unreadable};
use crate::service::Read;
use crate::view;

/// The complete state of a project and the sequence number it is consistent with: everything is
/// read in one read transaction, so it is one snapshot of the database. The shared
/// [`query::project::board`], rendered as protobuf.
pub(crate) async fn snapshot(r: &mut Read, c: pb::GetSnapshot) -> Result<pb::Snapshot> {
    let mut tx = r.conn.begin().await.map_err(pm_db::Error::from)?;
    let board = query::project::board(&mut tx, &r.actor, &c.project_id, 0)
        .await
        .map_err(|e| hide_unreadable(e).in_field("project", "project_id"))?;
    tx.commit().await.map_err(pm_db::Error::from)?;
    let project = board.project.id;
    Ok(pb::Snapshot {
        seq: u64::try_from(board.seq).unwrap_or_default(),
        project: Some((&board.project).into()),
        members: board.members.iter().map(Into::into).collect(),
        swim_lanes: board.swim_lanes.iter().map(Into::into).collect(),
        work_items: view::items(&board.items),
        sprints: board.sprints.iter().map(|(s, _)| s.into()).collect(),
        dependencies: board.links.iter().map(view::link).collect(),
        running_timers: board
            .running_timers
            .iter()
            .map(|t| pb::TimeEntry::from_domain(t, project))
            .collect(),
        history_epoch: board.history_epoch,
    })
}
