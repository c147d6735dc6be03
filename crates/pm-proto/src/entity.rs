//! Entities: domain → wire and wire → domain.
//!
//! Going out takes what the wire shows but the domain value does not hold (a comment's project, the
//! keys of a dependency's items, a work item's derived fields) as explicit arguments, so no
//! conversion has to guess or look anything up. Coming in validates every field with pm-core's
//! parsers and names the wire field in any error.
//!
//! The wire carries only live entities (a deletion travels as `EntityDeleted`), so `deleted_at` is
//! always `None` after coming in.

use pm_core::{
    ActivityEntry, Comment, CommentBody, CommentId, Dependency, DependencyId, DependencyType,
    Description, ItemKey, Priority, Project, ProjectId, ProjectKey, ProjectMember, ProjectRole,
    ProjectStatus, RuleViolation, Sprint, SprintGoal, SprintId, SprintName, SprintStatus, SwimLane,
    SwimLaneId, TimeEntry, TimeEntryId, TimeEntryNote, Timestamp, Title, UserId, WorkItem,
    WorkItemId, WorkItemStatus, WorkItemType,
};

use crate::field::{parse, parse_opt, story_points};
use crate::{Error, Result, WireEnum, pb};

/// The fields of a wire work item that are derived from other rows rather than stored on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkItemDerived {
    /// True while any item that blocks this one is not done.
    pub blocked: bool,
    /// Total milliseconds of finished time entries on the item.
    pub logged_ms: i64,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn user(value: &str, field: &'static str) -> Result<UserId> {
    parse(value, field, UserId::parse)
}

// ---- domain → wire ----------------------------------------------------------------------------

impl From<&Project> for pb::Project {
    fn from(p: &Project) -> Self {
        Self {
            id: p.id.to_string(),
            key: p.key.to_string(),
            title: p.title.to_string(),
            description: p.description.to_string(),
            status: p.status.to_wire(),
            version: p.version,
            created_at: p.created_at.as_millis(),
            created_by: p.created_by.to_string(),
            updated_at: p.updated_at.as_millis(),
            updated_by: p.updated_by.to_string(),
        }
    }
}

impl From<&ProjectMember> for pb::Member {
    fn from(m: &ProjectMember) -> Self {
        Self {
            project_id: m.project_id.to_string(),
            user_id: m.user_id.to_string(),
            role: m.role.to_wire(),
            version: m.version,
            created_at: m.created_at.as_millis(),
            created_by: m.created_by.to_string(),
            updated_at: m.updated_at.as_millis(),
            updated_by: m.updated_by.to_string(),
        }
    }
}

impl pb::WorkItem {
    /// The wire form of `item`, with the derived fields computed by the caller.
    pub fn from_domain(item: &WorkItem, derived: WorkItemDerived) -> Self {
        Self {
            id: item.id.to_string(),
            project_id: item.project_id.to_string(),
            key: item.key.to_string(),
            number: item.key.number,
            r#type: item.item_type.to_wire(),
            parent_id: item.parent_id.map(|id| id.to_string()),
            title: item.title.to_string(),
            description: item.description.to_string(),
            status: item.status.to_wire(),
            priority: item.priority.to_wire(),
            story_points: item.story_points.map(|p| p.get()),
            assignee: item.assignee.as_ref().map(UserId::to_string),
            sprint_id: item.sprint_id.map(|id| id.to_string()),
            position: item.position.clone(),
            version: item.version,
            created_at: item.created_at.as_millis(),
            created_by: item.created_by.to_string(),
            updated_at: item.updated_at.as_millis(),
            updated_by: item.updated_by.to_string(),
            blocked: derived.blocked,
            logged_ms: derived.logged_ms,
        }
    }
}

impl From<&WorkItem> for pb::ItemRef {
    fn from(item: &WorkItem) -> Self {
        Self {
            id: item.id.to_string(),
            key: item.key.to_string(),
            title: item.title.to_string(),
            r#type: item.item_type.to_wire(),
            status: item.status.to_wire(),
        }
    }
}

