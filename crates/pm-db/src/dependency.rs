//! The `dependencies` table.

use std::collections::HashSet;

use pm_core::{
    Dependency, DependencyId, DependencyType, EntityKind, ProjectId, Timestamp, UserId, WorkItemId,
};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::on_constraint;
use crate::row::{self, parse};
use crate::{Conflict, Error, Result};

const COLUMNS: &str =
    "id, project_id, blocking_id, blocked_id, type, created_at, created_by, deleted_at";

fn from_row(r: &SqliteRow) -> Result<Dependency> {
    Ok(Dependency {
        id: parse(DependencyId::parse(&row::text(r, "id")?), "id")?,
        project_id: parse(ProjectId::parse(&row::text(r, "project_id")?), "project_id")?,
        blocking_id: parse(
            WorkItemId::parse(&row::text(r, "blocking_id")?),
            "blocking_id",
        )?,
        blocked_id: parse(
            WorkItemId::parse(&row::text(r, "blocked_id")?),
            "blocked_id",
        )?,
        dep_type: parse(DependencyType::parse(&row::text(r, "type")?), "type")?,
        created_at: row::time(r, "created_at")?,
        created_by: row::user(r, "created_by")?,
        deleted_at: row::opt_time(r, "deleted_at")?,
    })
}

/// Inserts a link. `relates_to` is undirected, so its pair is stored in id order (the returned
/// dependency shows the stored order). A duplicate live link is refused by the database.
pub async fn insert(conn: &mut SqliteConnection, d: &Dependency) -> Result<Dependency> {
    let mut d = d.clone();
    if d.dep_type == DependencyType::RelatesTo
        && d.blocking_id.to_string() > d.blocked_id.to_string()
    {
        std::mem::swap(&mut d.blocking_id, &mut d.blocked_id);
    }
    sqlx::query(
        "INSERT INTO dependencies (id, project_id, blocking_id, blocked_id, type, created_at, \
         created_by, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(d.id.to_string())
    .bind(d.project_id.to_string())
    .bind(d.blocking_id.to_string())
    .bind(d.blocked_id.to_string())
    .bind(d.dep_type.as_str())
    .bind(d.created_at.as_millis())
    .bind(d.created_by.as_str())
    .bind(d.deleted_at.map(Timestamp::as_millis))
    .execute(conn)
    .await
    .map_err(|e| on_constraint(e, Conflict::DuplicateDependency, EntityKind::WorkItem))?;
    Ok(d)
}

/// A live link by id.
pub async fn get(conn: &mut SqliteConnection, id: DependencyId) -> Result<Dependency> {
    let sql = format!("SELECT {COLUMNS} FROM dependencies WHERE id = ? AND deleted_at IS NULL");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(Error::NotFound {
            entity: EntityKind::Dependency,
        })
}

/// Soft-deletes a link; the same link can then be added again.
pub async fn soft_delete(
    conn: &mut SqliteConnection,
    id: DependencyId,
    at: Timestamp,
    by: &UserId,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE dependencies SET deleted_at = ?, deleted_by = ? WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(at.as_millis())
    .bind(by.as_str())
    .bind(id.to_string())
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound {
            entity: EntityKind::Dependency,
        });
    }
    Ok(())
}

/// Live links that touch an item, in either direction, oldest first.
pub async fn list_for_item(
    conn: &mut SqliteConnection,
    item: WorkItemId,
) -> Result<Vec<Dependency>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dependencies WHERE (blocking_id = ?1 OR blocked_id = ?1) \
         AND deleted_at IS NULL ORDER BY created_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(item.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Live links of a project, oldest first.
pub async fn list_for_project(
    conn: &mut SqliteConnection,
    project: ProjectId,
) -> Result<Vec<Dependency>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dependencies WHERE project_id = ? AND deleted_at IS NULL \
         ORDER BY created_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(project.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Every live `blocks` edge of a project as `(blocking, blocked)`, for cycle detection.
pub async fn blocks_edges(
    conn: &mut SqliteConnection,
    project: ProjectId,
) -> Result<Vec<(WorkItemId, WorkItemId)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT blocking_id, blocked_id FROM dependencies WHERE project_id = ? \
         AND type = 'blocks' AND deleted_at IS NULL",
    )
    .bind(project.to_string())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(a, b)| {
            Ok((
                parse(WorkItemId::parse(&a), "blocking_id")?,
                parse(WorkItemId::parse(&b), "blocked_id")?,
            ))
        })
        .collect()
}

/// The items of a project that are blocked now: the target of a live `blocks` link from a live
/// item that is not done.
pub async fn blocked_items(
    conn: &mut SqliteConnection,
    project: ProjectId,
) -> Result<HashSet<WorkItemId>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT d.blocked_id FROM dependencies d \
         JOIN work_items b ON b.id = d.blocking_id \
         WHERE d.project_id = ? AND d.type = 'blocks' AND d.deleted_at IS NULL \
         AND b.deleted_at IS NULL AND b.status <> 'done'",
    )
    .bind(project.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|id| parse(WorkItemId::parse(id), "blocked_id"))
        .collect()
}
