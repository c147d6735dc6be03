//! Domain enums ↔ their protobuf enums.
//!
//! Going out is infallible. Coming in is not: protobuf enums are open (any `i32` decodes), and every
//! pm enum starts with an `UNSPECIFIED` zero that a proto3 field holds whenever a client left it
//! out. Both are refused with [`Error::UnknownEnum`] naming the field.

use pm_core::{
    DependencyType, EntityKind, Priority, ProjectRole, ProjectStatus, SprintStatus, TenantRole,
    WorkItemStatus, WorkItemType,
};

use crate::{Error, Result, pb};

/// A domain enum with a protobuf counterpart.
pub trait WireEnum: Sized + Copy {
    /// The generated protobuf enum.
    type Wire: Copy + Into<i32>;

    /// The protobuf enum value.
    fn to_wire_enum(self) -> Self::Wire;

    /// The number stored in generated message fields.
    fn to_wire(self) -> i32 {
        self.to_wire_enum().into()
    }

    /// Reads a field's value (its `i32` or the generated enum); `field` names it in the error.
    fn from_wire(value: impl Into<i32>, field: &'static str) -> Result<Self>;
}

/// Pairs a domain enum with its protobuf enum, variant by variant. The variant names are the same
/// on both sides (prost strips the `WORK_ITEM_STATUS_` prefixes), and both matches are exhaustive,
/// so a variant added on either side without the other fails to compile.
macro_rules! wire_enum {
    ($($domain:ident { $($variant:ident),+ $(,)? })+) => {$(
        impl WireEnum for $domain {
            type Wire = pb::$domain;

            fn to_wire_enum(self) -> pb::$domain {
                match self {
                    $($domain::$variant => pb::$domain::$variant,)+
                }
            }

            fn from_wire(value: impl Into<i32>, field: &'static str) -> Result<Self> {
                let value = value.into();
                match pb::$domain::try_from(value) {
                    $(Ok(pb::$domain::$variant) => Ok($domain::$variant),)+
                    Ok(pb::$domain::Unspecified) | Err(_) => Err(Error::UnknownEnum { field, value }),
                }
            }
        }

        impl From<$domain> for pb::$domain {
            fn from(value: $domain) -> Self {
                value.to_wire_enum()
            }
        }
    )+};
}

wire_enum! {
    ProjectStatus { Active, Archived }
    ProjectRole { Viewer, Editor, Admin }
    TenantRole { Viewer, Editor, Admin }
    WorkItemType { Epic, Story, Task }
    WorkItemStatus { Backlog, Todo, InProgress, Review, Done }
    Priority { Critical, High, Medium, Low }
    SprintStatus { Planned, Active, Completed, Cancelled }
    DependencyType { Blocks, RelatesTo }
    EntityKind { Project, Member, WorkItem, Sprint, Comment, TimeEntry, Dependency, SwimLane }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_round_trips<E>(all: &[E])
    where
        E: WireEnum + PartialEq + std::fmt::Debug,
        E::Wire: TryFrom<i32>,
    {
        for value in all {
            let wire = value.to_wire();
            assert_ne!(wire, 0, "{value:?} went out as UNSPECIFIED");
            assert_eq!(E::from_wire(wire, "f").ok(), Some(*value));
            assert_eq!(E::from_wire(value.to_wire_enum(), "f").ok(), Some(*value));
        }
        // Every wire value except UNSPECIFIED has a domain counterpart.
        let wire_values = (0..100).filter(|n| E::Wire::try_from(*n).is_ok()).count();
        assert_eq!(all.len() + 1, wire_values);
    }

    #[test]
    fn every_domain_enum_round_trips_through_its_wire_enum() {
        assert_round_trips(ProjectStatus::ALL);
        assert_round_trips(ProjectRole::ALL);
        assert_round_trips(TenantRole::ALL);
        assert_round_trips(WorkItemType::ALL);
        assert_round_trips(WorkItemStatus::ALL);
        assert_round_trips(Priority::ALL);
        assert_round_trips(SprintStatus::ALL);
        assert_round_trips(DependencyType::ALL);
        assert_round_trips(EntityKind::ALL);
    }

    #[test]
    fn unspecified_is_refused_and_names_the_field() {
        let err = WorkItemStatus::from_wire(pb::WorkItemStatus::Unspecified, "status").unwrap_err();
        assert_eq!(
            err,
            Error::UnknownEnum {
                field: "status",
                value: 0
            }
        );
        assert_eq!(err.field(), Some("status"));
    }

    #[test]
    fn a_number_from_a_newer_protocol_is_refused_and_names_the_field() {
        let err = Priority::from_wire(99, "priority").unwrap_err();
        assert_eq!(
            err,
            Error::UnknownEnum {
                field: "priority",
                value: 99
            }
        );
        assert!(ProjectRole::from_wire(-1, "role").is_err());
    }

    #[test]
    fn wire_numbers_match_the_proto_file() {
        assert_eq!(WorkItemStatus::InProgress.to_wire(), 3);
        assert_eq!(Priority::Critical.to_wire(), 1);
        assert_eq!(EntityKind::SwimLane.to_wire(), 8);
        assert_eq!(DependencyType::RelatesTo.to_wire(), 2);
    }
}
