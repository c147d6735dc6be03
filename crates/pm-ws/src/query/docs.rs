//! The documentation rows agents read before they reason about the data.

use pm_db::SqliteConnection;
use pm_db::llm_context::{self, ContextRow};

use crate::{Error, Result};

/// The kinds of documentation row (the `llm_context.kind` CHECK constraint).
pub const KINDS: &[&str] = &["schema", "rule", "example"];

/// Every row, or those of one kind (field `kind`), in order.
pub async fn list(conn: &mut SqliteConnection, kind: Option<&str>) -> Result<Vec<ContextRow>> {
    if let Some(k) = kind
        && !KINDS.contains(&k)
    {
        return Err(Error::validation(
            "kind",
            format!("expected one of: {}", KINDS.join(", ")),
        ));
    }
    Ok(llm_context::list(conn, kind).await?)
}
