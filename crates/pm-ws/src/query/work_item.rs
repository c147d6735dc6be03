//! Work items: the filtered, paged search and one item with everything around it.

use std::collections::HashMap;

use pm_auth::Identity;
use pm_core::{
    ActivityEntry, Comment, DependencyType, EntityKind, Project, ProjectRole, SprintId, TimeEntry,
    UserId, WorkItem, WorkItemRef, WorkItemStatus, WorkItemType,
};
use pm_db::{SqliteConnection, activity, comment, dependency, time_entry, work_item};
use pm_proto::field;

use super::project::Link;
use super::{DETAIL_ACTIVITY, DETAIL_COMMENTS, Derivations, ITEM_PAGE, ITEM_PAGE_MAX, Item};
use crate::read::{authorize_read, find_work_item};
use crate::{Error, Result};

/// Which items to return. Errors name the fields as written here (`parent`, `cursor`); surfaces
/// that call them otherwise rename them with [`Error::in_field`].
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Any of these types (all when empty).
    pub types: Vec<WorkItemType>,
    /// Any of these statuses (all when empty).
    pub statuses: Vec<WorkItemStatus>,
    /// `Some(None)`: items in no sprint.
    pub sprint: Option<Option<SprintId>>,
    /// `Some(None)`: unassigned items.
    pub assignee: Option<Option<UserId>>,
    /// The parent's id or key; the empty string selects top-level items.
    pub parent: Option<String>,
    pub blocked: Option<bool>,
    /// Case-insensitive text the title or description contains.
    pub text: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page: [`ITEM_PAGE`] when `None` or 0, at most [`ITEM_PAGE_MAX`].
    pub limit: Option<u32>,
}

/// One page of items, in number order.
#[derive(Debug, Clone)]
pub struct Page {
    pub project: Project,
    pub items: Vec<Item>,
    /// For the next page; `None` on the last. Paging follows item numbers, so a walk returns every
    /// item that exists throughout exactly once, even while items are created.
    pub next_cursor: Option<String>,
}

/// One page of the items of the project `raw` names that match `search`.
pub async fn search(
    conn: &mut SqliteConnection,
    actor: &Identity,
    raw: &str,
    search: &Search,
) -> Result<Page> {
    let (project, _) = super::project::get(conn, actor, raw).await?;
    let parent = match search.parent.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(raw) => {
            let parent = match field::parse(raw, "parent", WorkItemRef::parse)? {
                WorkItemRef::Id(id) => work_item::get(conn, id).await,
                WorkItemRef::Key(key) => work_item::get_by_key(conn, &key).await,
            };
            match parent {
                Ok(item) => Some(Some(item.id)),
                Err(pm_db::Error::NotFound { .. }) => {
                    return Err(Error::validation("parent", "no such work item"));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let after_number = search
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| Error::validation("cursor", "not a cursor this read returned"))
        })
        .transpose()?;
    let limit = super::page_size(search.limit, ITEM_PAGE, ITEM_PAGE_MAX);
    let page_len = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut filter = work_item::Filter {
        types: search.types.clone(),
        statuses: search.statuses.clone(),
        sprint: search.sprint,
        assignee: search.assignee.clone(),
        parent,
        text: search.text.clone().filter(|t| !t.is_empty()),
        after_number,
        // One more than the page tells whether there is a next one.
        limit: Some(limit + 1),
    };
    let derivations = Derivations::load(conn, project.id).await?;
    // `blocked` is derived, not a column: read batches until the page is full or the items end.
    let mut items = Vec::new();
    loop {
        let batch = work_item::list(conn, project.id, &filter).await?;
        let exhausted = batch.len() <= page_len;
        filter.after_number = batch.last().map(|i| i.key.number);
        items.extend(batch.into_iter().filter(|i| {
            search
                .blocked
                .is_none_or(|b| derivations.is_blocked(&i.id) == b)
        }));
        if items.len() > page_len || exhausted {
            break;
        }
    }
    let next_cursor = if items.len() > page_len {
        items.truncate(page_len);
        items.last().map(|i| i.key.number.to_string())
    } else {
        None
    };
    Ok(Page {
        project,
        items: derivations.all(items),
        next_cursor,
    })
}

/// The live item `raw` names (id or key, any letter case) and its project, if the caller may read
/// it.
pub async fn find_readable(
    conn: &mut SqliteConnection,
    actor: &Identity,
    raw: &str,
) -> Result<(WorkItem, Project, ProjectRole)> {
    let item = find_work_item(conn, raw).await?;
    let project = pm_db::project::get(conn, item.project_id).await?;
    let role = authorize_read(conn, actor, &project).await?;
    Ok((item, project, role))
}

