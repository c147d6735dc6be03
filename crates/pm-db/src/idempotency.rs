//! The `idempotency_keys` table: the stored reply of every processed mutation. Records are
//! written with the command's change-log entries by [`crate::journal::write`].

use pm_core::{RequestId, Timestamp, UserId};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::Result;
use crate::row;

/// A stored reply: which command produced it, a digest of the request, and what the reply was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub command: String,
    /// Identifies the request's content, so a different request under the same id is told apart.
    /// `None` only for records stored before digests were kept.
    pub request_digest: Option<Vec<u8>>,
    pub reply: Stored,
}

/// How a reply is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The reply's encoded result; its events are the `events` change-log entries ending at
    /// `last_seq` (written by [`crate::journal::write`]).
    Result {
        result: Vec<u8>,
        last_seq: Option<i64>,
        events: i64,
    },
    /// The whole encoded reply, as records were kept before they pointed at the change log.
    Reply(Vec<u8>),
}

const COLUMNS: &str = "k.command AS command, k.request_digest AS request_digest, \
    k.response AS response, k.result AS result, k.last_seq AS last_seq, k.events AS events";

fn from_row(r: &SqliteRow) -> Result<StoredReply> {
    let reply = match (row::opt_blob(r, "response")?, row::opt_blob(r, "result")?) {
        (Some(reply), _) => Stored::Reply(reply),
        (None, Some(result)) => Stored::Result {
            result,
            last_seq: row::opt_int(r, "last_seq")?,
            events: row::int(r, "events")?,
        },
        (None, None) => return Err(crate::Error::Corrupt { column: "result" }),
    };
    Ok(StoredReply {
        command: row::text(r, "command")?,
        request_digest: row::opt_blob(r, "request_digest")?,
        reply,
    })
}

/// The reply stored for this user's request id, if the request was already processed.
pub async fn get(
    conn: &mut SqliteConnection,
    user: &UserId,
    request: RequestId,
) -> Result<Option<StoredReply>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM idempotency_keys k WHERE k.user_id = ? AND k.request_id = ?"
    );
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(request.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// [`get`] for many requests with one query (a group commit looks up its whole batch at once).
/// The answer is aligned with `requests`.
pub async fn get_many(
    conn: &mut SqliteConnection,
    requests: &[(&UserId, RequestId)],
) -> Result<Vec<Option<StoredReply>>> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    // Joined from a VALUES list, so each key is a primary-key search (SQLite plans a row-value
    // `IN (VALUES …)` as a scan).
    let mut q = QueryBuilder::<Sqlite>::new("SELECT q.column1 AS position, ");
    q.push(COLUMNS);
    q.push(" FROM (");
    q.push_values(
        requests.iter().enumerate(),
        |mut row, (i, (user, request))| {
            row.push_bind(i64::try_from(i).unwrap_or(i64::MAX))
                .push_bind(user.as_str().to_owned())
                .push_bind(request.to_string());
        },
    );
    q.push(
        ") AS q CROSS JOIN idempotency_keys k \
         ON k.user_id = q.column2 AND k.request_id = q.column3",
    );
    let rows = q
        .build()
        .persistent(requests.len() <= CACHED_KEYS)
        .fetch_all(conn)
        .await?;
    let mut found = vec![None; requests.len()];
    for r in &rows {
        let position = usize::try_from(row::int(r, "position")?)
            .map_err(|_| crate::Error::Corrupt { column: "position" })?;
        if let Some(slot) = found.get_mut(position) {
            *slot = Some(from_row(r)?);
        }
    }
    Ok(found)
}

/// Batches up to this many keys keep their query prepared.
const CACHED_KEYS: usize = 8;

/// Forgets replies stored before `before`. Returns how many were removed.
pub async fn purge(conn: &mut SqliteConnection, before: Timestamp) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
            .bind(before.as_millis())
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
