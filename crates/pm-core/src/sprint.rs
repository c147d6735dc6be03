use crate::{RuleResult, RuleViolation};

string_enum!(
    SprintStatus, field = "status" {
        Planned = "planned",
        Active = "active",
        Completed = "completed",
        Cancelled = "cancelled",
    }
);

/// Checks a sprint lifecycle step: planned → active → completed, and planned or active → cancelled.
/// Completed and cancelled sprints are final.
pub fn check_sprint_transition(from: SprintStatus, to: SprintStatus) -> RuleResult<()> {
    use SprintStatus::*;
    match (from, to) {
        (Planned, Active) | (Active, Completed) | (Planned | Active, Cancelled) => Ok(()),
        _ => Err(RuleViolation::SprintTransition { from, to }),
    }
}

/// Whether items may be added to, removed from or edited in a sprint with this status: completed
/// and cancelled sprints are a read-only record.
pub const fn sprint_accepts_items(status: SprintStatus) -> bool {
    matches!(status, SprintStatus::Planned | SprintStatus::Active)
}

#[cfg(test)]
mod tests {
    use super::*;
    use SprintStatus::*;

    #[test]
    fn a_planned_sprint_can_start_or_be_cancelled() {
        assert!(check_sprint_transition(Planned, Active).is_ok());
        assert!(check_sprint_transition(Planned, Cancelled).is_ok());
        assert!(check_sprint_transition(Planned, Completed).is_err());
    }

    #[test]
    fn an_active_sprint_can_complete_or_be_cancelled_but_not_restart() {
        assert!(check_sprint_transition(Active, Completed).is_ok());
        assert!(check_sprint_transition(Active, Cancelled).is_ok());
        assert!(check_sprint_transition(Active, Planned).is_err());
        assert!(check_sprint_transition(Active, Active).is_err());
    }

    #[test]
    fn completed_and_cancelled_sprints_are_final() {
        for to in SprintStatus::ALL {
            assert!(check_sprint_transition(Completed, *to).is_err());
            assert!(check_sprint_transition(Cancelled, *to).is_err());
        }
    }

    #[test]
    fn only_planned_and_active_sprints_accept_items() {
        assert!(sprint_accepts_items(Planned));
        assert!(sprint_accepts_items(Active));
        assert!(!sprint_accepts_items(Completed));
        assert!(!sprint_accepts_items(Cancelled));
    }
}
