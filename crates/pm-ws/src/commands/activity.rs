//! Reading the activity log: who changed what, newest first. One query for every surface: the
//! `list_activity` command and the REST `GET /activity` both page through [`page`].

use pm_auth::Identity;
use pm_core::{Action, ActivityEntry, EntityKind, ProjectId, Timestamp, UserId};
use pm_db::{SqliteConnection, activity};
use pm_proto::{WireEnum, field, pb};

use crate::access::require;
use crate::lookup;
use crate::read::sees_every_project;
use crate::service::Read;
use crate::{Error, Result};

/// Entries per page unless asked otherwise, and the most a page holds.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

/// Which activity to read. Without a project, every project the caller may read.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub project: Option<ProjectId>,
    pub entity: Option<(EntityKind, String)>,
    pub actor: Option<UserId>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Entries per page; `None` for the default. At most [`MAX_PAGE`].
    pub limit: Option<u32>,
}

/// One page of activity, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    pub entries: Vec<ActivityEntry>,
    /// For the next (older) page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// One page of the activity `query` selects, as the caller may see it. The caller's access to
/// `query.project` must have been checked (see [`require`]).
pub async fn page(conn: &mut SqliteConnection, actor: &Identity, query: &Query) -> Result<Page> {
    let before_id = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| Error::validation("cursor", "not a cursor this read returned"))
        })
        .transpose()?;
    let limit = match query.limit {
        None | Some(0) => DEFAULT_PAGE,
        Some(n) => n.min(MAX_PAGE),
    };
    let member =
        (query.project.is_none() && !sees_every_project(actor)).then(|| actor.user.clone());
    let mut entries = activity::list(
        conn,
        &activity::Filter {
            project_id: query.project,
            entity: query.entity.clone(),
            actor: query.actor.clone(),
            member,
            from: query.from,
            to: query.to,
            before_id,
            // One more than the page tells whether there is a next one.
            limit: limit + 1,
        },
    )
    .await?;
    let page_len = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if entries.len() > page_len {
        entries.truncate(page_len);
        entries.last().map(|a| a.id.to_string())
    } else {
        None
    };
    Ok(Page {
        entries,
        next_cursor,
    })
}

pub(crate) async fn list(r: &mut Read, c: pb::ListActivity) -> Result<pb::ActivityList> {
    let project = lookup::project_id(&mut r.conn, &c.project_id, "project_id").await?;
    require(&mut r.conn, &r.actor, project, Action::Read).await?;
    let entity = match (c.entity, c.entity_id) {
        (None, None) => None,
        (Some(kind), Some(id)) => {
            let kind = EntityKind::from_wire(kind, "entity")?;
            // Work items may be named by key here too.
            let id = if kind == EntityKind::WorkItem {
                lookup::work_item_id(&mut r.conn, &id, "entity_id")
                    .await?
                    .to_string()
            } else {
                id
            };
            Some((kind, id))
        }
        (Some(_), None) => return Err(Error::validation("entity_id", "required with entity")),
        (None, Some(_)) => return Err(Error::validation("entity", "required with entity_id")),
    };
    let query = Query {
        project: Some(project),
        entity,
        actor: field::parse_opt(c.user_id.as_deref(), "user_id", UserId::parse)?,
        from: field::opt_timestamp(c.from, "from")?,
        to: field::opt_timestamp(c.to, "to")?,
        cursor: Some(c.cursor),
        limit: Some(c.limit),
    };
    let page = page(&mut r.conn, &r.actor, &query).await?;
    Ok(pb::ActivityList {
        entries: page.entries.iter().map(Into::into).collect(),
        next_cursor: page.next_cursor.unwrap_or_default(),
    })
}
