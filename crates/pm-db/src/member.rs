//! The `project_members` table.

use pm_core::{EntityKind, ProjectId, ProjectMember, ProjectRole, UserId};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::on_constraint;
use crate::row::{self, parse};
use crate::{Conflict, Error, Result};

const COLUMNS: &str =
    "project_id, user_id, role, version, created_at, created_by, updated_at, updated_by";

fn from_row(r: &SqliteRow) -> Result<ProjectMember> {
    Ok(ProjectMember {
        project_id: parse(ProjectId::parse(&row::text(r, "project_id")?), "project_id")?,
        user_id: row::user(r, "user_id")?,
        role: parse(ProjectRole::parse(&row::text(r, "role")?), "role")?,
        version: row::int(r, "version")?,
        created_at: row::time(r, "created_at")?,
        created_by: row::user(r, "created_by")?,
        updated_at: row::time(r, "updated_at")?,
        updated_by: row::user(r, "updated_by")?,
    })
}

pub async fn insert(conn: &mut SqliteConnection, m: &ProjectMember) -> Result<()> {
    sqlx::query(
        "INSERT INTO project_members (project_id, user_id, role, version, created_at, created_by, \
         updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(m.project_id.to_string())
    .bind(m.user_id.as_str())
    .bind(m.role.as_str())
    .bind(m.version)
    .bind(m.created_at.as_millis())
    .bind(m.created_by.as_str())
    .bind(m.updated_at.as_millis())
    .bind(m.updated_by.as_str())
    .execute(conn)
    .await
    .map_err(|e| on_constraint(e, Conflict::AlreadyMember, EntityKind::Project))?;
    Ok(())
}

/// The membership of `user` in `project`, if any.
pub async fn find(
    conn: &mut SqliteConnection,
    project: ProjectId,
    user: &UserId,
) -> Result<Option<ProjectMember>> {
    let sql = format!("SELECT {COLUMNS} FROM project_members WHERE project_id = ? AND user_id = ?");
    let row = sqlx::query(&sql)
        .bind(project.to_string())
        .bind(user.as_str())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get(
    conn: &mut SqliteConnection,
    project: ProjectId,
    user: &UserId,
) -> Result<ProjectMember> {
    find(conn, project, user).await?.ok_or(Error::NotFound {
        entity: EntityKind::Member,
    })
}

/// Members of a project, ordered by user id.
pub async fn list(conn: &mut SqliteConnection, project: ProjectId) -> Result<Vec<ProjectMember>> {
    let sql =
        format!("SELECT {COLUMNS} FROM project_members WHERE project_id = ? ORDER BY user_id");
    let rows = sqlx::query(&sql)
        .bind(project.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The projects `user` is a member of (live or deleted), for filtering tenant-wide reads.
pub async fn projects_of(conn: &mut SqliteConnection, user: &UserId) -> Result<Vec<ProjectId>> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT project_id FROM project_members WHERE user_id = ?")
            .bind(user.as_str())
            .fetch_all(conn)
            .await?;
    ids.iter()
        .map(|id| parse(ProjectId::parse(id), "project_id"))
        .collect()
}

/// How many admins the project has.
pub async fn count_admins(conn: &mut SqliteConnection, project: ProjectId) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM project_members WHERE project_id = ? AND role = 'admin'",
    )
    .bind(project.to_string())
    .fetch_one(conn)
    .await?)
}

/// Changes a member's role if the membership's version is still `expected_version`.
pub async fn update_role(
    conn: &mut SqliteConnection,
    m: &ProjectMember,
    expected_version: i64,
) -> Result<ProjectMember> {
    let done = sqlx::query(
        "UPDATE project_members SET role = ?, updated_at = ?, updated_by = ?, version = version + 1 \
         WHERE project_id = ? AND user_id = ? AND version = ?",
    )
    .bind(m.role.as_str())
    .bind(m.updated_at.as_millis())
    .bind(m.updated_by.as_str())
    .bind(m.project_id.to_string())
    .bind(m.user_id.as_str())
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        let current = find(conn, m.project_id, &m.user_id).await?;
        return Err(match current {
            Some(current) => Error::Conflict(Conflict::StaleVersion {
                entity: EntityKind::Member,
                current_version: current.version,
            }),
            None => Error::NotFound {
                entity: EntityKind::Member,
            },
        });
    }
    get(conn, m.project_id, &m.user_id).await
}

/// Removes a membership (memberships have no history of their own; the activity log keeps it).
pub async fn remove(conn: &mut SqliteConnection, project: ProjectId, user: &UserId) -> Result<()> {
    let done = sqlx::query("DELETE FROM project_members WHERE project_id = ? AND user_id = ?")
        .bind(project.to_string())
        .bind(user.as_str())
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound {
            entity: EntityKind::Member,
        });
    }
    Ok(())
}
