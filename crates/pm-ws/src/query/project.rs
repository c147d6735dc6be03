//! Projects: the ones a caller may read, one by id or key, and a whole project in one snapshot
//! (the `/ws` snapshot, the REST context and the MCP context are renderings of [`board`]).

use std::collections::HashMap;

use pm_auth::Identity;
use pm_core::{
    ActivityEntry, Dependency, ItemKey, Project, ProjectMember, ProjectRole, Sprint, SprintStatus,
    SwimLane, TimeEntry, WorkItemId, WorkItemStatus,
};
use pm_db::{SqliteConnection, activity, change_log, dependency, member, sprint, swim_lane};

use super::{Derivations, Item, SprintTotals};
use crate::Result;
use crate::read::{authorize_read, find_project, visible_projects};

/// The live projects the caller may read, ordered by key, with their role in each.
pub async fn list(
    conn: &mut SqliteConnection,
    actor: &Identity,
    include_archived: bool,
) -> Result<Vec<(Project, ProjectRole)>> {
    visible_projects(conn, actor, include_archived).await
}

/// The project `raw` names (id or key, any letter case) and the caller's role in it, if they may
/// read it.
pub async fn get(
    conn: &mut SqliteConnection,
    actor: &Identity,
    raw: &str,
) -> Result<(Project, ProjectRole)> {
    let project = find_project(conn, raw).await?;
    let role = authorize_read(conn, actor, &project).await?;
    Ok((project, role))
}

/// A link between two items, with both items' keys.
#[derive(Debug, Clone)]
pub struct Link {
    pub link: Dependency,
    pub blocking: ItemKey,
    pub blocked: ItemKey,
}

/// Everything in a project, consistent with `seq` when read in one transaction.
#[derive(Debug, Clone)]
pub struct Board {
    /// The tenant's newest sequence number.
    pub seq: i64,
    pub history_epoch: String,
    pub project: Project,
    pub role: ProjectRole,
    pub members: Vec<ProjectMember>,
    pub swim_lanes: Vec<SwimLane>,
    /// Every live item, in number order.
    pub items: Vec<Item>,
    pub links: Vec<Link>,
    /// Every live sprint (any status), oldest first, with totals.
    pub sprints: Vec<(Sprint, SprintTotals)>,
    pub running_timers: Vec<TimeEntry>,
    /// The newest `activity` entries asked for, newest first.
    pub activity: Vec<ActivityEntry>,
}

/// The project `raw` names, whole. `activity` recent activity entries are included (at most
/// [`super::CONTEXT_ACTIVITY_MAX`]).
pub async fn board(
    conn: &mut SqliteConnection,
    actor: &Identity,
    raw: &str,
    activity: u32,
) -> Result<Board> {
    let (project, role) = get(conn, actor, raw).await?;
    let seq = change_log::head(conn).await?;
    let history_epoch = pm_db::history::epoch(conn).await?;
    let members = member::list(conn, project.id).await?;
    let swim_lanes = swim_lane::list(conn, project.id).await?;
    let items = pm_db::work_item::list(conn, project.id, &Default::default()).await?;
    let sprints = sprint::list(conn, project.id).await?;
    let links = dependency::list_for_project(conn, project.id).await?;
    let running_timers = pm_db::time_entry::running_in_project(conn, project.id).await?;
    let derivations = Derivations::load(conn, project.id).await?;
    let activity = if activity == 0 {
        Vec::new()
    } else {
        activity::list(
            conn,
            &activity::Filter {
                project_id: Some(project.id),
                limit: activity.min(super::CONTEXT_ACTIVITY_MAX),
                ..Default::default()
            },
        )
        .await?
    };
    let keys: HashMap<_, _> = items.iter().map(|i| (i.id, i.key.clone())).collect();
    let links = links
        .into_iter()
        .filter_map(|link| {
            let blocking = keys.get(&link.blocking_id)?.clone();
            let blocked = keys.get(&link.blocked_id)?.clone();
            Some(Link {
                link,
                blocking,
                blocked,
            })
        })
        .collect();
    let mut totals = super::sprint_totals(&items);
    let sprints = sprints
        .into_iter()
        .map(|s| {
            let t = totals.remove(&s.id).unwrap_or_default();
            (s, t)
        })
        .collect();
    Ok(Board {
        seq,
        history_epoch,
        project,
        role,
        members,
        swim_lanes,
        items: derivations.all(items),
        links,
        sprints,
        running_timers,
        activity,
    })
}

/// A project bounded for reading at a glance, whatever its size (what the REST context renders):
/// the open work, the most recently finished items, the active and planned sprints and recent
/// activity, with counts for everything and a cursor for the open items left out.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The tenant's newest sequence number.
    pub seq: i64,
    pub history_epoch: String,
    pub project: Project,
    pub role: ProjectRole,
    pub members: Vec<ProjectMember>,
    pub swim_lanes: Vec<SwimLane>,
    /// The first open (not done) items in number order, at most the limit asked for.
    pub open_items: Vec<Item>,
    /// The item number to continue the open items after (a work-item list `cursor`), when some
    /// were left out.
    pub open_next_cursor: Option<String>,
    /// The most recently changed done items, newest first.
    pub recently_done: Vec<Item>,
    /// Live items per status, every status listed (in workflow order).
    pub status_counts: Vec<(WorkItemStatus, i64)>,
    /// Live links with at least one side among the items shown, oldest first.
    pub links: Vec<Link>,
    /// Active and planned sprints, oldest first, with totals over all their items.
    pub sprints: Vec<(Sprint, SprintTotals)>,
    /// The newest `activity` entries asked for, newest first.
    pub activity: Vec<ActivityEntry>,
}

