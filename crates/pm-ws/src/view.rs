//! Wire views of stored entities that need derived data (blocked state, logged time, keys).

use std::collections::{HashMap, HashSet};

use pm_core::{Dependency, ProjectId, WorkItem, WorkItemId};
use pm_db::{SqliteConnection, dependency, work_item};
use pm_proto::{WorkItemDerived, pb};

use crate::Result;
use crate::query::{Item, project::Link};

/// Items of the shared read path, as the wire carries them.
pub(crate) fn items(items: &[Item]) -> Vec<pb::WorkItem> {
    items
        .iter()
        .map(|i| pb::WorkItem::from_domain(&i.item, i.derived))
        .collect()
}

/// A link of the shared read path, as the wire carries it.
pub(crate) fn link(l: &Link) -> pb::Dependency {
    pb::Dependency::from_domain(&l.link, &l.blocking, &l.blocked)
}

/// One item with its derived fields.
pub(crate) async fn item(conn: &mut SqliteConnection, item: &WorkItem) -> Result<pb::WorkItem> {
    Ok(pb::WorkItem::from_domain(
        item,
        derived(conn, item.id).await?,
    ))
}

/// The derived fields of one item.
pub(crate) async fn derived(
    conn: &mut SqliteConnection,
    item: WorkItemId,
) -> Result<WorkItemDerived> {
    let (blocked, logged_ms) = work_item::derived(conn, item).await?;
    Ok(WorkItemDerived { blocked, logged_ms })
}

/// Derived fields for many items of one project, read with two queries.
pub(crate) struct ProjectDerived {
    blocked: HashSet<WorkItemId>,
    logged: HashMap<WorkItemId, i64>,
}

impl ProjectDerived {
    pub async fn load(conn: &mut SqliteConnection, project: ProjectId) -> Result<Self> {
        Ok(Self {
            blocked: dependency::blocked_items(conn, project).await?,
            logged: work_item::logged_ms_by_item(conn, project).await?,
        })
    }

    pub fn item(&self, item: &WorkItem) -> pb::WorkItem {
        pb::WorkItem::from_domain(
            item,
            WorkItemDerived {
                blocked: self.blocked.contains(&item.id),
                logged_ms: self.logged.get(&item.id).copied().unwrap_or(0),
            },
        )
    }

    pub fn items(&self, items: &[WorkItem]) -> Vec<pb::WorkItem> {
        items.iter().map(|i| self.item(i)).collect()
    }
}

/// A dependency with both items' human keys.
pub(crate) async fn dependency(
    conn: &mut SqliteConnection,
    d: &Dependency,
) -> Result<pb::Dependency> {
    let blocking = work_item::get(&mut *conn, d.blocking_id).await?;
    let blocked = work_item::get(&mut *conn, d.blocked_id).await?;
    Ok(pb::Dependency::from_domain(d, &blocking.key, &blocked.key))
}
