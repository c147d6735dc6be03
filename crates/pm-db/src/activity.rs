//! The `activity_log` table: one row per changed field, written in the change's transaction.

use pm_core::{ActivityAction, ActivityEntry, EntityKind, ProjectId, Timestamp, UserId};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::Result;
use crate::row::{self, parse};

/// An activity row to write; the database assigns its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    pub seq: Option<i64>,
    pub project_id: Option<ProjectId>,
    pub entity: EntityKind,
    pub entity_id: String,
    pub action: ActivityAction,
    pub field: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub actor: UserId,
    pub at: Timestamp,
}

fn from_row(r: &SqliteRow) -> Result<ActivityEntry> {
    Ok(ActivityEntry {
        id: row::int(r, "id")?,
        seq: row::opt_int(r, "seq")?,
        project_id: row::opt_text(r, "project_id")?
            .map(|p| parse(ProjectId::parse(&p), "project_id"))
            .transpose()?,
        entity: parse(EntityKind::parse(&row::text(r, "entity")?), "entity")?,
        entity_id: row::text(r, "entity_id")?,
        action: parse(ActivityAction::parse(&row::text(r, "action")?), "action")?,
        field: row::opt_text(r, "field")?,
        old_value: row::opt_text(r, "old_value")?,
        new_value: row::opt_text(r, "new_value")?,
        actor: row::user(r, "actor")?,
        at: row::time(r, "at")?,
    })
}

/// Writes activity rows (in the caller's transaction).
pub async fn record(conn: &mut SqliteConnection, rows: &[NewActivity]) -> Result<()> {
    for a in rows {
        sqlx::query(
            "INSERT INTO activity_log (seq, project_id, entity, entity_id, action, field, \
             old_value, new_value, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(a.seq)
        .bind(a.project_id.map(|p| p.to_string()))
        .bind(a.entity.as_str())
        .bind(&a.entity_id)
        .bind(a.action.as_str())
        .bind(&a.field)
        .bind(&a.old_value)
        .bind(&a.new_value)
        .bind(a.actor.as_str())
        .bind(a.at.as_millis())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Which activity to list; every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub project_id: Option<ProjectId>,
    pub entity: Option<(EntityKind, String)>,
    pub actor: Option<UserId>,
    /// Only rows of projects this user is a member of (for callers who do not see every project).
    pub member: Option<UserId>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only rows with a smaller id (the cursor of the previous page): newest first.
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// Activity matching `filter`, newest first.
pub async fn list(conn: &mut SqliteConnection, filter: &Filter) -> Result<Vec<ActivityEntry>> {
    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT id, seq, project_id, entity, entity_id, action, field, old_value, new_value, \
         actor, at FROM activity_log WHERE 1 = 1",
    );
    if let Some(project) = filter.project_id {
        q.push(" AND project_id = ").push_bind(project.to_string());
    }
    if let Some((entity, id)) = &filter.entity {
        q.push(" AND entity = ")
            .push_bind(entity.as_str())
            .push(" AND entity_id = ")
            .push_bind(id.clone());
    }
    if let Some(actor) = &filter.actor {
        q.push(" AND actor = ").push_bind(actor.as_str().to_owned());
    }
    if let Some(member) = &filter.member {
        q.push(" AND project_id IN (SELECT project_id FROM project_members WHERE user_id = ")
            .push_bind(member.as_str().to_owned())
            .push(")");
    }
    if let Some(from) = filter.from {
        q.push(" AND at >= ").push_bind(from.as_millis());
    }
    if let Some(to) = filter.to {
        q.push(" AND at < ").push_bind(to.as_millis());
    }
    if let Some(before) = filter.before_id {
        q.push(" AND id < ").push_bind(before);
    }
    q.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(filter.limit));
    let rows = q.build().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}