/// Open items an overview holds unless asked otherwise, and the most it holds.
pub const OVERVIEW_ITEMS: u32 = 200;
pub const OVERVIEW_ITEMS_MAX: u32 = 500;
/// Done items an overview holds: "recently" is by count, not by a time window, so that what it
/// shows changes only when the project does (its `ETag` stays sound).
pub const OVERVIEW_RECENTLY_DONE: u32 = 20;

/// The [`Overview`] of the project `raw` names: at most `open_items` open items (at most
/// [`OVERVIEW_ITEMS_MAX`]) and `activity` activity entries (at most
/// [`super::CONTEXT_ACTIVITY_MAX`]). Counts and sprint totals are computed by SQLite, so its cost
/// follows what it shows, not the size of the project.
pub async fn overview(
    conn: &mut SqliteConnection,
    actor: &Identity,
    raw: &str,
    open_items: u32,
    activity: u32,
) -> Result<Overview> {
    let (project, role) = get(conn, actor, raw).await?;
    let seq = change_log::head(conn).await?;
    let history_epoch = pm_db::history::epoch(conn).await?;
    let members = member::list(conn, project.id).await?;
    let swim_lanes = swim_lane::list(conn, project.id).await?;
    let open: Vec<WorkItemStatus> = WorkItemStatus::ALL
        .iter()
        .copied()
        .filter(|s| !s.is_done())
        .collect();
    let done: Vec<WorkItemStatus> = WorkItemStatus::ALL
        .iter()
        .copied()
        .filter(|s| s.is_done())
        .collect();
    let limit = open_items.min(OVERVIEW_ITEMS_MAX);
    let page_len = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut open_items = pm_db::work_item::list(
        conn,
        project.id,
        &pm_db::work_item::Filter {
            statuses: open,
            // One more than the page tells whether there is a next one.
            limit: Some(limit + 1),
            ..Default::default()
        },
    )
    .await?;
    let open_next_cursor = if open_items.len() > page_len {
        open_items.truncate(page_len);
        Some(open_items.last().map_or(0, |i| i.key.number).to_string())
    } else {
        None
    };
    let recently_done =
        pm_db::work_item::recently_updated(conn, project.id, &done, OVERVIEW_RECENTLY_DONE).await?;
    let counted: HashMap<WorkItemStatus, i64> = pm_db::work_item::count_by_status(conn, project.id)
        .await?
        .into_iter()
        .collect();
    let status_counts = WorkItemStatus::ALL
        .iter()
        .map(|s| (*s, counted.get(s).copied().unwrap_or(0)))
        .collect();
    let mut totals = pm_db::work_item::counts_by_sprint(conn, project.id).await?;
    let sprints = sprint::list(conn, project.id)
        .await?
        .into_iter()
        .filter(|s| matches!(s.status, SprintStatus::Active | SprintStatus::Planned))
        .map(|s| {
            let t = totals
                .remove(&s.id)
                .map_or_else(SprintTotals::default, |t| {
                    let n = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
                    SprintTotals {
                        items: n(t.items),
                        done_items: n(t.done_items),
                        points: n(t.points),
                        done_points: n(t.done_points),
                    }
                });
            (s, t)
        })
        .collect();
    let mut keys: HashMap<WorkItemId, ItemKey> = open_items
        .iter()
        .chain(&recently_done)
        .map(|i| (i.id, i.key.clone()))
        .collect();
    let shown: Vec<Dependency> = dependency::list_for_project(conn, project.id)
        .await?
        .into_iter()
        .filter(|l| keys.contains_key(&l.blocking_id) || keys.contains_key(&l.blocked_id))
        .collect();
    let missing: Vec<WorkItemId> = shown
        .iter()
        .flat_map(|l| [l.blocking_id, l.blocked_id])
        .filter(|id| !keys.contains_key(id))
        .collect();
    keys.extend(super::work_item::keys(conn, missing).await?);
    let links = shown
        .into_iter()
        .filter_map(|link| {
            let blocking = keys.get(&link.blocking_id)?.clone();
            let blocked = keys.get(&link.blocked_id)?.clone();
            Some(Link {
                link,
                blocking,
                blocked,
            })
        })
        .collect();
    let derivations = Derivations::load(conn, project.id).await?;
    let activity = if activity == 0 {
        Vec::new()
    } else {
        activity::list(
            conn,
            &activity::Filter {
                project_id: Some(project.id),
                limit: activity.min(super::CONTEXT_ACTIVITY_MAX),
                ..Default::default()
            },
        )
        .await?
    };
    Ok(Overview {
        seq,
        history_epoch,
        project,
        role,
        members,
        swim_lanes,
        open_items: derivations.all(open_items),
        open_next_cursor,
        recently_done: derivations.all(recently_done),
        status_counts,
        links,
        sprints,
        activity,
    })
}
