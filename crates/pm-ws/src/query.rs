//! The read path every surface shares: `/ws` commands, the REST API under `/api/v1` and the MCP
//! tools at `/mcp` are thin adapters over these transport-free queries, the way every write goes
//! through [`crate::Service::execute`]. One set of visibility rules, filters, page limits and
//! derived fields (blocked state, logged time, sprint totals) lives here; the surfaces only decode
//! their parameters and render the results (protobuf, JSON views, compact tool results).
//!
//! A query runs on a connection the caller holds, usually a [`Reader`] (one read transaction, so
//! everything a response shows is consistent with one snapshot; REST also computes its ETag in it).
//! Visibility: a project the caller is not a member of is `PermissionDenied` (REST: 403; `/ws`
//! reports it as `NotFound`, see [`hide_unreadable`]); another tenant's ids are `NotFound`
//! everywhere, since they live in another database. The activity query is
//! [`crate::commands::activity::page`] and the change feed [`crate::Service::change_page`]; both
//! were shared before this module existed.

pub mod project;
pub mod sprint;
pub mod work_item;

use std::collections::{HashMap, HashSet};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use pm_auth::Identity;
use pm_core::{EntityKind, ProjectId, WorkItem, WorkItemId};
use pm_db::{Sqlite, SqliteConnection, TenantDb, Transaction, change_log, dependency};
use pm_proto::WorkItemDerived;

use crate::{Error, Result, Service};

/// Work items per page unless asked otherwise, and the most a page holds, on every surface.
pub const ITEM_PAGE: u32 = 50;
pub const ITEM_PAGE_MAX: u32 = 200;
/// The newest comments and activity entries a work item's detail includes.
pub const DETAIL_COMMENTS: usize = 100;
pub const DETAIL_ACTIVITY: u32 = 50;
/// Recent activity entries in a project context unless asked otherwise, and the most it returns.
pub const CONTEXT_ACTIVITY: u32 = 20;
pub const CONTEXT_ACTIVITY_MAX: u32 = 100;
/// Changes per page of the change feed unless asked otherwise, and the most a page holds.
pub const CHANGE_PAGE: u32 = 100;
pub const CHANGE_PAGE_MAX: u32 = 500;

/// A read transaction on the caller's tenant database: every query in it sees one snapshot. It
/// holds the database open while it lives (a database is only closed while nobody holds it).
pub struct Reader {
    // Dropped before `_db`: fields drop in declaration order.
    tx: Transaction<'static, Sqlite>,
    _db: Arc<TenantDb>,
}

impl Service {
    /// A read transaction on the caller's tenant (from the verified token: another tenant's data
    /// is unreachable from it).
    pub async fn reader(&self, actor: &Identity) -> Result<Reader> {
        let db = self.tenant_db(actor).await?;
        let tx = db.begin_read().await?;
        Ok(Reader { tx, _db: db })
    }
}

impl Reader {
    /// The history epoch of what this transaction reads.
    pub async fn history_epoch(&mut self) -> Result<String> {
        Ok(pm_db::history::epoch(&mut self.tx).await?)
    }
}

impl Deref for Reader {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// A work item with what is derived for it rather than stored on it.
#[derive(Debug, Clone)]
pub struct Item {
    pub item: WorkItem,
    pub derived: WorkItemDerived,
}

/// The derived fields of every item of one project, read with two queries.
pub(crate) struct Derivations {
    blocked: HashSet<WorkItemId>,
    logged: HashMap<WorkItemId, i64>,
}

impl Derivations {
    pub async fn load(conn: &mut SqliteConnection, project: ProjectId) -> Result<Self> {
        Ok(Self {
            blocked: dependency::blocked_items(&mut *conn, project).await?,
            logged: pm_db::work_item::logged_ms_by_item(conn, project).await?,
        })
    }

    pub fn is_blocked(&self, id: &WorkItemId) -> bool {
        self.blocked.contains(id)
    }

    pub fn of(&self, item: WorkItem) -> Item {
        let derived = WorkItemDerived {
            blocked: self.blocked.contains(&item.id),
            logged_ms: self.logged.get(&item.id).copied().unwrap_or(0),
        };
        Item { item, derived }
    }

    pub fn all(&self, items: Vec<WorkItem>) -> Vec<Item> {
        items.into_iter().map(|i| self.of(i)).collect()
    }
}

/// Counts and story points of a sprint's items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SprintTotals {
    pub items: u32,
    pub done_items: u32,
    pub points: u32,
    pub done_points: u32,
}