impl From<&Sprint> for pb::Sprint {
    fn from(s: &Sprint) -> Self {
        Self {
            id: s.id.to_string(),
            project_id: s.project_id.to_string(),
            name: s.name.to_string(),
            goal: s.goal.to_string(),
            starts_at: s.starts_at.map(Timestamp::as_millis),
            ends_at: s.ends_at.map(Timestamp::as_millis),
            status: s.status.to_wire(),
            version: s.version,
            created_at: s.created_at.as_millis(),
            created_by: s.created_by.to_string(),
            updated_at: s.updated_at.as_millis(),
            updated_by: s.updated_by.to_string(),
        }
    }
}

impl pb::Comment {
    /// The wire form of `comment`, which belongs to a work item of `project_id`.
    pub fn from_domain(comment: &Comment, project_id: ProjectId) -> Self {
        Self {
            id: comment.id.to_string(),
            work_item_id: comment.work_item_id.to_string(),
            project_id: project_id.to_string(),
            author: comment.author.to_string(),
            body: comment.body.to_string(),
            version: comment.version,
            created_at: comment.created_at.as_millis(),
            updated_at: comment.updated_at.as_millis(),
        }
    }
}

impl pb::TimeEntry {
    /// The wire form of `entry`, which belongs to a work item of `project_id`.
    pub fn from_domain(entry: &TimeEntry, project_id: ProjectId) -> Self {
        Self {
            id: entry.id.to_string(),
            work_item_id: entry.work_item_id.to_string(),
            project_id: project_id.to_string(),
            user_id: entry.user_id.to_string(),
            started_at: entry.started_at.as_millis(),
            ended_at: entry.ended_at.map(Timestamp::as_millis),
            duration_ms: entry.duration_ms,
            description: entry.description.to_string(),
            version: entry.version,
            created_at: entry.created_at.as_millis(),
            updated_at: entry.updated_at.as_millis(),
        }
    }
}

impl pb::Dependency {
    /// The wire form of `dependency`, with the current human keys of its two items.
    pub fn from_domain(
        dependency: &Dependency,
        blocking_key: &ItemKey,
        blocked_key: &ItemKey,
    ) -> Self {
        Self {
            id: dependency.id.to_string(),
            project_id: dependency.project_id.to_string(),
            blocking_id: dependency.blocking_id.to_string(),
            blocked_id: dependency.blocked_id.to_string(),
            blocking_key: blocking_key.to_string(),
            blocked_key: blocked_key.to_string(),
            r#type: dependency.dep_type.to_wire(),
            created_at: dependency.created_at.as_millis(),
            created_by: dependency.created_by.to_string(),
        }
    }
}

impl From<&SwimLane> for pb::SwimLane {
    fn from(lane: &SwimLane) -> Self {
        // A lane's position is its 0-based place on a board of a handful of lanes, and the schema
        // keeps it non-negative; saturating only guards the type change, it never bites.
        let position = u32::try_from(lane.position.max(0)).unwrap_or(u32::MAX);
        Self {
            id: lane.id.to_string(),
            project_id: lane.project_id.to_string(),
            name: lane.name.clone(),
            status: lane.status.to_wire(),
            position,
            wip_limit: lane.wip_limit,
        }
    }
}

impl From<&ActivityEntry> for pb::ActivityEntry {
    fn from(a: &ActivityEntry) -> Self {
        Self {
            id: a.id,
            project_id: a.project_id.map(|p| p.to_string()).unwrap_or_default(),
            entity: a.entity.to_wire(),
            entity_id: a.entity_id.clone(),
            action: a.action.as_str().to_owned(),
            field: a.field.clone(),
            old_value: a.old_value.clone(),
            new_value: a.new_value.clone(),
            actor: a.actor.to_string(),
            at: a.at.as_millis(),
        }
    }
}

// ---- wire → domain ----------------------------------------------------------------------------

