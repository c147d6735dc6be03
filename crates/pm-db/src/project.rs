//! The `projects` table.

use std::sync::LazyLock;

use pm_core::{
    Description, EntityKind, Project, ProjectId, ProjectKey, ProjectRole, ProjectStatus, Timestamp,
    Title, UserId, WorkItemStatus,
};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::on_constraint;
use crate::row::{self, parse};
use crate::{Conflict, Error, Result};

const COLUMNS: &str = "id, key, title, description, status, next_item_number, version, \
    created_at, created_by, updated_at, updated_by, deleted_at";

fn from_row(r: &SqliteRow) -> Result<Project> {
    Ok(Project {
        id: parse(ProjectId::parse(&row::text(r, "id")?), "id")?,
        key: parse(ProjectKey::parse(&row::text(r, "key")?), "key")?,
        title: parse(Title::parse(&row::text(r, "title")?), "title")?,
        description: parse(
            Description::parse(&row::text(r, "description")?),
            "description",
        )?,
        status: parse(ProjectStatus::parse(&row::text(r, "status")?), "status")?,
        next_item_number: row::int(r, "next_item_number")?,
        version: row::int(r, "version")?,
        created_at: row::time(r, "created_at")?,
        created_by: row::user(r, "created_by")?,
        updated_at: row::time(r, "updated_at")?,
        updated_by: row::user(r, "updated_by")?,
        deleted_at: row::opt_time(r, "deleted_at")?,
    })
}

pub async fn insert(conn: &mut SqliteConnection, p: &Project) -> Result<()> {
    sqlx::query(
        "INSERT INTO projects (id, key, title, description, status, next_item_number, version, \
         created_at, created_by, updated_at, updated_by, deleted_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(p.id.to_string())
    .bind(p.key.as_str())
    .bind(p.title.as_str())
    .bind(p.description.as_str())
    .bind(p.status.as_str())
    .bind(p.next_item_number)
    .bind(p.version)
    .bind(p.created_at.as_millis())
    .bind(p.created_by.as_str())
    .bind(p.updated_at.as_millis())
    .bind(p.updated_by.as_str())
    .bind(p.deleted_at.map(Timestamp::as_millis))
    .execute(conn)
    .await
    .map_err(|e| on_constraint(e, Conflict::ProjectKeyTaken, EntityKind::Project))?;
    Ok(())
}

/// A live project by id.
pub async fn get(conn: &mut SqliteConnection, id: ProjectId) -> Result<Project> {
    let sql = format!("SELECT {COLUMNS} FROM projects WHERE id = ? AND deleted_at IS NULL");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(Error::NotFound {
            entity: EntityKind::Project,
        })
}

/// Project rows with the role of the user bound first as `member_role`.
pub(crate) static SELECT_WITH_ROLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS}, (SELECT m.role FROM project_members m \
         WHERE m.project_id = projects.id AND m.user_id = ?) AS member_role FROM projects"
    )
});

pub(crate) fn with_role_from_row(r: &SqliteRow) -> Result<(Project, Option<ProjectRole>)> {
    let role = row::opt_text(r, "member_role")?
        .map(|role| parse(ProjectRole::parse(&role), "role"))
        .transpose()?;
    Ok((from_row(r)?, role))
}

/// A live project by id with the role `user` holds in it as a member (none when not a member):
/// what an access check needs, in one statement.
pub async fn get_with_role(
    conn: &mut SqliteConnection,
    id: ProjectId,
    user: &UserId,
) -> Result<(Project, Option<ProjectRole>)> {
    let sql = format!("{} WHERE id = ? AND deleted_at IS NULL", *SELECT_WITH_ROLE);
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or(Error::NotFound {
            entity: EntityKind::Project,
        })?;
    with_role_from_row(&row)
}

/// A live project by its key.
pub async fn get_by_key(conn: &mut SqliteConnection, key: &ProjectKey) -> Result<Project> {
    let sql = format!("SELECT {COLUMNS} FROM projects WHERE key = ? AND deleted_at IS NULL");
    let row = sqlx::query(&sql)
        .bind(key.as_str())
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(Error::NotFound {
            entity: EntityKind::Project,
        })
}

/// Live projects ordered by key. With `member`, only projects that user belongs to.
pub async fn list(
    conn: &mut SqliteConnection,
    member: Option<&UserId>,
    include_archived: bool,
) -> Result<Vec<Project>> {
    let archived = if include_archived {
        ""
    } else {
        " AND status = 'active'"
    };
    let rows = match member {
        Some(user) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM projects WHERE deleted_at IS NULL{archived} AND id IN \
                 (SELECT project_id FROM project_members WHERE user_id = ?) ORDER BY key"
            );
            sqlx::query(&sql)
                .bind(user.as_str())
                .fetch_all(conn)
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM projects WHERE deleted_at IS NULL{archived} ORDER BY key"
            );
            sqlx::query(&sql).fetch_all(conn).await?
        }
    };
    rows.iter().map(from_row).collect()
}

/// Writes the mutable fields of `p` (key, title, description, status, updated_at/by) if the stored
/// version is still `expected_version`, and returns the stored result (version + 1).
pub async fn update(
    conn: &mut SqliteConnection,
    p: &Project,
    expected_version: i64,
) -> Result<Project> {
    let done = sqlx::query(
        "UPDATE projects SET key = ?, title = ?, description = ?, status = ?, updated_at = ?, \
         updated_by = ?, version = version + 1 \
         WHERE id = ? AND version = ? AND deleted_at IS NULL",
    )
    .bind(p.key.as_str())
    .bind(p.title.as_str())
    .bind(p.description.as_str())
    .bind(p.status.as_str())
    .bind(p.updated_at.as_millis())
    .bind(p.updated_by.as_str())
    .bind(p.id.to_string())
    .bind(expected_version)
    .execute(&mut *conn)
    .await
    .map_err(|e| on_constraint(e, Conflict::ProjectKeyTaken, EntityKind::Project))?;
    if done.rows_affected() == 0 {
        return Err(row::stale_or_missing(
            conn,
            "projects",
            &p.id.to_string(),
            EntityKind::Project,
        )
        .await);
    }
    get(conn, p.id).await
}

/// Soft-deletes a project if its version is still `expected_version`. Its key becomes free.
pub async fn soft_delete(
    conn: &mut SqliteConnection,
    id: ProjectId,
    expected_version: i64,
    at: Timestamp,
    by: &UserId,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE projects SET deleted_at = ?, updated_at = ?, updated_by = ?, version = version + 1 \
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
            row::stale_or_missing(conn, "projects", &id.to_string(), EntityKind::Project).await,
        );
    }
    Ok(())
}

/// Takes the project's next item number, and reads the last position in board column `column`
/// (where a new card goes) with it. Must run inside a write transaction: the counter and the item
/// insert commit together, and the single writer serialises concurrent creates.
pub async fn allocate_item_number(
    conn: &mut SqliteConnection,
    id: ProjectId,
    column: WorkItemStatus,
) -> Result<(i64, Option<String>)> {
    sqlx::query_as::<_, (i64, Option<String>)>(
        "UPDATE projects SET next_item_number = next_item_number + 1 \
         WHERE id = ? AND deleted_at IS NULL RETURNING next_item_number - 1, \
         (SELECT MAX(position) FROM work_items WHERE project_id = projects.id AND status = ? \
         AND deleted_at IS NULL)",
    )
    .bind(id.to_string())
    .bind(column.as_str())
    .fetch_optional(conn)
    .await?
    .ok_or(Error::NotFound {
        entity: EntityKind::Project,
    })
}
