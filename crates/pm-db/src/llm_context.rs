//! The `llm_context` table: documentation rows for LLM agents, seeded by migration.

use sqlx::SqliteConnection;

use crate::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRow {
    pub id: i64,
    /// `schema`, `rule` or `example`.
    pub kind: String,
    pub topic: String,
    pub title: String,
    pub body: String,
    /// The tables and `table.column`s the row describes.
    pub refs: Vec<String>,
}

/// Every row, or those of one kind, in id order.
pub async fn list(conn: &mut SqliteConnection, kind: Option<&str>) -> Result<Vec<ContextRow>> {
    let rows: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(
        "SELECT id, kind, topic, title, body, refs FROM llm_context \
         WHERE ?1 IS NULL OR kind = ?1 ORDER BY id",
    )
    .bind(kind)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, topic, title, body, refs)| ContextRow {
            id,
            kind,
            topic,
            title,
            body,
            refs: refs.split_whitespace().map(str::to_owned).collect(),
        })
        .collect())
}
