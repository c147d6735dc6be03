//! The entities of the data model as plain values, as repositories return them.

use serde::{Deserialize, Serialize};

use crate::{
    CommentBody, CommentId, DependencyId, DependencyType, Description, ItemKey, Priority,
    ProjectId, ProjectKey, ProjectRole, SprintGoal, SprintId, SprintName, SprintStatus,
    StoryPoints, SwimLaneId, TimeEntryId, TimeEntryNote, Timestamp, Title, UserId, WorkItemId,
    WorkItemStatus, WorkItemType,
};

string_enum!(
    ProjectStatus, field = "status" {
        Active = "active",
        Archived = "archived",
    }
);

string_enum!(
    /// The kinds of entity that activity and change-log rows refer to.
    EntityKind, field = "entity" {
        Project = "project",
        Member = "member",
        WorkItem = "work_item",
        Sprint = "sprint",
        Comment = "comment",
        TimeEntry = "time_entry",
        Dependency = "dependency",
        SwimLane = "swim_lane",
    }
);

string_enum!(
    /// What happened to an entity, as recorded in the activity log.
    ActivityAction, field = "action" {
        Created = "created",
        Updated = "updated",
        Deleted = "deleted",
    }
);

string_enum!(
    /// What a change-log entry did to its entity. `Upserted` carries the entity's whole new state;
    /// `Deleted` only its id. Clients apply both idempotently by entity version.
    ChangeKind, field = "kind" {
        Upserted = "upserted",
        Deleted = "deleted",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub key: ProjectKey,
    pub title: Title,
    pub description: Description,
    pub status: ProjectStatus,
    /// The number the next work item of this project will get.
    pub next_item_number: i64,
    pub version: i64,
    pub created_at: Timestamp,
    pub created_by: UserId,
    pub updated_at: Timestamp,
    pub updated_by: UserId,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectMember {
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub role: ProjectRole,
    pub version: i64,
    pub created_at: Timestamp,
    pub created_by: UserId,
    pub updated_at: Timestamp,
    pub updated_by: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    pub id: WorkItemId,
    pub project_id: ProjectId,
    /// `WEB-42`: the project's current key and the item's number in it.
    pub key: ItemKey,
    pub item_type: WorkItemType,
    pub parent_id: Option<WorkItemId>,
    pub title: Title,
    pub description: Description,
    pub status: WorkItemStatus,
    pub priority: Priority,
    pub story_points: Option<StoryPoints>,
    pub assignee: Option<UserId>,
    pub sprint_id: Option<SprintId>,
    /// Order within the item's board column; see [`crate::position_between`].
    pub position: String,
    pub version: i64,
    pub created_at: Timestamp,
    pub created_by: UserId,
    pub updated_at: Timestamp,
    pub updated_by: UserId,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sprint {
    pub id: SprintId,
    pub project_id: ProjectId,
    pub name: SprintName,
    pub goal: SprintGoal,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub status: SprintStatus,
    pub version: i64,
    pub created_at: Timestamp,
    pub created_by: UserId,
    pub updated_at: Timestamp,
    pub updated_by: UserId,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: CommentId,
    pub work_item_id: WorkItemId,
    pub author: UserId,
    pub body: CommentBody,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeEntry {
    pub id: TimeEntryId,
    pub work_item_id: WorkItemId,
    pub user_id: UserId,
    pub started_at: Timestamp,
    /// `None` while the timer runs.
    pub ended_at: Option<Timestamp>,
    /// `ended_at - started_at` in milliseconds; `None` while running.
    pub duration_ms: Option<i64>,
    pub description: TimeEntryNote,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub id: DependencyId,
    pub project_id: ProjectId,
    pub blocking_id: WorkItemId,
    pub blocked_id: WorkItemId,
    pub dep_type: DependencyType,
    pub created_at: Timestamp,
    pub created_by: UserId,
    pub deleted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwimLane {
    pub id: SwimLaneId,
    pub project_id: ProjectId,
    pub name: String,
    pub status: WorkItemStatus,
    /// 0-based order of the lane on the board.
    pub position: i64,
    pub wip_limit: Option<u32>,
}

/// The five lanes every new project starts with, one per status, in board order.
pub fn default_swim_lanes() -> [(&'static str, WorkItemStatus); 5] {
    [
        ("Backlog", WorkItemStatus::Backlog),
        ("To do", WorkItemStatus::Todo),
        ("In progress", WorkItemStatus::InProgress),
        ("Review", WorkItemStatus::Review),
        ("Done", WorkItemStatus::Done),
    ]
}

/// One changed field of one entity (or the creation or deletion of a whole entity, with no field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEntry {
    /// Assigned by the database, increasing: activity pages by it.
    pub id: i64,
    /// The change-log entry written in the same transaction, when there is one.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_lanes_cover_every_status_once_in_board_order() {
        let lanes = default_swim_lanes();
        let statuses: Vec<_> = lanes.iter().map(|(_, s)| *s).collect();
        assert_eq!(statuses, WorkItemStatus::ALL);
    }
}
