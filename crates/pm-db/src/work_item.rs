//! The `work_items` table.

use std::sync::LazyLock;

use pm_core::{
    Description, EntityKind, ItemKey, Priority, Project, ProjectId, ProjectKey, ProjectRole,
    SprintId, StoryPoints, Timestamp, Title, UserId, WorkItem, WorkItemId, WorkItemStatus,
    WorkItemType,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::error::on_reference;
use crate::row::{self, parse};
use crate::{Error, Result};

/// Selected with the project's key joined in, so every item carries its human key.
const SELECT: &str = "SELECT w.id, w.project_id, p.key AS project_key, w.item_number, w.type, \
    w.parent_id, w.title, w.description, w.status, w.priority, w.story_points, w.assignee, \
    w.sprint_id, w.position, w.version, w.created_at, w.created_by, w.updated_at, w.updated_by, \
    w.deleted_at FROM work_items w JOIN projects p ON p.id = w.project_id";

fn from_row(r: &SqliteRow) -> Result<WorkItem> {
    let story_points = row::opt_int(r, "story_points")?
        .map(|p| parse(StoryPoints::new(p), "story_points"))
        .transpose()?;
    Ok(WorkItem {
        id: parse(WorkItemId::parse(&row::text(r, "id")?), "id")?,
        project_id: parse(ProjectId::parse(&row::text(r, "project_id")?), "project_id")?,
        key: ItemKey {
            project: parse(ProjectKey::parse(&row::text(r, "project_key")?), "key")?,
            number: row::int(r, "item_number")?,
        },
        item_type: parse(WorkItemType::parse(&row::text(r, "type")?), "type")?,
        parent_id: row::opt_text(r, "parent_id")?
            .map(|p| parse(WorkItemId::parse(&p), "parent_id"))
            .transpose()?,
        title: parse(Title::parse(&row::text(r, "title")?), "title")?,
        description: parse(
            Description::parse(&row::text(r, "description")?),
            "description",
        )?,
        status: parse(WorkItemStatus::parse(&row::text(r, "status")?), "status")?,
        priority: parse(Priority::parse(&row::text(r, "priority")?), "priority")?,
        story_points,
        assignee: row::opt_user(r, "assignee")?,
        sprint_id: row::opt_text(r, "sprint_id")?
            .map(|s| parse(SprintId::parse(&s), "sprint_id"))
            .transpose()?,
        position: row::text(r, "position")?,
        version: row::int(r, "version")?,
        created_at: row::time(r, "created_at")?,
        created_by: row::user(r, "created_by")?,
        updated_at: row::time(r, "updated_at")?,
        updated_by: row::user(r, "updated_by")?,
        deleted_at: row::opt_time(r, "deleted_at")?,
    })
}

/// Inserts a new item. `w.key.number` must come from
/// [`crate::project::allocate_item_number`] in the same transaction.
pub async fn insert(conn: &mut SqliteConnection, w: &WorkItem) -> Result<()> {
    sqlx::query(
        "INSERT INTO work_items (id, project_id, item_number, type, parent_id, title, description, \
         status, priority, story_points, assignee, sprint_id, position, version, created_at, \
         created_by, updated_at, updated_by, deleted_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(w.id.to_string())
    .bind(w.project_id.to_string())
    .bind(w.key.number)
    .bind(w.item_type.as_str())
    .bind(w.parent_id.map(|p| p.to_string()))
    .bind(w.title.as_str())
    .bind(w.description.as_str())
    .bind(w.status.as_str())
    .bind(w.priority.as_str())
    .bind(w.story_points.map(|p| i64::from(p.get())))
    .bind(w.assignee.as_ref().map(UserId::as_str))
    .bind(w.sprint_id.map(|s| s.to_string()))
    .bind(&w.position)
    .bind(w.version)
    .bind(w.created_at.as_millis())
    .bind(w.created_by.as_str())
    .bind(w.updated_at.as_millis())
    .bind(w.updated_by.as_str())
    .bind(w.deleted_at.map(Timestamp::as_millis))
    .execute(conn)
    .await
    .map_err(|e| on_reference(e, EntityKind::WorkItem))?;
    Ok(())
}

/// A live work item by id.
pub async fn get(conn: &mut SqliteConnection, id: WorkItemId) -> Result<WorkItem> {
    let sql = format!("{SELECT} WHERE w.id = ? AND w.deleted_at IS NULL");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(Error::NotFound {
            entity: EntityKind::WorkItem,
        })
}

/// A live work item by its human key (`WEB-42`), in a live project.
pub async fn get_by_key(conn: &mut SqliteConnection, key: &ItemKey) -> Result<WorkItem> {
    let sql = format!(
        "{SELECT} WHERE p.key = ? AND p.deleted_at IS NULL AND w.item_number = ? \
         AND w.deleted_at IS NULL"
    );
    let row = sqlx::query(&sql)
        .bind(key.project.as_str())
        .bind(key.number)
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(Error::NotFound {
            entity: EntityKind::WorkItem,
        })
}

/// Which items to list. `Some(None)` in a nullable filter selects items where the field is empty
/// (no sprint, unassigned, top level).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub types: Vec<WorkItemType>,
    pub statuses: Vec<WorkItemStatus>,
    pub sprint: Option<Option<SprintId>>,
    pub assignee: Option<Option<UserId>>,
    pub parent: Option<Option<WorkItemId>>,
    /// Case-insensitive substring of title or description.
    pub text: Option<String>,
    /// Only items numbered above this (the cursor of the previous page).
    pub after_number: Option<i64>,
    /// At most this many items.
    pub limit: Option<u32>,
}

/// Live items of a project matching `filter`, in item-number order (stable for paging: new items
/// get higher numbers, so a cursor never skips or repeats an item).
pub async fn list(
    conn: &mut SqliteConnection,
    project: ProjectId,
    filter: &Filter,
) -> Result<Vec<WorkItem>> {
    let mut q = QueryBuilder::<Sqlite>::new(SELECT);
    q.push(" WHERE w.project_id = ")
        .push_bind(project.to_string())
        .push(" AND w.deleted_at IS NULL");
    if !filter.types.is_empty() {
        q.push(" AND w.type IN (");
        let mut sep = q.separated(", ");
        for t in &filter.types {
            sep.push_bind(t.as_str());
        }
        q.push(")");
    }
    if !filter.statuses.is_empty() {
        q.push(" AND w.status IN (");
        let mut sep = q.separated(", ");
        for s in &filter.statuses {
            sep.push_bind(s.as_str());
        }
        q.push(")");
    }
    push_nullable(
        &mut q,
        "w.sprint_id",
        filter.sprint.map(|s| s.map(|s| s.to_string())),
    );
    push_nullable(
        &mut q,
        "w.assignee",
        filter
            .assignee
            .as_ref()
            .map(|a| a.as_ref().map(|a| a.as_str().to_owned())),
    );
    push_nullable(
        &mut q,
        "w.parent_id",
        filter.parent.map(|p| p.map(|p| p.to_string())),
    );
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", escape_like(text));
        q.push(" AND (w.title LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR w.description LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
    if let Some(after) = filter.after_number {
        q.push(" AND w.item_number > ").push_bind(after);
    }
    q.push(" ORDER BY w.item_number");
    if let Some(limit) = filter.limit {
        q.push(" LIMIT ").push_bind(i64::from(limit));
    }
    let rows = q.build().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

fn push_nullable(q: &mut QueryBuilder<'_, Sqlite>, column: &str, filter: Option<Option<String>>) {
    match filter {
        None => {}
        Some(None) => {
            q.push(format!(" AND {column} IS NULL"));
        }
        Some(Some(value)) => {
            q.push(format!(" AND {column} = ")).push_bind(value);
        }
    }
}

/// Escapes LIKE's wildcards so user text matches literally.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Live children of an item, in number order.
pub async fn children(conn: &mut SqliteConnection, parent: WorkItemId) -> Result<Vec<WorkItem>> {
    let sql =
        format!("{SELECT} WHERE w.parent_id = ? AND w.deleted_at IS NULL ORDER BY w.item_number");
    let rows = sqlx::query(&sql)
        .bind(parent.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// How many live children an item has.
pub async fn count_children(conn: &mut SqliteConnection, parent: WorkItemId) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM work_items WHERE parent_id = ? AND deleted_at IS NULL",
    )
    .bind(parent.to_string())
    .fetch_one(conn)
    .await?)
}

/// The ancestors of an item, nearest first.
pub async fn ancestors(conn: &mut SqliteConnection, item: &WorkItem) -> Result<Vec<WorkItem>> {
    let mut chain = Vec::new();
    let mut next = item.parent_id;
    // The hierarchy has three levels; the bound also protects against corrupt cyclic data.
    while let Some(id) = next {
        if chain.len() >= 8 {
            return Err(Error::Corrupt {
                column: "parent_id",
            });
        }
        let parent = get(&mut *conn, id).await?;
        next = parent.parent_id;
        chain.push(parent);
    }
    Ok(chain)
}

/// How many live items a project has.
pub async fn count_in_project(conn: &mut SqliteConnection, project: ProjectId) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM work_items WHERE project_id = ? AND deleted_at IS NULL",
    )
    .bind(project.to_string())
    .fetch_one(conn)
    .await?)
}