/// Time tracked on an item.
#[derive(Debug, Clone, Default)]
pub struct TimeSummary {
    /// Milliseconds of finished entries.
    pub logged_ms: i64,
    /// Finished time per user, most first.
    pub per_user: Vec<(UserId, i64)>,
    /// Timers running on the item.
    pub running: Vec<TimeEntry>,
}

/// An item's links from its point of view.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// `blocks` links whose blocked side is this item.
    pub blocked_by: Vec<Link>,
    /// `blocks` links whose blocking side is this item.
    pub blocking: Vec<Link>,
    /// `relates_to` links in either direction.
    pub related: Vec<Link>,
}

/// A work item with everything around it.
#[derive(Debug, Clone)]
pub struct Detail {
    pub item: Item,
    pub project: Project,
    /// Parent first, then its parent, up to the top.
    pub ancestors: Vec<WorkItem>,
    /// Live children in number order.
    pub children: Vec<Item>,
    pub links: Links,
    /// The newest [`DETAIL_COMMENTS`] live comments, oldest first.
    pub comments: Vec<Comment>,
    /// All live comments, including any not listed.
    pub comment_count: usize,
    pub time: TimeSummary,
    /// The newest [`DETAIL_ACTIVITY`] activity entries of the item, newest first.
    pub activity: Vec<ActivityEntry>,
}

/// An item with its place in the hierarchy: what `/ws` clients get for `get_work_item` (the rest
/// of [`Detail`] they hold already or read with their own commands).
#[derive(Debug, Clone)]
pub struct Family {
    pub item: Item,
    /// Parent first, then its parent, up to the top.
    pub ancestors: Vec<WorkItem>,
    /// Live children in number order.
    pub children: Vec<Item>,
}

/// `item` (found with [`find_readable`]) with its ancestors and children.
pub async fn family(conn: &mut SqliteConnection, item: WorkItem) -> Result<Family> {
    let derivations = Derivations::load(conn, item.project_id).await?;
    let ancestors = work_item::ancestors(conn, &item).await?;
    let children = work_item::children(conn, item.id).await?;
    Ok(Family {
        item: derivations.of(item),
        ancestors,
        children: derivations.all(children),
    })
}

/// Everything around `item` (found with [`find_readable`]): its [`Family`], links, comments, time
/// and recent activity.
pub async fn detail(
    conn: &mut SqliteConnection,
    item: WorkItem,
    project: Project,
) -> Result<Detail> {
    let Family {
        item,
        ancestors,
        children,
    } = family(conn, item).await?;
    let mut links = Links::default();
    for link in dependency::list_for_item(conn, item.item.id).await? {
        let blocking = work_item::get(conn, link.blocking_id).await?.key;
        let blocked = work_item::get(conn, link.blocked_id).await?.key;
        let dep_type = link.dep_type;
        let is_blocked_side = link.blocked_id == item.item.id;
        let link = Link {
            link,
            blocking,
            blocked,
        };
        match dep_type {
            DependencyType::RelatesTo => links.related.push(link),
            DependencyType::Blocks if is_blocked_side => links.blocked_by.push(link),
            DependencyType::Blocks => links.blocking.push(link),
        }
    }
    let mut comments = comment::list(conn, item.item.id).await?;
    let comment_count = comments.len();
    comments.drain(..comment_count.saturating_sub(DETAIL_COMMENTS));
    let entries = time_entry::list_for_item(conn, item.item.id).await?;
    let mut per_user: HashMap<UserId, i64> = HashMap::new();
    let mut running = Vec::new();
    for e in entries {
        match e.duration_ms {
            Some(ms) if e.ended_at.is_some() => {
                *per_user.entry(e.user_id.clone()).or_default() += ms
            }
            _ => running.push(e),
        }
    }
    let mut per_user: Vec<(UserId, i64)> = per_user.into_iter().collect();
    per_user.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let activity = activity::list(
        conn,
        &activity::Filter {
            entity: Some((EntityKind::WorkItem, item.item.id.to_string())),
            limit: DETAIL_ACTIVITY,
            ..Default::default()
        },
    )
    .await?;
    Ok(Detail {
        time: TimeSummary {
            logged_ms: item.derived.logged_ms,
            per_user,
            running,
        },
        item,
        project,
        ancestors,
        children,
        links,
        comments,
        comment_count,
        activity,
    })
}

/// The keys of the live items among `ids` (for surfaces that name items by key, such as an item's
/// parent in a compact view). Ids of deleted items are left out.
pub async fn keys(
    conn: &mut SqliteConnection,
    ids: impl IntoIterator<Item = pm_core::WorkItemId>,
) -> Result<HashMap<pm_core::WorkItemId, pm_core::ItemKey>> {
    let mut keys = HashMap::new();
    for id in ids {
        if keys.contains_key(&id) {
            continue;
        }
        match work_item::get(conn, id).await {
            Ok(item) => {
                keys.insert(id, item.key);
            }
            Err(pm_db::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(keys)
}
