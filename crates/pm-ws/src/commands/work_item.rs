use std::collections::HashSet;

use pm_core::{
    Action, ActivityAction, Description, EntityKind, ItemKey, Priority, Project, ProjectId,
    SprintId, Title, UserId, WorkItem, WorkItemId, WorkItemRef, WorkItemStatus, WorkItemType,
    check_parent, check_reparent_no_cycle, position_between, sprint_accepts_items,
};
use pm_db::{SqliteConnection, dependency, member, sprint, work_item};
use pm_proto::{WireEnum, WorkItemDerived, field, pb};

use crate::access::{check, require};
use crate::lookup;
use crate::mutation::{Diff, Mutation};
use crate::query::{self, hide_unreadable};
use crate::service::Read;
use crate::view;
use crate::{Error, Result};

/// Loads a live item and checks the caller may perform `action` in its project.
pub(crate) async fn load(
    conn: &mut SqliteConnection,
    actor: &pm_auth::Identity,
    id: WorkItemId,
    action: Action,
) -> Result<(WorkItem, Project)> {
    let (item, project, _) = load_with_derived(conn, actor, id, action).await?;
    Ok((item, project))
}

/// [`load`], with the item's derived fields: for a change that keeps them (an item's own edits
/// change neither what blocks it nor its logged time). One round trip either way.
async fn load_with_derived(
    conn: &mut SqliteConnection,
    actor: &pm_auth::Identity,
    id: WorkItemId,
    action: Action,
) -> Result<(WorkItem, Project, WorkItemDerived)> {
    let found = work_item::get_with_access(conn, id, &actor.user).await?;
    check(actor, &found.project, found.member_role, action)?;
    let derived = WorkItemDerived {
        blocked: found.blocked,
        logged_ms: found.logged_ms,
    };
    Ok((found.item, found.project, derived))
}