/// Implements the by-value conversion in terms of the by-reference one, which is where the work is.
macro_rules! try_from_owned {
    ($($wire:ident => $domain:ident),+ $(,)?) => {$(
        impl TryFrom<pb::$wire> for $domain {
            type Error = Error;
            fn try_from(wire: pb::$wire) -> Result<Self> {
                Self::try_from(&wire)
            }
        }
    )+};
}

try_from_owned! {
    Project => Project,
    Member => ProjectMember,
    WorkItem => WorkItem,
    Sprint => Sprint,
    Comment => Comment,
    TimeEntry => TimeEntry,
    Dependency => Dependency,
    SwimLane => SwimLane,
}

impl TryFrom<&pb::Project> for Project {
    type Error = Error;

    /// `next_item_number` is the server's counter and is not on the wire: the result holds 0, which
    /// no stored project has, so it cannot be mistaken for a real value.
    fn try_from(p: &pb::Project) -> Result<Self> {
        Ok(Self {
            id: parse(&p.id, "id", ProjectId::parse)?,
            key: parse(&p.key, "key", ProjectKey::parse)?,
            title: parse(&p.title, "title", Title::parse)?,
            description: parse(&p.description, "description", Description::parse)?,
            status: ProjectStatus::from_wire(p.status, "status")?,
            next_item_number: 0,
            version: p.version,
            created_at: ts(p.created_at),
            created_by: user(&p.created_by, "created_by")?,
            updated_at: ts(p.updated_at),
            updated_by: user(&p.updated_by, "updated_by")?,
            deleted_at: None,
        })
    }
}

impl TryFrom<&pb::Member> for ProjectMember {
    type Error = Error;

    fn try_from(m: &pb::Member) -> Result<Self> {
        Ok(Self {
            project_id: parse(&m.project_id, "project_id", ProjectId::parse)?,
            user_id: user(&m.user_id, "user_id")?,
            role: ProjectRole::from_wire(m.role, "role")?,
            version: m.version,
            created_at: ts(m.created_at),
            created_by: user(&m.created_by, "created_by")?,
            updated_at: ts(m.updated_at),
            updated_by: user(&m.updated_by, "updated_by")?,
        })
    }
}

impl TryFrom<&pb::WorkItem> for WorkItem {
    type Error = Error;

    /// The derived `blocked` and `logged_ms` are dropped; `key` and `number` must agree.
    fn try_from(w: &pb::WorkItem) -> Result<Self> {
        let key = parse(&w.key, "key", ItemKey::parse)?;
        if key.number != w.number {
            return Err(Error::Rule(RuleViolation::Invalid {
                field: "number",
                reason: "does not match the number in key",
            }));
        }
        Ok(Self {
            id: parse(&w.id, "id", WorkItemId::parse)?,
            project_id: parse(&w.project_id, "project_id", ProjectId::parse)?,
            key,
            item_type: WorkItemType::from_wire(w.r#type, "type")?,
            parent_id: parse_opt(w.parent_id.as_deref(), "parent_id", WorkItemId::parse)?,
            title: parse(&w.title, "title", Title::parse)?,
            description: parse(&w.description, "description", Description::parse)?,
            status: WorkItemStatus::from_wire(w.status, "status")?,
            priority: Priority::from_wire(w.priority, "priority")?,
            story_points: story_points(w.story_points, "story_points")?,
            assignee: parse_opt(w.assignee.as_deref(), "assignee", UserId::parse)?,
            sprint_id: parse_opt(w.sprint_id.as_deref(), "sprint_id", SprintId::parse)?,
            position: w.position.clone(),
            version: w.version,
            created_at: ts(w.created_at),
            created_by: user(&w.created_by, "created_by")?,
            updated_at: ts(w.updated_at),
            updated_by: user(&w.updated_by, "updated_by")?,
            deleted_at: None,
        })
    }
}

impl TryFrom<&pb::Sprint> for Sprint {
    type Error = Error;

