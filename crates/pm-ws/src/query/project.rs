//! Projects: the ones a caller may read, one by id or key, and a whole project in one snapshot
//! (the `/ws` snapshot, the REST context and the MCP context are renderings of [`board`]).

use std::collections::HashMap;

use pm_auth::Identity;
use pm_core::{
    ActivityEntry, Dependency, ItemKey, Project, ProjectMember, ProjectRole, Sprint, SwimLane,
    TimeEntry,
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
