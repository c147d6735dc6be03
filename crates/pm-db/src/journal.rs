//! What a command leaves behind besides its data change: its change-log entries, their activity
//! rows and its idempotency record, written by one multi-statement query, so the whole record of
//! a command costs one round trip to SQLite however many entries it has (each statement sqlx runs
//! is a hop to its worker thread and back).
//!
//! A group commit runs each command of a batch in the savepoint `pm_command` inside the batch's
//! transaction; ending one command's savepoint and opening the next one's ride along with the
//! record ([`Then`]) instead of costing hops of their own.

use pm_core::{RequestId, Timestamp, UserId};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::Result;
use crate::activity::NewActivity;
use crate::change_log::NewChange;

/// One change-log entry and the activity rows that describe it; the rows get the entry's sequence
/// number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub change: NewChange,
    pub activity: Vec<NewActivity>,
}

/// The idempotency record of a processed request. It holds the reply's result; the reply's events
/// are the command's change-log entries, which the record points at instead of copying.
#[derive(Debug, Clone, Copy)]
pub struct Receipt<'a> {
    pub user: &'a UserId,
    pub request: RequestId,
    pub command: &'a str,
    /// Identifies the request's content (see [`crate::idempotency::StoredReply`]).
    pub request_digest: &'a [u8],
    /// The reply's encoded result.
    pub result: &'a [u8],
    pub at: Timestamp,
}

/// What follows a command's record in the same round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing: the command runs directly in its transaction.
    Nothing,
    /// Release the command's savepoint: it was the batch's last.
    Release,
    /// Release the command's savepoint and open the next command's.
    ReleaseAndBegin,
}

impl Then {
    fn sql(self) -> &'static str {
        match self {
            Then::Nothing => "",
            Then::Release => "RELEASE pm_command;",
            Then::ReleaseAndBegin => "RELEASE pm_command; SAVEPOINT pm_command;",
        }
    }
}

/// Opens the first command's savepoint (see [`Then`]).
pub async fn begin_command(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query("SAVEPOINT pm_command;").execute(conn).await?;
    Ok(())
}

/// Ends the current command's savepoint without a record (a replayed request wrote nothing), then
/// `then`.
pub async fn end_command(conn: &mut SqliteConnection, then: Then) -> Result<()> {
    if then != Then::Nothing {
        sqlx::query(then.sql()).execute(conn).await?;
    }
    Ok(())
}

/// Undoes everything the current command wrote since its savepoint, then `then`.
pub async fn undo_command(conn: &mut SqliteConnection, then: Then) -> Result<()> {
    let sql = match then {
        Then::Nothing => return Ok(()),
        Then::Release => "ROLLBACK TO pm_command; RELEASE pm_command;",
        Then::ReleaseAndBegin => {
            "ROLLBACK TO pm_command; RELEASE pm_command; SAVEPOINT pm_command;"
        }
    };
    sqlx::query(sql).execute(conn).await?;
    Ok(())
}

/// Above this many entries the query's text is not kept prepared: such commands are rare (a sprint
/// moving its items) and each would hold a statement cache slot of its own.
const CACHED_ENTRIES: usize = 4;

/// Appends `entries` to the change log with their activity rows, and stores `receipt`, in the
/// caller's write transaction, then does `then`. Returns the entries' sequence numbers, in order:
/// consecutive, because the tenant has one writer.
pub async fn write(
    conn: &mut SqliteConnection,
    entries: &[Entry],
    receipt: &Receipt<'_>,
    then: Then,
) -> Result<Vec<i64>> {
    let mut q = QueryBuilder::<Sqlite>::new("");
    for Entry {
        change: c,
        activity,
    } in entries
    {
        q.push(
            "INSERT INTO change_log (project_id, entity, entity_id, kind, payload, actor, \
             request_id, created_at) VALUES (",
        );
        let mut values = q.separated(", ");
        values.push_bind(c.project_id.map(|p| p.to_string()));
        values.push_bind(c.entity.as_str());
        values.push_bind(c.entity_id.clone());
        values.push_bind(c.kind.as_str());
        values.push_bind(c.payload.clone());
        values.push_bind(c.actor.as_str().to_owned());
        values.push_bind(c.request_id.map(|r| r.to_string()));
        values.push_bind(c.at.as_millis());
        q.push(") RETURNING seq;\n");
        if activity.is_empty() {
            continue;
        }
        q.push(
            "INSERT INTO activity_log (seq, project_id, entity, entity_id, action, field, \
             old_value, new_value, actor, at) ",
        );
        // The entry just appended is the newest: AUTOINCREMENT never reuses a number.
        q.push_values(activity, |mut row, a| {
            row.push("(SELECT MAX(seq) FROM change_log)");
            row.push_bind(a.project_id.map(|p| p.to_string()));
            row.push_bind(a.entity.as_str());
            row.push_bind(a.entity_id.clone());
            row.push_bind(a.action.as_str());
            row.push_bind(a.field.clone());
            row.push_bind(a.old_value.clone());
            row.push_bind(a.new_value.clone());
            row.push_bind(a.actor.as_str().to_owned());
            row.push_bind(a.at.as_millis());
        });
        q.push(";\n");
    }
    q.push(
        "INSERT INTO idempotency_keys (user_id, request_id, command, request_digest, result, \
         last_seq, events, created_at) VALUES (",
    );
    q.push_bind(receipt.user.as_str().to_owned());
    q.push(", ");
    q.push_bind(receipt.request.to_string());
    q.push(", ");
    q.push_bind(receipt.command.to_owned());
    q.push(", ");
    q.push_bind(receipt.request_digest.to_vec());
    q.push(", ");
    q.push_bind(receipt.result.to_vec());
    q.push(if entries.is_empty() {
        ", NULL, "
    } else {
        ", (SELECT MAX(seq) FROM change_log), "
    });
    q.push_bind(i64::try_from(entries.len()).unwrap_or(i64::MAX));
    q.push(", ");
    q.push_bind(receipt.at.as_millis());
    q.push(");\n");
    q.push(then.sql());
    let rows = q
        .build()
        .persistent(entries.len() <= CACHED_ENTRIES)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>(0).map_err(Into::into))
        .collect()
}