/// The highest position in a board column, for appending a card at the bottom.
pub async fn last_position(
    conn: &mut SqliteConnection,
    project: ProjectId,
    status: WorkItemStatus,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(position) FROM work_items WHERE project_id = ? AND status = ? \
         AND deleted_at IS NULL",
    )
    .bind(project.to_string())
    .bind(status.as_str())
    .fetch_one(conn)
    .await?)
}

/// The lowest position in a board column, for putting a card at the top.
pub async fn first_position(
    conn: &mut SqliteConnection,
    project: ProjectId,
    status: WorkItemStatus,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(position) FROM work_items WHERE project_id = ? AND status = ? \
         AND deleted_at IS NULL",
    )
    .bind(project.to_string())
    .bind(status.as_str())
    .fetch_one(conn)
    .await?)
}

/// The position of the card directly after `position` in a column (excluding `except`).
pub async fn next_position(
    conn: &mut SqliteConnection,
    project: ProjectId,
    status: WorkItemStatus,
    position: &str,
    except: WorkItemId,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(position) FROM work_items WHERE project_id = ? AND status = ? \
         AND deleted_at IS NULL AND position > ? AND id <> ?",
    )
    .bind(project.to_string())
    .bind(status.as_str())
    .bind(position)
    .bind(except.to_string())
    .fetch_one(conn)
    .await?)
}

