//! The `sprints` table.

use pm_core::{
    EntityKind, ProjectId, Sprint, SprintGoal, SprintId, SprintName, SprintStatus, Timestamp,
    UserId,
};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::on_constraint;
use crate::row::{self, parse};
use crate::{Conflict, Error, Result};

const COLUMNS: &str = "id, project_id, name, goal, starts_at, ends_at, status, version, \
    created_at, created_by, updated_at, updated_by, deleted_at";

fn from_row(r: &SqliteRow) -> Result<Sprint> {
    Ok(Sprint {
        id: parse(SprintId::parse(&row::text(r, "id")?), "id")?,
        project_id: parse(ProjectId::parse(&row::text(r, "project_id")?), "project_id")?,
        name: parse(SprintName::parse(&row::text(r, "name")?), "name")?,
        goal: parse(SprintGoal::parse(&row::text(r, "goal")?), "goal")?,
        starts_at: row::opt_time(r, "starts_at")?,
        ends_at: row::opt_time(r, "ends_at")?,
        status: parse(SprintStatus::parse(&row::text(r, "status")?), "status")?,
        version: row::int(r, "version")?,
        created_at: row::time(r, "created_at")?,
        created_by: row::user(r, "created_by")?,
        updated_at: row::time(r, "updated_at")?,
        updated_by: row::user(r, "updated_by")?,
        deleted_at: row::opt_time(r, "deleted_at")?,
    })
}

pub async fn insert(conn: &mut SqliteConnection, s: &Sprint) -> Result<()> {
    sqlx::query(
        "INSERT INTO sprints (id, project_id, name, goal, starts_at, ends_at, status, version, \
         created_at, created_by, updated_at, updated_by, deleted_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(s.id.to_string())
    .bind(s.project_id.to_string())
    .bind(s.name.as_str())
    .bind(s.goal.as_str())
    .bind(s.starts_at.map(Timestamp::as_millis))
    .bind(s.ends_at.map(Timestamp::as_millis))
    .bind(s.status.as_str())
    .bind(s.version)
    .bind(s.created_at.as_millis())
    .bind(s.created_by.as_str())
    .bind(s.updated_at.as_millis())
    .bind(s.updated_by.as_str())
    .bind(s.deleted_at.map(Timestamp::as_millis))
    .execute(conn)
    .await
    .map_err(|e| on_constraint(e, Conflict::ActiveSprintExists, EntityKind::Project))?;
    Ok(())
}

/// A live sprint by id.
pub async fn get(conn: &mut SqliteConnection, id: SprintId) -> Result<Sprint> {
    let sql = format!("SELECT {COLUMNS} FROM sprints WHERE id = ? AND deleted_at IS NULL");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(Error::NotFound {
            entity: EntityKind::Sprint,
        })
}

/// A project's live sprints, oldest first.
pub async fn list(conn: &mut SqliteConnection, project: ProjectId) -> Result<Vec<Sprint>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sprints WHERE project_id = ? AND deleted_at IS NULL \
         ORDER BY created_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(project.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The project's active sprint, if it has one.
pub async fn active(conn: &mut SqliteConnection, project: ProjectId) -> Result<Option<Sprint>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sprints WHERE project_id = ? AND status = 'active' \
         AND deleted_at IS NULL"
    );
    let row = sqlx::query(&sql)
        .bind(project.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Writes the mutable fields of `s` if the stored version is still `expected_version`. Making a
/// second sprint of a project active fails with [`Conflict::ActiveSprintExists`].
pub async fn update(
    conn: &mut SqliteConnection,
    s: &Sprint,
    expected_version: i64,
) -> Result<Sprint> {
    let done = sqlx::query(
        "UPDATE sprints SET name = ?, goal = ?, starts_at = ?, ends_at = ?, status = ?, \
         updated_at = ?, updated_by = ?, version = version + 1 \
         WHERE id = ? AND version = ? AND deleted_at IS NULL",
    )
    .bind(s.name.as_str())
    .bind(s.goal.as_str())
    .bind(s.starts_at.map(Timestamp::as_millis))
    .bind(s.ends_at.map(Timestamp::as_millis))
    .bind(s.status.as_str())
    .bind(s.updated_at.as_millis())
    .bind(s.updated_by.as_str())
    .bind(s.id.to_string())
    .bind(expected_version)
    .execute(&mut *conn)
    .await
    .map_err(|e| on_constraint(e, Conflict::ActiveSprintExists, EntityKind::Sprint))?;
    if done.rows_affected() == 0 {
        return Err(
            row::stale_or_missing(conn, "sprints", &s.id.to_string(), EntityKind::Sprint).await,
        );
    }
    get(conn, s.id).await
}

/// Soft-deletes a sprint if its version is still `expected_version`.
pub async fn soft_delete(
    conn: &mut SqliteConnection,
    id: SprintId,
    expected_version: i64,
    at: Timestamp,
    by: &UserId,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE sprints SET deleted_at = ?, updated_at = ?, updated_by = ?, version = version + 1 \
         WHERE id = ? AND version = ? AND deleted_at IS NULL",
    )
    .bind(at.as_millis())
    .bind(at.as_millis())
    .bind(by.as_str())
    .bind(id.to_string())
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(
            row::stale_or_missing(conn, "sprints", &id.to_string(), EntityKind::Sprint).await,
        );
    }
    Ok(())
}
