use crate::{SprintStatus, WorkItemType};

/// A domain rule that a requested change would break.
///
/// Every variant that is about one input names that input in `field` (the protocol's field name),
/// so the error can be shown next to the right form control.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    #[error("{field} must be {min} to {max} characters long (got {actual})")]
    Length {
        field: &'static str,
        min: usize,
        max: usize,
        actual: usize,
    },
    #[error("{field} must be between {min} and {max} (got {actual})")]
    OutOfRange {
        field: &'static str,
        min: i64,
        max: i64,
        actual: i64,
    },
    #[error("{field} is invalid: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("a {child} cannot have {}", describe_parent(*.parent))]
    ParentType {
        child: WorkItemType,
        parent: Option<WorkItemType>,
    },
    #[error("an item cannot become a descendant of itself")]
    ParentCycle,
    #[error("a sprint cannot go from {from} to {to}")]
    SprintTransition {
        from: SprintStatus,
        to: SprintStatus,
    },
    #[error("an item cannot depend on itself")]
    SelfDependency,
    #[error("the dependency would form a cycle: {}", .path.join(" → "))]
    DependencyCycle { path: Vec<String> },
}

fn describe_parent(parent: Option<WorkItemType>) -> String {
    match parent {
        Some(t) => format!("a {t} as its parent"),
        None => "no parent".to_owned(),
    }
}

impl RuleViolation {
    /// The input the violation is about, when it is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Length { field, .. }
            | Self::OutOfRange { field, .. }
            | Self::Invalid { field, .. } => Some(field),
            Self::ParentType { .. } | Self::ParentCycle => Some("parent_id"),
            Self::SprintTransition { .. } => Some("status"),
            Self::SelfDependency | Self::DependencyCycle { .. } => Some("blocked_id"),
        }
    }
}

pub type RuleResult<T> = Result<T, RuleViolation>;
