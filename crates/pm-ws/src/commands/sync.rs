use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pm_core::{ProjectId, TenantId};
use pm_db::Connection;
use pm_proto::pb;

use crate::Result;
use crate::query::{self, hide_unreadable};
use crate::service::Read;
use crate::view;

/// The complete state of a project and the sequence number it is consistent with: everything is
/// read in one read transaction, so it is one snapshot of the database. The shared
/// [`query::project::board`], rendered as protobuf, or the same rendering taken from
/// [`SnapshotCache`] when nothing has changed in the tenant since it was made. The caller's access
/// is checked on every call, in the same transaction that reads the head the cache is keyed by.
pub(crate) async fn snapshot(r: &mut Read, c: pb::GetSnapshot) -> Result<pb::Snapshot> {
    let mut tx = r.conn.begin().await.map_err(pm_db::Error::from)?;
    let (project, _) = query::project::get(&mut tx, &r.actor, &c.project_id)
        .await
        .map_err(|e| hide_unreadable(e).in_field("project", "project_id"))?;
    let seq = pm_db::change_log::head(&mut tx).await?;
    let epoch = pm_db::history::epoch(&mut tx).await?;
    let key = (r.actor.tenant.clone(), project.id);
    if let Some(cached) = r.snapshots.get(&key, seq, &epoch) {
        tx.commit().await.map_err(pm_db::Error::from)?;
        return Ok(cached);
    }
    let board = query::project::board(&mut tx, &r.actor, &c.project_id, 0)
        .await
        .map_err(|e| hide_unreadable(e).in_field("project", "project_id"))?;
    tx.commit().await.map_err(pm_db::Error::from)?;
    let project = board.project.id;
    let snapshot = pb::Snapshot {
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
    };
    r.snapshots.put(key, Arc::new(snapshot.clone()));
    Ok(snapshot)
}

/// The last snapshot rendered of each project. A project's snapshot is the same for every reader
/// (access decides only whether they get it), and every committed change of a tenant takes a new
/// sequence number in its transaction, so a snapshot is current exactly as long as the tenant's
/// head and history epoch are the ones it was read at. An entry is replaced when a newer one is
/// rendered; the cache is bounded by its total encoded size.
#[derive(Default)]
pub struct SnapshotCache {
    state: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<(TenantId, ProjectId), Arc<pb::Snapshot>>,
    bytes: usize,
}

/// The most encoded snapshot bytes the cache holds; when a new entry does not fit, the cache is
/// emptied (the entries are all rebuilt from the database on their next read anyway).
const SNAPSHOT_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// A snapshot larger than this is not kept: it would crowd out many small ones.
const SNAPSHOT_MAX_CACHED_BYTES: usize = 4 * 1024 * 1024;

impl SnapshotCache {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Every critical section leaves the map consistent before it can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: &(TenantId, ProjectId), seq: i64, epoch: &str) -> Option<pb::Snapshot> {
        let cached = Arc::clone(self.lock().map.get(key)?);
        let current =
            i64::try_from(cached.seq).is_ok_and(|s| s == seq) && cached.history_epoch == epoch;
        // Cloned outside the lock.
        current.then(|| (*cached).clone())
    }

    fn put(&self, key: (TenantId, ProjectId), snapshot: Arc<pb::Snapshot>) {
        let size = prost::Message::encoded_len(snapshot.as_ref());
        if size > SNAPSHOT_MAX_CACHED_BYTES {
            return;
        }
        let mut entries = self.lock();
        if entries.bytes + size > SNAPSHOT_CACHE_BYTES {
            entries.map.clear();
            entries.bytes = 0;
        }
        if let Some(old) = entries.map.insert(key, snapshot) {
            entries.bytes -= prost::Message::encoded_len(old.as_ref());
        }
        entries.bytes += size;
    }
}
