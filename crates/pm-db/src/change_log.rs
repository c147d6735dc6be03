//! The `change_log` table: the tenant's gap-free sequence of committed changes.

use pm_core::{ChangeKind, EntityKind, ProjectId, RequestId, Timestamp, UserId};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::Result;
use crate::row::{self, parse};

/// A change to append. `payload` is the encoded change as the wire protocol defines it; this crate
/// stores it without looking inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    pub project_id: Option<ProjectId>,
    pub entity: EntityKind,
    pub entity_id: String,
    pub kind: ChangeKind,
    pub payload: Vec<u8>,
    pub actor: UserId,
    pub request_id: Option<RequestId>,
    pub at: Timestamp,
}

/// A committed change with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub seq: i64,
    pub change: NewChange,
}

fn from_row(r: &SqliteRow) -> Result<ChangeRecord> {
    Ok(ChangeRecord {
        seq: row::int(r, "seq")?,
        change: NewChange {
            project_id: row::opt_text(r, "project_id")?
                .map(|p| parse(ProjectId::parse(&p), "project_id"))
                .transpose()?,
            entity: parse(EntityKind::parse(&row::text(r, "entity")?), "entity")?,
            entity_id: row::text(r, "entity_id")?,
            kind: parse(ChangeKind::parse(&row::text(r, "kind")?), "kind")?,
            payload: sqlx::Row::try_get(r, "payload")
                .map_err(|_| crate::Error::Corrupt { column: "payload" })?,
            actor: row::user(r, "actor")?,
            request_id: row::opt_text(r, "request_id")?
                .map(|id| parse(RequestId::parse(&id), "request_id"))
                .transpose()?,
            at: row::time(r, "created_at")?,
        },
    })
}

const COLUMNS: &str =
    "seq, project_id, entity, entity_id, kind, payload, actor, request_id, created_at";

/// Changes after `after_seq`, in sequence order, at most `limit`; with `project`, only that
/// project's.
pub async fn since(
    conn: &mut SqliteConnection,
    project: Option<ProjectId>,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<ChangeRecord>> {
    let rows = match project {
        Some(project) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM change_log WHERE project_id = ? AND seq > ? \
                 ORDER BY seq LIMIT ?"
            );
            sqlx::query(&sql)
                .bind(project.to_string())
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(conn)
                .await?
        }
        None => {
            let sql =
                format!("SELECT {COLUMNS} FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?");
            sqlx::query(&sql)
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(conn)
                .await?
        }
    };
    rows.iter().map(from_row).collect()
}

/// The retained entries numbered `first..=last`, in sequence order.
pub async fn range(
    conn: &mut SqliteConnection,
    first: i64,
    last: i64,
) -> Result<Vec<ChangeRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM change_log WHERE seq BETWEEN ? AND ? ORDER BY seq");
    let rows = sqlx::query(&sql)
        .bind(first)
        .bind(last)
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The last sequence number ever assigned (0 for a new tenant), even if its row was purged.
pub async fn head(conn: &mut SqliteConnection) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'change_log'), 0)",
    )
    .fetch_one(conn)
    .await?)
}

/// The sequence number of the newest retained change of `project`, if the log still holds one.
pub async fn last_of_project(
    conn: &mut SqliteConnection,
    project: ProjectId,
) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT MAX(seq) FROM change_log WHERE project_id = ?")
            .bind(project.to_string())
            .fetch_one(conn)
            .await?,
    )
}

/// The smallest sequence number still retained, or `None` when the log is empty. A client whose
/// `since` is below `oldest - 1` cannot be caught up from the log.
pub async fn oldest(conn: &mut SqliteConnection) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT MIN(seq) FROM change_log")
        .fetch_one(conn)
        .await?)
}

/// Deletes every entry up to and including `through` (a no-op when there is none). Returns how
/// many were deleted.
pub async fn trim(conn: &mut SqliteConnection, through: i64) -> Result<u64> {
    if through <= 0 {
        return Ok(0);
    }
    Ok(sqlx::query("DELETE FROM change_log WHERE seq <= ?")
        .bind(through)
        .execute(conn)
        .await?
        .rows_affected())
}

/// Deletes entries older than `before` beyond the newest `keep_at_least`, and any beyond the
/// newest `max_rows`. Returns how many were deleted.
///
/// Entries are appended in time order, so "older than `before`" is "before the first entry that
/// is not": found by reading from the oldest entry, which costs the rows about to go and no index
/// on `created_at` (one page less written by every command). An entry stamped earlier than one
/// before it (the clock stepped back) goes with the next purge after that one.
pub async fn purge(
    conn: &mut SqliteConnection,
    before: Timestamp,
    keep_at_least: i64,
    max_rows: i64,
) -> Result<u64> {
    let head = head(&mut *conn).await?;
    let first_young: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM change_log WHERE created_at >= ? ORDER BY seq LIMIT 1")
            .bind(before.as_millis())
            .fetch_optional(&mut *conn)
            .await?;
    let through = first_young.map_or(head, |seq| seq - 1);
    Ok(sqlx::query("DELETE FROM change_log WHERE seq <= ?")
        .bind(through.min(head - keep_at_least).max(head - max_rows))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