/// The position of the card directly before `position` in a column (excluding `except`).
pub async fn previous_position(
    conn: &mut SqliteConnection,
    project: ProjectId,
    status: WorkItemStatus,
    position: &str,
    except: WorkItemId,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(position) FROM work_items WHERE project_id = ? AND status = ? \
         AND deleted_at IS NULL AND position < ? AND id <> ?",
    )
    .bind(project.to_string())
    .bind(status.as_str())
    .bind(position)
    .bind(except.to_string())
    .fetch_one(conn)
    .await?)
}

/// Live items planned in a sprint, in board order.
pub async fn in_sprint(conn: &mut SqliteConnection, sprint: SprintId) -> Result<Vec<WorkItem>> {
    let sql = format!(
        "{SELECT} WHERE w.sprint_id = ? AND w.deleted_at IS NULL ORDER BY w.status, w.position"
    );
    let rows = sqlx::query(&sql)
        .bind(sprint.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Writes every mutable field of `w` if the stored version is still `expected_version`, and
/// returns the stored result (version + 1).
pub async fn update(
    conn: &mut SqliteConnection,
    w: &WorkItem,
    expected_version: i64,
) -> Result<WorkItem> {
    let done = sqlx::query(
        "UPDATE work_items SET type = ?, parent_id = ?, title = ?, description = ?, status = ?, \
         priority = ?, story_points = ?, assignee = ?, sprint_id = ?, position = ?, \
         updated_at = ?, updated_by = ?, version = version + 1 \
         WHERE id = ? AND version = ? AND deleted_at IS NULL",
    )
    .bind(w.item_type.as_str())
    .bind(w.parent_id.map(|p| p.to_string()))
    .bind(w.title.as_str())
    .bind(w.description.as_str())
    .bind(w.status.as_str())
    .bind(w.priority.as_str())
    .bind(w.story_points.map(|p| i64::from(p.get())))
    .bind(w.assignee.as_ref().map(UserId::as_str))
    .bind(w.sprint_id.map(|s| s.to_string()))
    .bind(&w.position)
    .bind(w.updated_at.as_millis())
    .bind(w.updated_by.as_str())
    .bind(w.id.to_string())
    .bind(expected_version)
    .execute(&mut *conn)
    .await
    .map_err(|e| on_reference(e, EntityKind::WorkItem))?;
    if done.rows_affected() == 0 {
        return Err(row::stale_or_missing(
            conn,
            "work_items",
            &w.id.to_string(),
            EntityKind::WorkItem,
        )
        .await);
    }
    // What was written is what is stored now: no need to read it back.
    Ok(WorkItem {
        version: expected_version + 1,
        ..w.clone()
    })
}

/// Soft-deletes an item if its version is still `expected_version`.
pub async fn soft_delete(
    conn: &mut SqliteConnection,
    id: WorkItemId,
    expected_version: i64,
    at: Timestamp,
    by: &UserId,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE work_items SET deleted_at = ?, updated_at = ?, updated_by = ?, \
         version = version + 1 WHERE id = ? AND version = ? AND deleted_at IS NULL",
    )
    .bind(at.as_millis())
    .bind(at.as_millis())
    .bind(by.as_str())
    .bind(id.to_string())
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(row::stale_or_missing(
            conn,
            "work_items",
            &id.to_string(),
            EntityKind::WorkItem,
        )
        .await);
    }
    Ok(())
}

