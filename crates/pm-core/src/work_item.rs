use serde::{Deserialize, Serialize};

use crate::{RuleResult, RuleViolation, STORY_POINTS_MAX};

string_enum!(
    /// The three levels of the hierarchy: epic → story → task.
    WorkItemType, field = "type" {
        Epic = "epic",
        Story = "story",
        Task = "task",
    }
);

string_enum!(
    /// Where an item stands. The default swim lanes of a board map one to one onto these.
    WorkItemStatus, field = "status" {
        Backlog = "backlog",
        Todo = "todo",
        InProgress = "in_progress",
        Review = "review",
        Done = "done",
    }
);

string_enum!(
    Priority, field = "priority" {
        Critical = "critical",
        High = "high",
        Medium = "medium",
        Low = "low",
    }
);

impl WorkItemType {
    /// The only type allowed as this type's parent, if it may have one.
    pub const fn allowed_parent(self) -> Option<WorkItemType> {
        match self {
            Self::Epic => None,
            Self::Story => Some(Self::Epic),
            Self::Task => Some(Self::Story),
        }
    }
}

impl WorkItemStatus {
    pub const fn is_done(self) -> bool {
        matches!(self, Self::Done)
    }
}

/// Story points: a whole number from 0 to [`STORY_POINTS_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct StoryPoints(u32);

impl StoryPoints {
    pub fn new(points: i64) -> RuleResult<Self> {
        match u32::try_from(points) {
            Ok(p) if p <= STORY_POINTS_MAX => Ok(Self(p)),
            _ => Err(RuleViolation::OutOfRange {
                field: "story_points",
                min: 0,
                max: i64::from(STORY_POINTS_MAX),
                actual: points,
            }),
        }
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for StoryPoints {
    type Error = RuleViolation;
    fn try_from(p: u32) -> RuleResult<Self> {
        Self::new(i64::from(p))
    }
}

impl From<StoryPoints> for u32 {
    fn from(p: StoryPoints) -> Self {
        p.0
    }
}

/// Checks that an item of type `child` may sit under a parent of type `parent` (or at the top
/// level when `parent` is `None`). Epics are always top level; a story may sit under an epic; a task
/// under a story. Stories and tasks may also stand alone.
pub fn check_parent(child: WorkItemType, parent: Option<WorkItemType>) -> RuleResult<()> {
    match parent {
        None => Ok(()),
        Some(p) if child.allowed_parent() == Some(p) => Ok(()),
        Some(_) => Err(RuleViolation::ParentType { child, parent }),
    }
}

/// Checks that giving `item` the parent whose ancestor chain (nearest first, starting with the new
/// parent itself) is `new_parent_chain` does not make the item its own ancestor.
///
/// The type levels already rule this out for well-formed data; the check stays because it is the
/// invariant that matters, and it costs one pass over at most three ids.
pub fn check_reparent_no_cycle<Id: PartialEq>(
    item: &Id,
    new_parent_chain: &[Id],
) -> RuleResult<()> {
    if new_parent_chain.contains(item) {
        Err(RuleViolation::ParentCycle)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epic_cannot_have_a_parent() {
        for parent in WorkItemType::ALL {
            assert!(check_parent(WorkItemType::Epic, Some(*parent)).is_err());
        }
        assert!(check_parent(WorkItemType::Epic, None).is_ok());
    }

    #[test]
    fn a_story_may_only_be_parented_by_an_epic() {
        assert!(check_parent(WorkItemType::Story, Some(WorkItemType::Epic)).is_ok());
        assert!(check_parent(WorkItemType::Story, Some(WorkItemType::Story)).is_err());
        assert!(check_parent(WorkItemType::Story, Some(WorkItemType::Task)).is_err());
    }

    #[test]
    fn a_task_may_only_be_parented_by_a_story() {
        assert!(check_parent(WorkItemType::Task, Some(WorkItemType::Story)).is_ok());
        assert!(check_parent(WorkItemType::Task, Some(WorkItemType::Epic)).is_err());
        assert!(check_parent(WorkItemType::Task, Some(WorkItemType::Task)).is_err());
    }

    #[test]
    fn stories_and_tasks_may_stand_alone() {
        assert!(check_parent(WorkItemType::Story, None).is_ok());
        assert!(check_parent(WorkItemType::Task, None).is_ok());
    }

    #[test]
    fn an_item_cannot_be_reparented_under_its_own_descendant() {
        assert_eq!(
            check_reparent_no_cycle(&1, &[3, 2, 1]),
            Err(RuleViolation::ParentCycle)
        );
        assert!(check_reparent_no_cycle(&1, &[3, 2]).is_ok());
    }

    #[test]
    fn story_points_range_from_zero_to_a_hundred() {
        assert!(StoryPoints::new(0).is_ok());
        assert!(StoryPoints::new(100).is_ok());
        assert!(StoryPoints::new(101).is_err());
        assert!(StoryPoints::new(-1).is_err());
    }

    #[test]
    fn every_enum_round_trips_through_its_text() {
        for t in WorkItemType::ALL {
            assert_eq!(WorkItemType::parse(t.as_str()).unwrap(), *t);
        }
        for s in WorkItemStatus::ALL {
            assert_eq!(WorkItemStatus::parse(s.as_str()).unwrap(), *s);
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()).unwrap(), *p);
        }
        assert_eq!(
            WorkItemStatus::parse("doing").unwrap_err().field(),
            Some("status")
        );
    }
}
