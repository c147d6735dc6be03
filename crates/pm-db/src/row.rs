//! Reading rows back into domain types. A stored value that no longer parses is reported as
//! [`Error::Corrupt`] naming its column, never silently replaced.

use pm_core::{EntityKind, RuleResult, Timestamp, UserId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::{Conflict, Error, Result};

pub(crate) fn parse<T>(value: RuleResult<T>, column: &'static str) -> Result<T> {
    value.map_err(|_| Error::Corrupt { column })
}

pub(crate) fn text(row: &SqliteRow, column: &'static str) -> Result<String> {
    row.try_get::<String, _>(column)
        .map_err(|_| Error::Corrupt { column })
}

pub(crate) fn opt_text(row: &SqliteRow, column: &'static str) -> Result<Option<String>> {
    row.try_get::<Option<String>, _>(column)
        .map_err(|_| Error::Corrupt { column })
}

pub(crate) fn opt_blob(row: &SqliteRow, column: &'static str) -> Result<Option<Vec<u8>>> {
    row.try_get::<Option<Vec<u8>>, _>(column)
        .map_err(|_| Error::Corrupt { column })
}

pub(crate) fn int(row: &SqliteRow, column: &'static str) -> Result<i64> {
    row.try_get::<i64, _>(column)
        .map_err(|_| Error::Corrupt { column })
}

pub(crate) fn opt_int(row: &SqliteRow, column: &'static str) -> Result<Option<i64>> {
    row.try_get::<Option<i64>, _>(column)
        .map_err(|_| Error::Corrupt { column })
}

pub(crate) fn time(row: &SqliteRow, column: &'static str) -> Result<Timestamp> {
    int(row, column).map(Timestamp::from_millis)
}

pub(crate) fn opt_time(row: &SqliteRow, column: &'static str) -> Result<Option<Timestamp>> {
    Ok(opt_int(row, column)?.map(Timestamp::from_millis))
}

pub(crate) fn user(row: &SqliteRow, column: &'static str) -> Result<UserId> {
    parse(UserId::parse(&text(row, column)?), column)
}

pub(crate) fn opt_user(row: &SqliteRow, column: &'static str) -> Result<Option<UserId>> {
    opt_text(row, column)?
        .map(|u| parse(UserId::parse(&u), column))
        .transpose()
}

/// After a versioned UPDATE or DELETE touched no row: tells "gone" (not found) from "changed
/// since you read it" (stale version, with the version stored now).
pub(crate) async fn stale_or_missing(
    conn: &mut SqliteConnection,
    table: &'static str,
    id: &str,
    entity: EntityKind,
) -> Error {
    let has_soft_delete = table != "project_members";
    let sql = if has_soft_delete {
        format!("SELECT version FROM {table} WHERE id = ? AND deleted_at IS NULL")
    } else {
        format!("SELECT version FROM {table} WHERE id = ?")
    };
    match sqlx::query_scalar::<_, i64>(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await
    {
        Ok(Some(current_version)) => Error::Conflict(Conflict::StaleVersion {
            entity,
            current_version,
        }),
        Ok(None) => Error::NotFound { entity },
        Err(e) => e.into(),
    }
}
