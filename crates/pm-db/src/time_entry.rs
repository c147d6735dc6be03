//! The `time_entries` table.

use pm_core::{
    EntityKind, ProjectId, TimeEntry, TimeEntryId, TimeEntryNote, Timestamp, UserId, WorkItemId,
};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::on_constraint;
use crate::row::{self, parse};
use crate::{Conflict, Error, Result};

const COLUMNS: &str = "id, work_item_id, user_id, started_at, ended_at, duration_ms, description, \
    version, created_at, updated_at, deleted_at";

fn from_row(r: &SqliteRow) -> Result<TimeEntry> {
    Ok(TimeEntry {
        id: parse(TimeEntryId::parse(&row::text(r, "id")?), "id")?,
        work_item_id: parse(
            WorkItemId::parse(&row::text(r, "work_item_id")?),
            "work_item_id",
        )?,
        user_id: row::user(r, "user_id")?,
        started_at: row::time(r, "started_at")?,
        ended_at: row::opt_time(r, "ended_at")?,
        duration_ms: row::opt_int(r, "duration_ms")?,
        description: parse(
            TimeEntryNote::parse(&row::text(r, "description")?),
            "description",
        )?,
        version: row::int(r, "version")?,
        created_at: row::time(r, "created_at")?,
        updated_at: row::time(r, "updated_at")?,
        deleted_at: row::opt_time(r, "deleted_at")?,
    })
}

