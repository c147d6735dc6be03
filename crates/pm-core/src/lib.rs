//! The domain of pm: entities, identifiers, limits and the pure rules that decide what is allowed.
//!
//! This crate must never know about IO: no async runtime, no SQL, no HTTP, no protobuf. Everything
//! here is a plain value or a pure function so that every surface (WebSocket, REST, MCP, the demo
//! seeder) applies exactly the same rules, and so that the rules are unit-tested in isolation.
//! Constructors such as [`Title::parse`] validate at the edge so invalid values cannot exist past it.

#[macro_use]
mod string_enum;

mod access;
mod burndown;
mod dependency;
mod entity;
mod error;
mod id;
mod limits;
mod position;
mod sprint;
mod text;
mod time;
mod time_entry;
mod work_item;

pub use access::{Action, ProjectRole, TenantRole, effective_project_role, is_allowed};
pub use burndown::{
    BURNDOWN_MAX_DAYS, BurndownPoint, BurndownState, ItemTimeline, PriorValue, burndown, day_end,
    day_starts,
};
pub use dependency::{DependencyType, find_cycle_path};
pub use entity::{
    ActivityAction, ActivityEntry, ChangeKind, Comment, Dependency, EntityKind, Project,
    ProjectMember, ProjectStatus, Sprint, SwimLane, TimeEntry, WorkItem, default_swim_lanes,
};
pub use error::{RuleResult, RuleViolation};
pub use id::{
    CommentId, DependencyId, ItemKey, ProjectId, ProjectKey, ProjectRef, RequestId, SprintId,
    SwimLaneId, TenantId, TimeEntryId, UserId, WorkItemId, WorkItemRef,
};
pub use limits::*;
pub use position::{initial_positions, is_valid_position, position_between};
pub use sprint::{SprintStatus, check_sprint_transition, sprint_accepts_items};
pub use text::{CommentBody, Description, SprintGoal, SprintName, TimeEntryNote, Title};
pub use time::Timestamp;
pub use time_entry::{TimeRange, validate_time_range};
pub use work_item::{
    Priority, StoryPoints, WorkItemStatus, WorkItemType, check_parent, check_reparent_no_cycle,
};