    fn try_from(s: &pb::Sprint) -> Result<Self> {
        Ok(Self {
            id: parse(&s.id, "id", SprintId::parse)?,
            project_id: parse(&s.project_id, "project_id", ProjectId::parse)?,
            name: parse(&s.name, "name", SprintName::parse)?,
            goal: parse(&s.goal, "goal", SprintGoal::parse)?,
            starts_at: s.starts_at.map(ts),
            ends_at: s.ends_at.map(ts),
            status: SprintStatus::from_wire(s.status, "status")?,
            version: s.version,
            created_at: ts(s.created_at),
            created_by: user(&s.created_by, "created_by")?,
            updated_at: ts(s.updated_at),
            updated_by: user(&s.updated_by, "updated_by")?,
            deleted_at: None,
        })
    }
}

impl TryFrom<&pb::Comment> for Comment {
    type Error = Error;

    /// `project_id` is dropped: the domain reaches the project through the work item.
    fn try_from(c: &pb::Comment) -> Result<Self> {
        Ok(Self {
            id: parse(&c.id, "id", CommentId::parse)?,
            work_item_id: parse(&c.work_item_id, "work_item_id", WorkItemId::parse)?,
            author: user(&c.author, "author")?,
            body: parse(&c.body, "body", CommentBody::parse)?,
            version: c.version,
            created_at: ts(c.created_at),
            updated_at: ts(c.updated_at),
            deleted_at: None,
        })
    }
}

impl TryFrom<&pb::TimeEntry> for TimeEntry {
    type Error = Error;

    /// `project_id` is dropped: the domain reaches the project through the work item.
    fn try_from(e: &pb::TimeEntry) -> Result<Self> {
        Ok(Self {
            id: parse(&e.id, "id", TimeEntryId::parse)?,
            work_item_id: parse(&e.work_item_id, "work_item_id", WorkItemId::parse)?,
            user_id: user(&e.user_id, "user_id")?,
            started_at: ts(e.started_at),
            ended_at: e.ended_at.map(ts),
            duration_ms: e.duration_ms,
            description: parse(&e.description, "description", TimeEntryNote::parse)?,
            version: e.version,
            created_at: ts(e.created_at),
            updated_at: ts(e.updated_at),
            deleted_at: None,
        })
    }
}

impl TryFrom<&pb::Dependency> for Dependency {
    type Error = Error;

    /// The items' keys are dropped (the domain links items by id), but they must still be keys.
    fn try_from(d: &pb::Dependency) -> Result<Self> {
        parse(&d.blocking_key, "blocking_key", ItemKey::parse)?;
        parse(&d.blocked_key, "blocked_key", ItemKey::parse)?;
        Ok(Self {
            id: parse(&d.id, "id", DependencyId::parse)?,
            project_id: parse(&d.project_id, "project_id", ProjectId::parse)?,
            blocking_id: parse(&d.blocking_id, "blocking_id", WorkItemId::parse)?,
            blocked_id: parse(&d.blocked_id, "blocked_id", WorkItemId::parse)?,
            dep_type: DependencyType::from_wire(d.r#type, "type")?,
            created_at: ts(d.created_at),
            created_by: user(&d.created_by, "created_by")?,
            deleted_at: None,
        })
    }
}

impl TryFrom<&pb::SwimLane> for SwimLane {
    type Error = Error;

    /// pm-core has no parser for lane names; only an empty one, which proto3 cannot tell from an
    /// absent one, is refused here.
    fn try_from(l: &pb::SwimLane) -> Result<Self> {
        if l.name.trim().is_empty() {
            return Err(Error::Missing { field: "name" });
        }
        Ok(Self {
            id: parse(&l.id, "id", SwimLaneId::parse)?,
            project_id: parse(&l.project_id, "project_id", ProjectId::parse)?,
            name: l.name.clone(),
            status: WorkItemStatus::from_wire(l.status, "status")?,
            position: i64::from(l.position),
            wip_limit: l.wip_limit,
        })
    }
}

#[cfg(test)]
mod tests;