/// Total milliseconds of finished, live time entries per item of a project.
pub async fn logged_ms(conn: &mut SqliteConnection, item: WorkItemId) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(SUM(duration_ms), 0) FROM time_entries \
         WHERE work_item_id = ? AND deleted_at IS NULL AND ended_at IS NOT NULL",
    )
    .bind(item.to_string())
    .fetch_one(conn)
    .await?)
}

/// A live work item with its derived fields, and its live project with the role a user holds
/// in it: what a command on an item reads before anything else.
#[derive(Debug, Clone)]
pub struct ItemAccess {
    pub item: WorkItem,
    /// See [`derived`].
    pub blocked: bool,
    pub logged_ms: i64,
    pub project: Project,
    pub member_role: Option<ProjectRole>,
}

/// Reads an [`ItemAccess`] in one round trip (two statements of one query).
pub async fn get_with_access(
    conn: &mut SqliteConnection,
    id: WorkItemId,
    user: &UserId,
) -> Result<ItemAccess> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let select = SELECT.replacen(
            " FROM work_items w",
            &format!(", {DERIVED} FROM work_items w"),
            1,
        );
        format!(
            "{select} WHERE w.id = ? AND w.deleted_at IS NULL;\n\
             {} WHERE id = (SELECT project_id FROM work_items WHERE id = ? \
             AND deleted_at IS NULL) AND deleted_at IS NULL",
            *crate::project::SELECT_WITH_ROLE
        )
    });
    let id = id.to_string();
    let rows = sqlx::query(&SQL)
        .bind(&id)
        .bind(user.as_str())
        .bind(&id)
        .fetch_all(conn)
        .await?;
    // The item's row comes first; without it there is no project row either.
    let [item, project] = &rows[..] else {
        return Err(Error::NotFound {
            entity: if rows.is_empty() {
                EntityKind::WorkItem
            } else {
                EntityKind::Project
            },
        });
    };
    let (project, member_role) = crate::project::with_role_from_row(project)?;
    Ok(ItemAccess {
        item: from_row(item)?,
        blocked: row::int(item, "blocked")? != 0,
        logged_ms: row::int(item, "logged_ms")?,
        project,
        member_role,
    })
}

/// The derived fields of the item `w` as two columns, `blocked` and `logged_ms`.
const DERIVED: &str = "EXISTS (SELECT 1 FROM dependencies d JOIN work_items b \
    ON b.id = d.blocking_id WHERE d.blocked_id = w.id AND d.type = 'blocks' \
    AND d.deleted_at IS NULL AND b.deleted_at IS NULL AND b.status <> 'done') AS blocked, \
    (SELECT COALESCE(SUM(duration_ms), 0) FROM time_entries t WHERE t.work_item_id = w.id \
    AND t.deleted_at IS NULL AND t.ended_at IS NOT NULL) AS logged_ms";

