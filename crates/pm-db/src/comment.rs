//! The `comments` table.

use pm_core::{Comment, CommentBody, CommentId, EntityKind, Timestamp, WorkItemId};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::on_reference;
use crate::row::{self, parse};
use crate::{Error, Result};

const COLUMNS: &str = "id, work_item_id, author, body, version, created_at, updated_at, deleted_at";

fn from_row(r: &SqliteRow) -> Result<Comment> {
    Ok(Comment {
        id: parse(CommentId::parse(&row::text(r, "id")?), "id")?,
        work_item_id: parse(
            WorkItemId::parse(&row::text(r, "work_item_id")?),
            "work_item_id",
        )?,
        author: row::user(r, "author")?,
        body: parse(CommentBody::parse(&row::text(r, "body")?), "body")?,
        version: row::int(r, "version")?,
        created_at: row::time(r, "created_at")?,
        updated_at: row::time(r, "updated_at")?,
        deleted_at: row::opt_time(r, "deleted_at")?,
    })
}

pub async fn insert(conn: &mut SqliteConnection, c: &Comment) -> Result<()> {
    sqlx::query(
        "INSERT INTO comments (id, work_item_id, author, body, version, created_at, updated_at, \
         deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(c.id.to_string())
    .bind(c.work_item_id.to_string())
    .bind(c.author.as_str())
    .bind(c.body.as_str())
    .bind(c.version)
    .bind(c.created_at.as_millis())
    .bind(c.updated_at.as_millis())
    .bind(c.deleted_at.map(Timestamp::as_millis))
    .execute(conn)
    .await
    .map_err(|e| on_reference(e, EntityKind::WorkItem))?;
    Ok(())
}

/// A live comment by id.
pub async fn get(conn: &mut SqliteConnection, id: CommentId) -> Result<Comment> {
    let sql = format!("SELECT {COLUMNS} FROM comments WHERE id = ? AND deleted_at IS NULL");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(Error::NotFound {
            entity: EntityKind::Comment,
        })
}

/// Live comments on an item, oldest first.
pub async fn list(conn: &mut SqliteConnection, item: WorkItemId) -> Result<Vec<Comment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM comments WHERE work_item_id = ? AND deleted_at IS NULL \
         ORDER BY created_at, id"
    );
    let rows = sqlx::query(&sql)
        .bind(item.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Replaces the body if the stored version is still `expected_version`.
pub async fn update(
    conn: &mut SqliteConnection,
    c: &Comment,
    expected_version: i64,
) -> Result<Comment> {
    let done = sqlx::query(
        "UPDATE comments SET body = ?, updated_at = ?, version = version + 1 \
         WHERE id = ? AND version = ? AND deleted_at IS NULL",
    )
    .bind(c.body.as_str())
    .bind(c.updated_at.as_millis())
    .bind(c.id.to_string())
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(row::stale_or_missing(
            conn,
            "comments",
            &c.id.to_string(),
            EntityKind::Comment,
        )
        .await);
    }
    get(conn, c.id).await
}

/// Soft-deletes a comment if its version is still `expected_version`.
pub async fn soft_delete(
    conn: &mut SqliteConnection,
    id: CommentId,
    expected_version: i64,
    at: Timestamp,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE comments SET deleted_at = ?, updated_at = ?, version = version + 1 \
         WHERE id = ? AND version = ? AND deleted_at IS NULL",
    )
    .bind(at.as_millis())
    .bind(at.as_millis())
    .bind(id.to_string())
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(
            row::stale_or_missing(conn, "comments", &id.to_string(), EntityKind::Comment).await,
        );
    }
    Ok(())
}
