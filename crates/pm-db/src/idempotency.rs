//! The `idempotency_keys` table: the stored reply of every processed mutation.

use pm_core::{RequestId, Timestamp, UserId};
use sqlx::SqliteConnection;

use crate::Result;

/// A stored reply: which command produced it, a digest of the request, and the reply's encoded
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub command: String,
    /// Identifies the request's content, so a different request under the same id is told apart.
    /// `None` only for records stored before digests were kept.
    pub request_digest: Option<Vec<u8>>,
    pub response: Vec<u8>,
}

/// The reply stored for this user's request id, if the request was already processed.
pub async fn get(
    conn: &mut SqliteConnection,
    user: &UserId,
    request: RequestId,
) -> Result<Option<StoredReply>> {
    let row: Option<(String, Option<Vec<u8>>, Vec<u8>)> = sqlx::query_as(
        "SELECT command, request_digest, response FROM idempotency_keys \
         WHERE user_id = ? AND request_id = ?",
    )
    .bind(user.as_str())
    .bind(request.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(command, request_digest, response)| StoredReply {
        command,
        request_digest,
        response,
    }))
}

/// Stores the reply of a processed request, in the same transaction as its effects.
pub async fn put(
    conn: &mut SqliteConnection,
    user: &UserId,
    request: RequestId,
    reply: &StoredReply,
    at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO idempotency_keys \
         (user_id, request_id, command, request_digest, response, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user.as_str())
    .bind(request.to_string())
    .bind(&reply.command)
    .bind(reply.request_digest.as_deref())
    .bind(&reply.response)
    .bind(at.as_millis())
    .execute(conn)
    .await?;
    Ok(())
}

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
