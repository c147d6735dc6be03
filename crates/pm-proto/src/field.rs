//! Reading one field of a wire message into a domain value.
//!
//! pm-core's parsers name a default field in their errors (`WorkItemId::parse` says
//! `"work_item_id"`), but the same type arrives under many wire names (`parent_id`, `blocking_id`,
//! `after_id`). These helpers take the wire name and put it in the error, so a client is always told
//! which of *its* fields was wrong.

use pm_core::{RuleResult, RuleViolation, StoryPoints};

use crate::{Error, Result, pb};

/// Renames the field of a violation to `field`, the wire's name for the input.
pub fn named<T>(result: RuleResult<T>, field: &'static str) -> Result<T> {
    result.map_err(|violation| Error::Rule(rename(violation, field)))
}

fn rename(violation: RuleViolation, field: &'static str) -> RuleViolation {
    match violation {
        RuleViolation::Length {
            min, max, actual, ..
        } => RuleViolation::Length {
            field,
            min,
            max,
            actual,
        },
        RuleViolation::OutOfRange {
            min, max, actual, ..
        } => RuleViolation::OutOfRange {
            field,
            min,
            max,
            actual,
        },
        RuleViolation::Invalid { reason, .. } => RuleViolation::Invalid { field, reason },
        // The remaining violations are about relations between inputs, not the text of one.
        other => other,
    }
}

/// Parses a text field with a pm-core parser such as `WorkItemId::parse` or `Title::parse`.
pub fn parse<T>(
    value: &str,
    field: &'static str,
    parser: impl FnOnce(&str) -> RuleResult<T>,
) -> Result<T> {
    named(parser(value), field)
}

/// Parses an `optional string` field; absent stays `None`.
pub fn parse_opt<T>(
    value: Option<&str>,
    field: &'static str,
    parser: impl FnOnce(&str) -> RuleResult<T>,
) -> Result<Option<T>> {
    value.map(|v| parse(v, field, parser)).transpose()
}

/// Unwraps a message field that must be present (proto3 has no `required`).
pub fn required<T>(value: Option<T>, field: &'static str) -> Result<T> {
    value.ok_or(Error::Missing { field })
}

/// Story points from an `optional uint32` field.
pub fn story_points(value: Option<u32>, field: &'static str) -> Result<Option<StoryPoints>> {
    value
        .map(|p| named(StoryPoints::try_from(p), field))
        .transpose()
}

/// Reads a [`pb::StringPatch`]: `None` = leave unchanged, `Some(None)` = clear, `Some(Some(v))` =
/// set to `v`.
pub fn string_patch<T>(
    patch: Option<&pb::StringPatch>,
    field: &'static str,
    parser: impl FnOnce(&str) -> RuleResult<T>,
) -> Result<Option<Option<T>>> {
    patch
        .map(|p| parse_opt(p.value.as_deref(), field, parser))
        .transpose()
}

/// Reads a [`pb::PointsPatch`] with the same meaning as [`string_patch`].
pub fn points_patch(
    patch: Option<&pb::PointsPatch>,
    field: &'static str,
) -> Result<Option<Option<StoryPoints>>> {
    patch.map(|p| story_points(p.value, field)).transpose()
}

/// An instant a client sent (`int64` milliseconds since the epoch), refused when outside the range
/// pm accepts ([`pm_core::Timestamp::parse_millis`]).
pub fn timestamp(ms: i64, field: &'static str) -> Result<pm_core::Timestamp> {
    named(pm_core::Timestamp::parse_millis(ms), field)
}

/// An `optional int64` instant; absent stays `None`.
pub fn opt_timestamp(ms: Option<i64>, field: &'static str) -> Result<Option<pm_core::Timestamp>> {
    ms.map(|ms| timestamp(ms, field)).transpose()
}

/// Reads a [`pb::TimePatch`] with the same meaning as [`string_patch`].
pub fn time_patch(
    patch: Option<&pb::TimePatch>,
    field: &'static str,
) -> Result<Option<Option<pm_core::Timestamp>>> {
    patch.map(|p| opt_timestamp(p.value, field)).transpose()
}

impl pb::StringPatch {
    /// A patch that sets the field to `value`.
    pub fn set(value: impl Into<String>) -> Self {
        Self {
            value: Some(value.into()),
        }
    }

