//! The history epoch: the identity of a tenant database's change history, and the mark that lets
//! the server notice a database replaced behind its back.
//!
//! A backup restored over a live database brings back older sequence numbers that the restored
//! database will hand out again, for different changes. Sequence numbers are therefore only
//! comparable within one epoch: every database gets a random epoch when it is created, a restore
//! replaces it ([`rekey`]), and so does opening a database whose history does not continue the one
//! the server last saw. What the server last saw is kept in a small mark file beside the database
//! (`history.mark`: epoch, head sequence number, and a fingerprint of the change at that number),
//! written whenever the database is opened, checkpointed by maintenance, or closed. A copy
//! restored by hand is caught when its head is below the mark's or its change at the mark's
//! sequence number is a different one.

use std::path::Path;

use sqlx::SqliteConnection;

use crate::{Result, change_log};

/// The mark file's name inside the tenant's directory.
pub const MARK_FILE_NAME: &str = "history.mark";

/// The database's current epoch.
pub async fn epoch(conn: &mut SqliteConnection) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT epoch FROM history WHERE id = 1")
        .fetch_one(conn)
        .await?)
}

/// Replaces the epoch with a new random one and returns it.
pub async fn rekey(conn: &mut SqliteConnection) -> Result<String> {
    Ok(sqlx::query_scalar(
        "UPDATE history SET epoch = lower(hex(randomblob(16))) WHERE id = 1 RETURNING epoch",
    )
    .fetch_one(conn)
    .await?)
}

/// What the server last saw of a tenant's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mark {
    pub epoch: String,
    pub seq: i64,
    /// Identifies the change at `seq` (empty when there is none, e.g. at seq 0).
    pub fingerprint: String,
}

impl Mark {
    /// The mark of the database as it is now.
    pub async fn read_db(conn: &mut SqliteConnection) -> Result<Self> {
        let epoch = epoch(conn).await?;
        let seq = change_log::head(conn).await?;
        let fingerprint = fingerprint(conn, seq).await?.unwrap_or_default();
        Ok(Self {
            epoch,
            seq,
            fingerprint,
        })
    }

    /// Reads a mark file; `None` when there is none or it is unreadable (an old data directory).
    pub fn load(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(MARK_FILE_NAME)).ok()?;
        let mut parts = text.trim_end().splitn(3, ' ');
        let epoch = parts.next()?.to_owned();
        let seq = parts.next()?.parse().ok()?;
        let fingerprint = parts.next().unwrap_or_default().to_owned();
        Some(Self {
            epoch,
            seq,
            fingerprint,
        })
    }

    /// Writes the mark file atomically (a temporary file renamed over the old one).
    pub fn store(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(format!("{MARK_FILE_NAME}.tmp"));
        std::fs::write(
            &tmp,
            format!("{} {} {}\n", self.epoch, self.seq, self.fingerprint),
        )?;
        std::fs::rename(&tmp, dir.join(MARK_FILE_NAME))?;
        Ok(())
    }

    /// Whether the database no longer continues the history this mark saw: another epoch than
    /// the mark's (a file copied over the one a restore produced), its head went back, or the
    /// change at the mark's sequence number is another one. (A purged change cannot be compared.)
    pub async fn replaced_by(&self, conn: &mut SqliteConnection) -> Result<bool> {
        if epoch(conn).await? != self.epoch {
            return Ok(true);
        }
        if change_log::head(conn).await? < self.seq {
            return Ok(true);
        }
        Ok(match fingerprint(conn, self.seq).await? {
            Some(now) => now != self.fingerprint,
            None => false,
        })
    }
}

/// Identifies one change-log entry: when it was made, by which request, to which entity, and the
/// size of its payload.
async fn fingerprint(conn: &mut SqliteConnection, seq: i64) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT created_at || ':' || COALESCE(request_id, '-') || ':' || entity_id || ':' || \
         length(payload) FROM change_log WHERE seq = ?",
    )
    .bind(seq)
    .fetch_optional(conn)
    .await?)
}