impl SprintTotals {
    pub fn add(&mut self, item: &WorkItem) {
        let points = item.story_points.map_or(0, |p| p.get());
        self.items += 1;
        self.points += points;
        if item.status.is_done() {
            self.done_items += 1;
            self.done_points += points;
        }
    }
}

/// The totals of every sprint the items belong to.
pub(crate) fn sprint_totals(items: &[WorkItem]) -> HashMap<pm_core::SprintId, SprintTotals> {
    let mut totals: HashMap<pm_core::SprintId, SprintTotals> = HashMap::new();
    for item in items {
        if let Some(s) = item.sprint_id {
            totals.entry(s).or_default().add(item);
        }
    }
    totals
}

/// The sequence number a project's representations are consistent with: its newest change still
/// in the log or, when the log holds none of its changes, one below the oldest retained entry (no
/// change of the project happened since). It grows whenever the project, or anything in it,
/// changes, so it makes a sound `ETag`.
pub async fn project_seq(conn: &mut SqliteConnection, project: ProjectId) -> Result<i64> {
    if let Some(seq) = change_log::last_of_project(conn, project).await? {
        return Ok(seq);
    }
    Ok(match change_log::oldest(conn).await? {
        Some(oldest) => oldest - 1,
        None => change_log::head(conn).await?,
    })
}

/// What a conditional response of a project was read at: the project, the history epoch and the
/// project's sequence number (its `ETag`), and the tenant's head in the same snapshot. Kept by a
/// surface, it answers a later conditional request from memory (see
/// [`Service::unchanged_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    pub project: ProjectId,
    pub epoch: String,
    pub seq: i64,
    pub head: u64,
}

impl Reader {
    /// The [`Validator`] of `project` in this transaction's snapshot.
    pub async fn validator(&mut self, project: ProjectId) -> Result<Validator> {
        let epoch = self.history_epoch().await?;
        let seq = project_seq(self, project).await?;
        let head = change_log::head(self).await?;
        Ok(Validator {
            project,
            epoch,
            seq,
            head: u64::try_from(head).unwrap_or_default(),
        })
    }
}

impl Service {
    /// A read transaction whose snapshot begins after the tenant's hub exists, so that the
    /// [`Validator`]s read in it can be checked later by [`Service::unchanged_since`].
    pub async fn validating_reader(&self, actor: &Identity) -> Result<Reader> {
        self.hub(&actor.tenant).await?;
        self.reader(actor).await
    }

    /// Whether what `v` was read from is still current, decided without reading the database:
    /// same history epoch, and no change of the project (a membership, its key, an item, …)
    /// published since. A change committed but not yet published counts as not yet made: its
    /// command is answered only after it is published. `false` whenever it cannot tell.
    pub async fn unchanged_since(&self, actor: &Identity, v: &Validator) -> Result<bool> {
        let Some(hub) = self.hubs().get(&actor.tenant) else {
            return Ok(false);
        };
        // In memory while the database is open; reopening it reads the history mark, which is
        // where a replaced database gets its new epoch.
        let db = self.tenant_db(actor).await?;
        Ok(db.epoch() == v.epoch && hub.unchanged_since(v.project, v.head))
    }
}

/// A page size: `default` when none (or 0) was asked for, at most `max`. Surfaces that refuse an
/// out-of-range size (REST, MCP) check it against the same constants before they call.
pub fn page_size(asked: Option<u32>, default: u32, max: u32) -> u32 {
    match asked {
        None | Some(0) => default,
        Some(n) => n.min(max),
    }
}

/// `/ws` does not reveal whether a project it may not read exists: a read refused for lack of
/// membership is reported as `NotFound`, as the commands always did.
pub fn hide_unreadable(error: Error) -> Error {
    match error {
        Error::PermissionDenied(_) => Error::NotFound {
            entity: EntityKind::Project,
        },
        other => other,
    }
}

impl Error {
    /// The same error naming the surface's own parameter: the queries name their inputs once
    /// (`parent`, `cursor`, …) and each surface calls them what its clients send.
    pub fn in_field(self, query_name: &str, surface_name: &'static str) -> Self {
        match self {
            Error::Validation {
                field: Some(f),
                message,
                cycle,
            } if f == query_name => Error::Validation {
                field: Some(surface_name),
                message,
                cycle,
            },
            other => other,
        }
    }
}