/// Whether a live item blocks the item (a live `blocks` link from an item that is not done), and
/// the item's logged time: its derived fields, in one statement.
pub async fn derived(conn: &mut SqliteConnection, item: WorkItemId) -> Result<(bool, i64)> {
    let id = item.to_string();
    Ok(sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM dependencies d JOIN work_items b ON b.id = d.blocking_id \
         WHERE d.blocked_id = ?1 AND d.type = 'blocks' AND d.deleted_at IS NULL \
         AND b.deleted_at IS NULL AND b.status <> 'done'), \
         (SELECT COALESCE(SUM(duration_ms), 0) FROM time_entries \
         WHERE work_item_id = ?1 AND deleted_at IS NULL AND ended_at IS NOT NULL)",
    )
    .bind(id)
    .fetch_one(conn)
    .await?)
}

/// Total milliseconds of finished, live time entries of every item of a project that has any.
pub async fn logged_ms_by_item(
    conn: &mut SqliteConnection,
    project: ProjectId,
) -> Result<std::collections::HashMap<WorkItemId, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT t.work_item_id, SUM(t.duration_ms) FROM time_entries t \
         JOIN work_items w ON w.id = t.work_item_id \
         WHERE w.project_id = ? AND t.deleted_at IS NULL AND t.ended_at IS NOT NULL \
         GROUP BY t.work_item_id",
    )
    .bind(project.to_string())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(id, total)| Ok((parse(WorkItemId::parse(&id), "work_item_id")?, total)))
        .collect()
}

/// The number of live items of a project in each status (statuses without items left out).
pub async fn count_by_status(
    conn: &mut SqliteConnection,
    project: ProjectId,
) -> Result<Vec<(WorkItemStatus, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, COUNT(*) FROM work_items WHERE project_id = ? AND deleted_at IS NULL \
         GROUP BY status",
    )
    .bind(project.to_string())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(status, n)| Ok((parse(WorkItemStatus::parse(&status), "status")?, n)))
        .collect()
}

/// Counts and story points of the live items of each sprint of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SprintCounts {
    pub items: i64,
    pub done_items: i64,
    pub points: i64,
    pub done_points: i64,
}

/// [`SprintCounts`] of every sprint of `project` that has live items, computed by SQLite.
pub async fn counts_by_sprint(
    conn: &mut SqliteConnection,
    project: ProjectId,
) -> Result<std::collections::HashMap<SprintId, SprintCounts>> {
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT sprint_id, COUNT(*), \
         COALESCE(SUM(status = ?2), 0), \
         COALESCE(SUM(story_points), 0), \
         COALESCE(SUM(CASE WHEN status = ?2 THEN story_points END), 0) \
         FROM work_items WHERE project_id = ?1 AND deleted_at IS NULL AND sprint_id IS NOT NULL \
         GROUP BY sprint_id",
    )
    .bind(project.to_string())
    .bind(WorkItemStatus::Done.as_str())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(sprint, items, done_items, points, done_points)| {
            Ok((
                parse(SprintId::parse(&sprint), "sprint_id")?,
                SprintCounts {
                    items,
                    done_items,
                    points,
                    done_points,
                },
            ))
        })
        .collect()
}

/// The `limit` live items of a project in `statuses` changed most recently, newest first.
pub async fn recently_updated(
    conn: &mut SqliteConnection,
    project: ProjectId,
    statuses: &[WorkItemStatus],
    limit: u32,
) -> Result<Vec<WorkItem>> {
    let mut q = QueryBuilder::<Sqlite>::new(SELECT);
    q.push(" WHERE w.project_id = ")
        .push_bind(project.to_string())
        .push(" AND w.deleted_at IS NULL AND w.status IN (");
    let mut sep = q.separated(", ");
    for s in statuses {
        sep.push_bind(s.as_str());
    }
    q.push(") ORDER BY w.updated_at DESC, w.item_number DESC LIMIT ")
        .push_bind(i64::from(limit));
    let rows = q.build().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}