/// Inserts an entry. A second running entry for the same user is refused by the database with
/// [`Conflict::TimerAlreadyRunning`].
pub async fn insert(conn: &mut SqliteConnection, t: &TimeEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO time_entries (id, work_item_id, user_id, started_at, ended_at, description, \
         version, created_at, updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(t.id.to_string())
    .bind(t.work_item_id.to_string())
    .bind(t.user_id.as_str())
    .bind(t.started_at.as_millis())
    .bind(t.ended_at.map(Timestamp::as_millis))
    .bind(t.description.as_str())
    .bind(t.version)
    .bind(t.created_at.as_millis())
    .bind(t.updated_at.as_millis())
    .bind(t.deleted_at.map(Timestamp::as_millis))
    .execute(conn)
    .await
    .map_err(|e| on_constraint(e, Conflict::TimerAlreadyRunning, EntityKind::WorkItem))?;
    Ok(())
}

/// A live entry by id.
pub async fn get(conn: &mut SqliteConnection, id: TimeEntryId) -> Result<TimeEntry> {
    let sql = format!("SELECT {COLUMNS} FROM time_entries WHERE id = ? AND deleted_at IS NULL");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(Error::NotFound {
            entity: EntityKind::TimeEntry,
        })
}

/// The user's running timer, if any.
pub async fn running_for_user(
    conn: &mut SqliteConnection,
    user: &UserId,
) -> Result<Option<TimeEntry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM time_entries WHERE user_id = ? AND ended_at IS NULL \
         AND deleted_at IS NULL"
    );
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Running timers on the items of a project.
pub async fn running_in_project(
    conn: &mut SqliteConnection,
    project: ProjectId,
) -> Result<Vec<TimeEntry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM time_entries WHERE ended_at IS NULL AND deleted_at IS NULL \
         AND work_item_id IN (SELECT id FROM work_items WHERE project_id = ? AND deleted_at IS NULL) \
         ORDER BY started_at"
    );
    let rows = sqlx::query(&sql)
        .bind(project.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Running timers on one item (of any user).
pub async fn running_on_item(
    conn: &mut SqliteConnection,
    item: WorkItemId,
) -> Result<Vec<TimeEntry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM time_entries WHERE work_item_id = ? AND ended_at IS NULL \
         AND deleted_at IS NULL ORDER BY started_at"
    );
    let rows = sqlx::query(&sql)
        .bind(item.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Live entries on an item, oldest first.
pub async fn list_for_item(
    conn: &mut SqliteConnection,
    item: WorkItemId,
) -> Result<Vec<TimeEntry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM time_entries WHERE work_item_id = ? AND deleted_at IS NULL \
         ORDER BY started_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(item.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// A user's live entries that started in `[from, to)`, oldest first.
pub async fn list_for_user(
    conn: &mut SqliteConnection,
    user: &UserId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<TimeEntry>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM time_entries WHERE user_id = ? AND started_at >= ? \
         AND started_at < ? AND deleted_at IS NULL ORDER BY started_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(from.as_millis())
        .bind(to.as_millis())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Writes start, end and description if the stored version is still `expected_version`.
pub async fn update(
    conn: &mut SqliteConnection,
    t: &TimeEntry,
    expected_version: i64,
) -> Result<TimeEntry> {
    let done = sqlx::query(
        "UPDATE time_entries SET started_at = ?, ended_at = ?, description = ?, updated_at = ?, \
         version = version + 1 WHERE id = ? AND version = ? AND deleted_at IS NULL",
    )
    .bind(t.started_at.as_millis())
    .bind(t.ended_at.map(Timestamp::as_millis))
    .bind(t.description.as_str())
    .bind(t.updated_at.as_millis())
    .bind(t.id.to_string())
    .bind(expected_version)
    .execute(&mut *conn)
    .await
    .map_err(|e| on_constraint(e, Conflict::TimerAlreadyRunning, EntityKind::WorkItem))?;
    if done.rows_affected() == 0 {
        return Err(row::stale_or_missing(
            conn,
            "time_entries",
            &t.id.to_string(),
            EntityKind::TimeEntry,
        )
        .await);
    }
    get(conn, t.id).await
}

/// Soft-deletes an entry if its version is still `expected_version`.
pub async fn soft_delete(
    conn: &mut SqliteConnection,
    id: TimeEntryId,
    expected_version: i64,
    at: Timestamp,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE time_entries SET deleted_at = ?, updated_at = ?, version = version + 1 \
         WHERE id = ? AND version = ? AND deleted_at IS NULL",
    )
    .bind(at.as_millis())
    .bind(at.as_millis())
    .bind(id.to_string())
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(row::stale_or_missing(
            conn,
            "time_entries",
            &id.to_string(),
            EntityKind::TimeEntry,
        )
        .await);
    }
    Ok(())
}

/// Finished time in a project over `[from, to)` (by start), per item and per user, each sorted by
/// descending total.
pub async fn totals(
    conn: &mut SqliteConnection,
    project: ProjectId,
    from: Timestamp,
    to: Timestamp,
) -> Result<(Vec<(WorkItemId, i64)>, Vec<(UserId, i64)>)> {
    let per_item: Vec<(String, i64)> = sqlx::query_as(
        "SELECT t.work_item_id, SUM(t.duration_ms) AS total FROM time_entries t \
         JOIN work_items w ON w.id = t.work_item_id \
         WHERE w.project_id = ? AND t.deleted_at IS NULL AND t.ended_at IS NOT NULL \
         AND t.started_at >= ? AND t.started_at < ? \
         GROUP BY t.work_item_id ORDER BY total DESC, t.work_item_id",
    )
    .bind(project.to_string())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(&mut *conn)
    .await?;
    let per_user: Vec<(String, i64)> = sqlx::query_as(
        "SELECT t.user_id, SUM(t.duration_ms) AS total FROM time_entries t \
         JOIN work_items w ON w.id = t.work_item_id \
         WHERE w.project_id = ? AND t.deleted_at IS NULL AND t.ended_at IS NOT NULL \
         AND t.started_at >= ? AND t.started_at < ? \
         GROUP BY t.user_id ORDER BY total DESC, t.user_id",
    )
    .bind(project.to_string())
    .bind(from.as_millis())
    .bind(to.as_millis())
    .fetch_all(&mut *conn)
    .await?;
    let per_item = per_item
        .into_iter()
        .map(|(id, total)| Ok((parse(WorkItemId::parse(&id), "work_item_id")?, total)))
        .collect::<Result<_>>()?;
    let per_user = per_user
        .into_iter()
        .map(|(id, total)| Ok((parse(UserId::parse(&id), "user_id")?, total)))
        .collect::<Result<_>>()?;
    Ok((per_item, per_user))
}
