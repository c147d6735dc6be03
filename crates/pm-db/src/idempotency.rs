//! The `idempotency_keys` table: the stored reply of every processed mutation. Records are
//! written with the command's change-log entries by [`crate::journal::write`].

use pm_core::{RequestId, Timestamp, UserId};
use sqlx::SqliteConnection;

use crate::Result;

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

/// The reply stored for this user's request id, if the request was already processed.
pub async fn get(
    conn: &mut SqliteConnection,
    user: &UserId,
    request: RequestId,
) -> Result<Option<StoredReply>> {
    type Record = (
        String,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<i64>,
        i64,
    );
    let row: Option<Record> = sqlx::query_as(
        "SELECT command, request_digest, response, result, last_seq, events \
         FROM idempotency_keys WHERE user_id = ? AND request_id = ?",
    )
    .bind(user.as_str())
    .bind(request.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(
        |(command, request_digest, response, result, last_seq, events)| {
            let reply = match (response, result) {
                (Some(reply), _) => Stored::Reply(reply),
                (None, Some(result)) => Stored::Result {
                    result,
                    last_seq,
                    events,
                },
                (None, None) => return Err(crate::Error::Corrupt { column: "result" }),
            };
            Ok(StoredReply {
                command,
                request_digest,
                reply,
            })
        },
    )
    .transpose()
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