/// A parent for an item of `child_type` in `project`: live, same project, right type, and not the
/// item itself or one of its descendants.
async fn check_new_parent(
    conn: &mut SqliteConnection,
    project: ProjectId,
    child: Option<WorkItemId>,
    child_type: WorkItemType,
    parent_id: WorkItemId,
) -> Result<WorkItem> {
    let parent = match work_item::get(&mut *conn, parent_id).await {
        Ok(p) if p.project_id == project => p,
        Ok(_) | Err(pm_db::Error::NotFound { .. }) => {
            return Err(Error::validation(
                "parent_id",
                "the parent is not a live item of this project",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    check_parent(child_type, Some(parent.item_type))?;
    if let Some(child) = child {
        let mut chain = vec![parent.id];
        chain.extend(
            work_item::ancestors(conn, &parent)
                .await?
                .iter()
                .map(|a| a.id),
        );
        check_reparent_no_cycle(&child, &chain)?;
    }
    Ok(parent)
}

/// A sprint items of `project` may be planned in.
async fn check_sprint(conn: &mut SqliteConnection, project: ProjectId, id: SprintId) -> Result<()> {
    let s = match sprint::get(conn, id).await {
        Ok(s) if s.project_id == project => s,
        Ok(_) | Err(pm_db::Error::NotFound { .. }) => {
            return Err(Error::validation(
                "sprint_id",
                "the sprint is not a live sprint of this project",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if !sprint_accepts_items(s.status) {
        return Err(Error::validation(
            "sprint_id",
            format!("the sprint is {}; it is read-only", s.status),
        ));
    }
    Ok(())
}

/// The sprint an item currently sits in must accept changes of membership.
async fn check_leaving_sprint(
    conn: &mut SqliteConnection,
    current: Option<SprintId>,
) -> Result<()> {
    if let Some(id) = current {
        let s = sprint::get(conn, id).await?;
        if !sprint_accepts_items(s.status) {
            return Err(Error::conflict(format!(
                "the item belongs to a {} sprint, which is read-only",
                s.status
            )));
        }
    }
    Ok(())
}

async fn check_assignee(
    conn: &mut SqliteConnection,
    project: ProjectId,
    user: &UserId,
) -> Result<()> {
    if member::find(conn, project, user).await?.is_none() {
        return Err(Error::validation(
            "assignee",
            "the assignee is not a member of the project",
        ));
    }
    Ok(())
}

/// A position at the bottom of a column.
async fn bottom_of(
    conn: &mut SqliteConnection,
    project: ProjectId,
    status: WorkItemStatus,
) -> Result<String> {
    below(
        work_item::last_position(conn, project, status)
            .await?
            .as_deref(),
    )
}

/// A position below the card at `last` (the top of an empty column).
fn below(last: Option<&str>) -> Result<String> {
    position_between(last, None)
        .ok_or_else(|| Error::Internal("no position after the last card".into()))
}

pub(crate) async fn create(
    m: &mut Mutation<'_>,
    c: pb::CreateWorkItem,
) -> Result<pb::WorkItemResponse> {
    let project_id = lookup::project_id(m.tx, &c.project_id, "project_id").await?;
    let (project, _) = require(m.tx, &m.actor, project_id, Action::Edit).await?;
    let item_type = WorkItemType::from_wire(c.r#type, "type")?;
    let title = field::parse(&c.title, "title", Title::parse)?;
    let description = field::parse(&c.description, "description", Description::parse)?;
    let status = c
        .status
        .map(|s| WorkItemStatus::from_wire(s, "status"))
        .transpose()?
        .unwrap_or(WorkItemStatus::Backlog);
    let priority = c
        .priority
        .map(|p| Priority::from_wire(p, "priority"))
        .transpose()?
        .unwrap_or(Priority::Medium);
    let story_points = field::story_points(c.story_points, "story_points")?;
    let assignee = field::parse_opt(c.assignee.as_deref(), "assignee", UserId::parse)?;
    let parent_id = lookup::opt_work_item_id(m.tx, c.parent_id.as_deref(), "parent_id").await?;
    let sprint_id = field::parse_opt(c.sprint_id.as_deref(), "sprint_id", SprintId::parse)?;
    match parent_id {
        Some(parent) => {
            check_new_parent(m.tx, project.id, None, item_type, parent).await?;
        }
        None => check_parent(item_type, None)?,
    }
    if let Some(s) = sprint_id {
        check_sprint(m.tx, project.id, s).await?;
    }
    if let Some(user) = &assignee {
        check_assignee(m.tx, project.id, user).await?;
    }
    let (number, last) = pm_db::project::allocate_item_number(m.tx, project.id, status).await?;
    let position = below(last.as_deref())?;
    let item = WorkItem {
        id: WorkItemId::new(),
        project_id: project.id,
        key: ItemKey {
            project: project.key.clone(),
            number,
        },
        item_type,
        parent_id,
        title,
        description,
        status,
        priority,
        story_points,
        assignee,
        sprint_id,
        position,
        version: 1,
        created_at: m.at,
        created_by: m.actor.user.clone(),
        updated_at: m.at,
        updated_by: m.actor.user.clone(),
        deleted_at: None,
    };
    work_item::insert(m.tx, &item).await?;
    // A new item has no blockers and no logged time yet.
    let wire = pb::WorkItem::from_domain(&item, WorkItemDerived::default());
    m.record(
        project.id,
        EntityKind::WorkItem,
        item.id.to_string(),
        ActivityAction::Created,
        pb::change::Change::WorkItem(wire.clone()),
        Vec::new(),
    );
    Ok(pb::WorkItemResponse {
        work_item: Some(wire),
    })
}

fn item_diff(before: &WorkItem, after: &WorkItem) -> Diff {
    let mut d = Diff::default();
    d.field("type", &before.item_type, &after.item_type)
        .optional(
            "parent_id",
            before.parent_id.as_ref(),
            after.parent_id.as_ref(),
        )
        .field("title", &before.title, &after.title)
        .field("description", &before.description, &after.description)
        .field("status", &before.status, &after.status)
        .field("priority", &before.priority, &after.priority)
        .optional(
            "story_points",
            before.story_points.map(|p| p.get()).as_ref(),
            after.story_points.map(|p| p.get()).as_ref(),
        )
        .optional(
            "assignee",
            before.assignee.as_ref(),
            after.assignee.as_ref(),
        )
        .optional(
            "sprint_id",
            before.sprint_id.as_ref(),
            after.sprint_id.as_ref(),
        )
        .field("position", &before.position, &after.position);
    d
}

/// Writes an item's new state with its activity and event, then reports every item whose blocked
/// state flipped because of it.
pub(crate) async fn save(
    m: &mut Mutation<'_>,
    before: &WorkItem,
    mut after: WorkItem,
    version: i64,
    derived: WorkItemDerived,
) -> Result<pb::WorkItem> {
    let diff = item_diff(before, &after);
    if diff.is_empty() {
        if version != before.version {
            return Err(stale(before.version));
        }
        return Ok(pb::WorkItem::from_domain(before, derived));
    }
    after.updated_at = m.at;
    after.updated_by = m.actor.user.clone();
    let done_changed = before.status.is_done() != after.status.is_done();
    let blocked_before = if done_changed {
        Some(dependency::blocked_items(m.tx, before.project_id).await?)
    } else {
        None
    };
    let stored = work_item::update(m.tx, &after, version).await?;
    let wire = pb::WorkItem::from_domain(&stored, derived);
    m.record(
        stored.project_id,
        EntityKind::WorkItem,
        stored.id.to_string(),
        ActivityAction::Updated,
        pb::change::Change::WorkItem(wire.clone()),
        diff.0,
    );
    if let Some(before) = blocked_before {
        report_blocked_changes(m, stored.project_id, &before).await?;
    }
    Ok(wire)
}

fn stale(current_version: i64) -> Error {
    Error::Conflict {
        message: format!(
            "the work item was changed by someone else (now at version {current_version})"
        ),
        current_version: Some(current_version),
        current: None,
    }
}

/// Emits `BlockedChanged` for every item of the project whose blocked state differs from `before`.
pub(crate) async fn report_blocked_changes(
    m: &mut Mutation<'_>,
    project: ProjectId,
    before: &HashSet<WorkItemId>,
) -> Result<()> {
    let after = dependency::blocked_items(m.tx, project).await?;
    let mut flipped: Vec<(WorkItemId, bool)> = before
        .symmetric_difference(&after)
        .map(|id| (*id, after.contains(id)))
        .collect();
    flipped.sort();
    for (id, blocked) in flipped {
        let item = match work_item::get(m.tx, id).await {
            Ok(item) => item,
            // An item deleted by this very change is no longer reported.
            Err(pm_db::Error::NotFound { .. }) => continue,
            // Anything else fails the change: committing it without its report would leave
            // every client with a wrong blocked state.
            Err(e) => return Err(e.into()),
        };
        m.record(
            project,
            EntityKind::WorkItem,
            id.to_string(),
            ActivityAction::Updated,
            pb::change::Change::BlockedChanged(pb::BlockedChanged {
                work_item_id: id.to_string(),
                key: item.key.to_string(),
                blocked,
            }),
            Diff::default()
                .field("blocked", &!blocked, &blocked)
                .0
                .clone(),
        );
    }
    Ok(())
}

/// Attaches the current state to a conflict on `item`, so the client can rebase without a read.
async fn with_current(conn: &mut SqliteConnection, id: WorkItemId, err: Error) -> Error {
    match err {
        Error::Conflict {
            message,
            current_version: Some(v),
            current: None,
        } => {
            let current = match work_item::get(&mut *conn, id).await {
                Ok(item) => view::item(conn, &item)
                    .await
                    .ok()
                    .map(|w| Box::new(pb::error::Current::WorkItem(w))),
                Err(_) => None,
            };
            Error::Conflict {
                message,
                current_version: Some(v),
                current,
            }
        }
        other => other,
    }
}

pub(crate) async fn update(
    m: &mut Mutation<'_>,
    c: pb::UpdateWorkItem,
) -> Result<pb::WorkItemResponse> {
    let id = lookup::work_item_id(m.tx, &c.work_item_id, "work_item_id").await?;
    match update_inner(m, id, c).await {
        Ok(wire) => Ok(pb::WorkItemResponse {
            work_item: Some(wire),
        }),
        Err(e) => Err(with_current(m.tx, id, e).await),
    }
}

async fn update_inner(
    m: &mut Mutation<'_>,
    id: WorkItemId,
    c: pb::UpdateWorkItem,
) -> Result<pb::WorkItem> {
    let (before, project, derived) = load_with_derived(m.tx, &m.actor, id, Action::Edit).await?;
    let mut after = before.clone();
    if let Some(t) = c.r#type {
        after.item_type = WorkItemType::from_wire(t, "type")?;
    }
    if let Some(patch) = &c.parent_id {
        after.parent_id =
            lookup::opt_work_item_id(m.tx, patch.value.as_deref(), "parent_id").await?;
    }
    if let Some(title) = c.title.as_deref() {
        after.title = field::parse(title, "title", Title::parse)?;
    }
    if let Some(description) = c.description.as_deref() {
        after.description = field::parse(description, "description", Description::parse)?;
    }
    if let Some(status) = c.status {
        after.status = WorkItemStatus::from_wire(status, "status")?;
    }
    if let Some(priority) = c.priority {
        after.priority = Priority::from_wire(priority, "priority")?;
    }
    if let Some(points) = field::points_patch(c.story_points.as_ref(), "story_points")? {
        after.story_points = points;
    }
    if let Some(assignee) = field::string_patch(c.assignee.as_ref(), "assignee", UserId::parse)? {
        after.assignee = assignee;
    }
    if let Some(sprint) = field::string_patch(c.sprint_id.as_ref(), "sprint_id", SprintId::parse)? {
        after.sprint_id = sprint;
    }
    validate_change(m.tx, &project, &before, &after).await?;
    // An update names no place in the column: a card that changes column goes to its bottom.
    if after.status != before.status {
        after.position = bottom_of(m.tx, project.id, after.status).await?;
    }
    save(m, &before, after, c.version, derived).await
}

/// Checks every rule a changed item must satisfy.
async fn validate_change(
    conn: &mut SqliteConnection,
    project: &Project,
    before: &WorkItem,
    after: &WorkItem,
) -> Result<()> {
    if after.parent_id != before.parent_id || after.item_type != before.item_type {
        match after.parent_id {
            Some(parent) => {
                check_new_parent(conn, project.id, Some(after.id), after.item_type, parent).await?;
            }
            None => check_parent(after.item_type, None)?,
        }
    }
    if after.item_type != before.item_type {
        for child in work_item::children(&mut *conn, after.id).await? {
            check_parent(child.item_type, Some(after.item_type))?;
        }
    }
    if after.sprint_id != before.sprint_id {
        check_leaving_sprint(conn, before.sprint_id).await?;
        if let Some(s) = after.sprint_id {
            check_sprint(conn, project.id, s).await?;
        }
    }
    if after.assignee != before.assignee
        && let Some(user) = &after.assignee
    {
        check_assignee(conn, project.id, user).await?;
    }
    Ok(())
}

pub(crate) async fn move_item(
    m: &mut Mutation<'_>,
    c: pb::MoveWorkItem,
) -> Result<pb::WorkItemResponse> {
    let id = lookup::work_item_id(m.tx, &c.work_item_id, "work_item_id").await?;
    match move_inner(m, id, c).await {
        Ok(wire) => Ok(pb::WorkItemResponse {
            work_item: Some(wire),
        }),
        Err(e) => Err(with_current(m.tx, id, e).await),
    }
}

async fn move_inner(
    m: &mut Mutation<'_>,
    id: WorkItemId,
    c: pb::MoveWorkItem,
) -> Result<pb::WorkItem> {
    let (before, project, derived) = load_with_derived(m.tx, &m.actor, id, Action::Edit).await?;
    let mut after = before.clone();
    if let Some(status) = c.status {
        after.status = WorkItemStatus::from_wire(status, "status")?;
    }
    if let Some(sprint) = field::string_patch(c.sprint_id.as_ref(), "sprint_id", SprintId::parse)? {
        after.sprint_id = sprint;
    }
    let after_id = lookup::opt_work_item_id(m.tx, c.after_id.as_deref(), "after_id").await?;
    let before_id = lookup::opt_work_item_id(m.tx, c.before_id.as_deref(), "before_id").await?;
    // Positions are only comparable within one column: a card's old key may well equal the key
    // computed for its place in another column, so the new key is used as computed.
    after.position = new_position(m.tx, &after, before.status, after_id, before_id).await?;
    validate_change(m.tx, &project, &before, &after).await?;
    save(m, &before, after, c.version, derived).await
}

/// The position between the two named neighbours of the target column (`item.status`; the item
/// comes from column `from`). With one neighbour the other is the card next to it; with none the
/// card goes to the bottom.
async fn new_position(
    conn: &mut SqliteConnection,
    item: &WorkItem,
    from: WorkItemStatus,
    above: Option<WorkItemId>,
    below: Option<WorkItemId>,
) -> Result<String> {
    let mut neighbour = async |id: WorkItemId, field_name: &'static str| -> Result<String> {
        if id == item.id {
            return Err(Error::validation(
                field_name,
                "an item cannot be placed next to itself",
            ));
        }
        match work_item::get(&mut *conn, id).await {
            Ok(n) if n.project_id == item.project_id && n.status == item.status => Ok(n.position),
            Ok(_) | Err(pm_db::Error::NotFound { .. }) => Err(Error::validation(
                field_name,
                "the neighbour is not a live item of the target column",
            )),
            Err(e) => Err(e.into()),
        }
    };
    let above_pos = match above {
        Some(id) => Some(neighbour(id, "after_id").await?),
        None => None,
    };
    let below_pos = match below {
        Some(id) => Some(neighbour(id, "before_id").await?),
        None => None,
    };
    let (low, high) = match (above_pos, below_pos) {
        (Some(a), Some(b)) => {
            // The two must be neighbours: a key between non-adjacent cards could equal one of the
            // cards between them.
            let next =
                work_item::next_position(conn, item.project_id, item.status, &a, item.id).await?;
            if next.as_deref() != Some(b.as_str()) {
                return Err(Error::validation(
                    "before_id",
                    "before_id must be the card directly below after_id in the column",
                ));
            }
            (Some(a), Some(b))
        }
        (Some(a), None) => {
            let next =
                work_item::next_position(conn, item.project_id, item.status, &a, item.id).await?;
            (Some(a), next)
        }
        (None, Some(b)) => {
            let prev =
                work_item::previous_position(conn, item.project_id, item.status, &b, item.id)
                    .await?;
            (prev, Some(b))
        }
        (None, None) => {
            let last = work_item::last_position(conn, item.project_id, item.status).await?;
            // The item may itself be the last card of the column: then it stays where it is. (In
            // another column, an equal key belongs to another card.)
            if from == item.status && last.as_deref() == Some(item.position.as_str()) {
                return Ok(item.position.clone());
            }
            (last, None)
        }
    };
    position_between(low.as_deref(), high.as_deref()).ok_or_else(|| {
        Error::validation(
            "before_id",
            "after_id must be above before_id in the column",
        )
    })
}

pub(crate) async fn delete(m: &mut Mutation<'_>, c: pb::DeleteWorkItem) -> Result<pb::Deleted> {
    let id = lookup::work_item_id(m.tx, &c.work_item_id, "work_item_id").await?;
    match delete_inner(m, id, c.version).await {
        Ok(deleted) => Ok(deleted),
        Err(e) => Err(with_current(m.tx, id, e).await),
    }
}

async fn delete_inner(m: &mut Mutation<'_>, id: WorkItemId, version: i64) -> Result<pb::Deleted> {
    let (item, project) = load(m.tx, &m.actor, id, Action::Delete).await?;
    let children = work_item::count_children(m.tx, item.id).await?;
    if children > 0 {
        return Err(Error::conflict(format!(
            "the item has {children} live child item(s); delete or move them first"
        )));
    }
    check_leaving_sprint(m.tx, item.sprint_id).await?;
    // Timers running on the item stop now: their users must be able to start others.
    for running in pm_db::time_entry::running_on_item(m.tx, item.id).await? {
        crate::commands::time::stop_entry(m, &running).await?;
    }
    let blocked_before = dependency::blocked_items(m.tx, project.id).await?;
    work_item::soft_delete(m.tx, item.id, version, m.at, &m.actor.user)
        .await
        .map_err(Error::from)?;
    // Its links go with it.
    for link in dependency::list_for_item(m.tx, item.id).await? {
        dependency::soft_delete(m.tx, link.id, m.at, &m.actor.user).await?;
        m.record(
            project.id,
            EntityKind::Dependency,
            link.id.to_string(),
            ActivityAction::Deleted,
            pb::change::Change::Deleted(pb::EntityDeleted {
                entity: pb::EntityKind::Dependency.into(),
                id: link.id.to_string(),
            }),
            Vec::new(),
        );
    }
    m.record(
        project.id,
        EntityKind::WorkItem,
        item.id.to_string(),
        ActivityAction::Deleted,
        pb::change::Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::WorkItem.into(),
            id: item.id.to_string(),
        }),
        Vec::new(),
    );
    report_blocked_changes(m, project.id, &blocked_before).await?;
    Ok(pb::Deleted {
        id: item.id.to_string(),
    })
}

/// An item by id or by human key.
pub(crate) async fn find(conn: &mut SqliteConnection, id_or_key: &str) -> Result<WorkItem> {
    match field::parse(id_or_key, "work_item", WorkItemRef::parse)? {
        WorkItemRef::Id(id) => Ok(work_item::get(conn, id).await?),
        WorkItemRef::Key(key) => Ok(work_item::get_by_key(conn, &key).await?),
    }
}

pub(crate) async fn get(r: &mut Read, c: pb::GetWorkItem) -> Result<pb::WorkItemDetail> {
    let (item, _, _) = query::work_item::find_readable(&mut r.conn, &r.actor, &c.work_item)
        .await
        .map_err(hide_unreadable)?;
    let detail = query::work_item::family(&mut r.conn, item).await?;
    Ok(pb::WorkItemDetail {
        work_item: Some(pb::WorkItem::from_domain(
            &detail.item.item,
            detail.item.derived,
        )),
        ancestors: detail.ancestors.iter().map(Into::into).collect(),
        children: view::items(&detail.children),
    })
}

/// `Some(None)` for the empty string (the "none" filter), `Some(Some(v))` for a value.
fn nullable<T>(
    raw: Option<&str>,
    field_name: &'static str,
    parser: impl FnOnce(&str) -> pm_core::RuleResult<T>,
) -> Result<Option<Option<T>>> {
    match raw {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(v) => Ok(Some(Some(field::parse(v, field_name, parser)?))),
    }
}

/// The shared [`query::work_item::search`], decoded from and rendered as protobuf. A page size
/// above the maximum is clamped to it.
pub(crate) async fn list(r: &mut Read, c: pb::ListWorkItems) -> Result<pb::WorkItemList> {
    let search = query::work_item::Search {
        types: c
            .types
            .iter()
            .map(|t| WorkItemType::from_wire(*t, "types"))
            .collect::<pm_proto::Result<_>>()?,
        statuses: c
            .statuses
            .iter()
            .map(|s| WorkItemStatus::from_wire(*s, "statuses"))
            .collect::<pm_proto::Result<_>>()?,
        sprint: nullable(c.sprint_id.as_deref(), "sprint_id", SprintId::parse)?,
        assignee: nullable(c.assignee.as_deref(), "assignee", UserId::parse)?,
        parent: c.parent_id,
        blocked: None,
        text: c.text,
        cursor: Some(c.cursor),
        limit: Some(c.limit),
    };
    let page = query::work_item::search(&mut r.conn, &r.actor, &c.project_id, &search)
        .await
        .map_err(|e| {
            hide_unreadable(e)
                .in_field("project", "project_id")
                .in_field("parent", "parent_id")
        })?;
    Ok(pb::WorkItemList {
        work_items: view::items(&page.items),
        next_cursor: page.next_cursor.unwrap_or_default(),
    })
}
