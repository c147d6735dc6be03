//! The `swim_lanes` table.

use pm_core::{
    EntityKind, ProjectId, SwimLane, SwimLaneId, Timestamp, WorkItemStatus, default_swim_lanes,
};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::Result;
use crate::error::on_reference;
use crate::row::{self, parse};

fn from_row(r: &SqliteRow) -> Result<SwimLane> {
    let wip_limit = row::opt_int(r, "wip_limit")?
        .map(|w| {
            u32::try_from(w).map_err(|_| crate::Error::Corrupt {
                column: "wip_limit",
            })
        })
        .transpose()?;
    Ok(SwimLane {
        id: parse(SwimLaneId::parse(&row::text(r, "id")?), "id")?,
        project_id: parse(ProjectId::parse(&row::text(r, "project_id")?), "project_id")?,
        name: row::text(r, "name")?,
        status: parse(WorkItemStatus::parse(&row::text(r, "status")?), "status")?,
        position: row::int(r, "position")?,
        wip_limit,
    })
}

/// Creates the five default lanes of a new project and returns them in board order.
pub async fn insert_defaults(
    conn: &mut SqliteConnection,
    project: ProjectId,
    at: Timestamp,
) -> Result<Vec<SwimLane>> {
    let mut lanes = Vec::new();
    for (position, (name, status)) in (0_i64..).zip(default_swim_lanes()) {
        let lane = SwimLane {
            id: SwimLaneId::new(),
            project_id: project,
            name: name.to_owned(),
            status,
            position,
            wip_limit: None,
        };
        sqlx::query(
            "INSERT INTO swim_lanes (id, project_id, name, status, position, wip_limit, created_at, \
             updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
        )
        .bind(lane.id.to_string())
        .bind(project.to_string())
        .bind(&lane.name)
        .bind(status.as_str())
        .bind(position)
        .bind(at.as_millis())
        .bind(at.as_millis())
        .execute(&mut *conn)
        .await
        .map_err(|e| on_reference(e, EntityKind::Project))?;
        lanes.push(lane);
    }
    Ok(lanes)
}

/// A project's lanes in board order.
pub async fn list(conn: &mut SqliteConnection, project: ProjectId) -> Result<Vec<SwimLane>> {
    let rows = sqlx::query(
        "SELECT id, project_id, name, status, position, wip_limit FROM swim_lanes \
         WHERE project_id = ? ORDER BY position",
    )
    .bind(project.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// A lane by id.
pub async fn get(conn: &mut SqliteConnection, id: SwimLaneId) -> Result<SwimLane> {
    let row = sqlx::query(
        "SELECT id, project_id, name, status, position, wip_limit FROM swim_lanes WHERE id = ?",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref()
        .map(from_row)
        .transpose()?
        .ok_or(crate::Error::NotFound {
            entity: EntityKind::SwimLane,
        })
}

/// Renames a lane or changes its work-in-progress limit (its status and place are fixed).
pub async fn update(
    conn: &mut SqliteConnection,
    lane: &SwimLane,
    at: Timestamp,
) -> Result<SwimLane> {
    let done =
        sqlx::query("UPDATE swim_lanes SET name = ?, wip_limit = ?, updated_at = ? WHERE id = ?")
            .bind(&lane.name)
            .bind(lane.wip_limit.map(i64::from))
            .bind(at.as_millis())
            .bind(lane.id.to_string())
            .execute(&mut *conn)
            .await?;
    if done.rows_affected() == 0 {
        return Err(crate::Error::NotFound {
            entity: EntityKind::SwimLane,
        });
    }
    get(conn, lane.id).await
}