    /// A patch that clears the field.
    pub fn clear() -> Self {
        Self { value: None }
    }
}

impl pb::TimePatch {
    /// A patch that sets the time to `value`.
    pub fn set(value: pm_core::Timestamp) -> Self {
        Self {
            value: Some(value.as_millis()),
        }
    }

    /// A patch that clears the time.
    pub fn clear() -> Self {
        Self { value: None }
    }
}

impl pb::PointsPatch {
    /// A patch that sets the story points to `value`.
    pub fn set(value: u32) -> Self {
        Self { value: Some(value) }
    }

    /// A patch that clears the story points.
    pub fn clear() -> Self {
        Self { value: None }
    }
}

#[cfg(test)]
mod tests {
    use pm_core::{Title, UserId, WorkItemId};

    use super::*;

    #[test]
    fn an_instant_out_of_range_is_reported_under_the_wire_name_of_its_field() {
        let err = timestamp(i64::MIN, "started_at").unwrap_err();
        assert_eq!(err.field(), Some("started_at"));
        assert_eq!(opt_timestamp(None, "from"), Ok(None));
        let patch = pb::TimePatch { value: Some(-1) };
        let err = time_patch(Some(&patch), "ends_at").unwrap_err();
        assert_eq!(err.field(), Some("ends_at"));
        let clear = pb::TimePatch { value: None };
        assert_eq!(time_patch(Some(&clear), "ends_at"), Ok(Some(None)));
    }

    #[test]
    fn a_bad_id_is_reported_under_the_wire_name_of_its_field() {
        let err = parse("nope", "parent_id", WorkItemId::parse).unwrap_err();
        assert_eq!(err.field(), Some("parent_id"));
    }

    #[test]
    fn a_too_long_text_keeps_its_length_details_under_the_new_name() {
        let err = parse(&"x".repeat(201), "name", Title::parse).unwrap_err();
        assert!(matches!(
            err,
            Error::Rule(RuleViolation::Length {
                field: "name",
                actual: 201,
                ..
            })
        ));
    }

    #[test]
    fn an_absent_optional_field_is_none_and_a_present_one_is_parsed() {
        assert_eq!(parse_opt(None, "assignee", UserId::parse), Ok(None));
        let alice = parse_opt(Some("alice"), "assignee", UserId::parse).unwrap();
        assert_eq!(alice.as_ref().map(UserId::as_str), Some("alice"));
        assert_eq!(
            parse_opt(Some(""), "assignee", UserId::parse)
                .unwrap_err()
                .field(),
            Some("assignee")
        );
    }

    #[test]
    fn a_missing_message_is_reported_by_name() {
        assert_eq!(
            required::<pb::Project>(None, "project"),
            Err(Error::Missing { field: "project" })
        );
    }

    #[test]
    fn an_absent_patch_keeps_an_empty_patch_clears_and_a_valued_patch_sets() {
        assert_eq!(string_patch(None, "assignee", UserId::parse), Ok(None));
        assert_eq!(
            string_patch(Some(&pb::StringPatch::clear()), "assignee", UserId::parse),
            Ok(Some(None))
        );
        let set = string_patch(
            Some(&pb::StringPatch::set("bob")),
            "assignee",
            UserId::parse,
        );
        assert_eq!(set, Ok(Some(Some(UserId::parse("bob").unwrap()))));
    }

    #[test]
    fn a_patch_with_an_invalid_value_names_the_patched_field() {
        let err = string_patch(
            Some(&pb::StringPatch::set("x")),
            "sprint_id",
            WorkItemId::parse,
        );
        assert_eq!(err.unwrap_err().field(), Some("sprint_id"));
    }

    #[test]
    fn a_points_patch_sets_clears_and_refuses_more_than_the_maximum() {
        assert_eq!(points_patch(None, "story_points"), Ok(None));
        assert_eq!(
            points_patch(Some(&pb::PointsPatch::clear()), "story_points"),
            Ok(Some(None))
        );
        assert_eq!(
            points_patch(Some(&pb::PointsPatch::set(8)), "story_points"),
            Ok(Some(Some(StoryPoints::new(8).unwrap())))
        );
        let err = points_patch(Some(&pb::PointsPatch::set(101)), "story_points").unwrap_err();
        assert_eq!(err.field(), Some("story_points"));
    }
}
