//! The `activity_log` table: one row per changed field, written in the change's transaction.

use std::collections::HashMap;

use pm_core::{
    ActivityAction, ActivityEntry, BurndownState, EntityKind, ItemTimeline, PriorValue, ProjectId,
    SprintId, Timestamp, UserId, WorkItemStatus,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::row::{self, parse};
use crate::{Error, Result};

/// An activity row to write; the database assigns its id, and [`crate::journal::write`] gives it
/// the sequence number of the change it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
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

/// The items of one sprint's burndown: every item in the sprint now or moved into or out of it at
/// some point, with its current state and its recorded changes of sprint, status and points.
pub async fn burndown_timelines(
    conn: &mut SqliteConnection,
    sprint: SprintId,
) -> Result<Vec<ItemTimeline>> {
    // Deleted items too: they counted until they were deleted.
    const ITEMS: &str = "SELECT id FROM work_items WHERE sprint_id = ?1 \
         UNION SELECT entity_id FROM activity_log WHERE entity = 'work_item' \
         AND field = 'sprint_id' AND (old_value = ?1 OR new_value = ?1)";
    let sprint_text = sprint.to_string();
    let items = sqlx::query(&format!(
        "SELECT id, sprint_id, status, story_points, created_at, deleted_at FROM work_items \
         WHERE id IN ({ITEMS})"
    ))
    .bind(&sprint_text)
    .fetch_all(&mut *conn)
    .await?;
    let changes = sqlx::query(&format!(
        "SELECT entity_id, field, old_value, at FROM activity_log WHERE entity = 'work_item' \
         AND field IN ('sprint_id', 'status', 'story_points') AND entity_id IN ({ITEMS}) \
         ORDER BY id"
    ))
    .bind(&sprint_text)
    .fetch_all(&mut *conn)
    .await?;
    let mut timelines: HashMap<String, ItemTimeline> = HashMap::with_capacity(items.len());
    for r in &items {
        timelines.insert(
            row::text(r, "id")?,
            ItemTimeline {
                created_at: row::time(r, "created_at")?,
                deleted_at: row::opt_time(r, "deleted_at")?,
                now: BurndownState {
                    sprint: sprint_id(row::opt_text(r, "sprint_id")?.as_deref(), "sprint_id")?,
                    status: parse(WorkItemStatus::parse(&row::text(r, "status")?), "status")?,
                    points: points(row::opt_int(r, "story_points")?, "story_points")?,
                },
                changes: Vec::new(),
            },
        );
    }
    for r in &changes {
        let Some(timeline) = timelines.get_mut(&row::text(r, "entity_id")?) else {
            continue;
        };
        let old = row::opt_text(r, "old_value")?;
        let prior = match row::text(r, "field")?.as_str() {
            "sprint_id" => PriorValue::Sprint(sprint_id(old.as_deref(), "old_value")?),
            "status" => PriorValue::Status(parse(
                WorkItemStatus::parse(old.as_deref().unwrap_or_default()),
                "old_value",
            )?),
            _ => PriorValue::Points(points(
                old.map(|p| p.parse::<i64>())
                    .transpose()
                    .map_err(|_| Error::Corrupt {
                        column: "old_value",
                    })?,
                "old_value",
            )?),
        };
        timeline.changes.push((row::time(r, "at")?, prior));
    }
    Ok(timelines.into_values().collect())
}

fn sprint_id(text: Option<&str>, column: &'static str) -> Result<Option<SprintId>> {
    text.map(|s| parse(SprintId::parse(s), column)).transpose()
}

fn points(value: Option<i64>, column: &'static str) -> Result<Option<u32>> {
    value
        .map(|p| u32::try_from(p).map_err(|_| Error::Corrupt { column }))
        .transpose()
}
