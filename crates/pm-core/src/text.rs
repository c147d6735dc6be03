use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    COMMENT_MAX_CHARS, DESCRIPTION_MAX_CHARS, RuleResult, RuleViolation, SPRINT_GOAL_MAX_CHARS,
    SPRINT_NAME_MAX_CHARS, TIME_ENTRY_NOTE_MAX_CHARS, TITLE_MAX_CHARS,
};

/// Declares a text newtype with a length range in characters (Unicode scalar values, which is what
/// a user counts, not bytes). Single-line kinds are trimmed and refuse control characters; markdown
/// kinds keep their text exactly as written.
macro_rules! bounded_text {
    ($(#[$meta:meta])* $name:ident, field = $field:literal, min = $min:expr, max = $max:expr, single_line = $single:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const FIELD: &'static str = $field;

            pub fn parse(s: &str) -> RuleResult<Self> {
                let s = if $single { s.trim() } else { s };
                let len = s.chars().count();
                if !($min..=$max).contains(&len) {
                    return Err(RuleViolation::Length { field: $field, min: $min, max: $max, actual: len });
                }
                if $single && s.chars().any(char::is_control) {
                    return Err(RuleViolation::Invalid { field: $field, reason: "must be a single line" });
                }
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = RuleViolation;
            fn try_from(s: String) -> RuleResult<Self> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

bounded_text!(
    /// A project or work item title: 1–200 characters on one line.
    Title, field = "title", min = 1, max = TITLE_MAX_CHARS, single_line = true
);
bounded_text!(
    /// Markdown description of a project or work item; may be empty.
    Description, field = "description", min = 0, max = DESCRIPTION_MAX_CHARS, single_line = false
);
bounded_text!(
    /// Markdown body of a comment: 1–10,000 characters.
    CommentBody, field = "body", min = 1, max = COMMENT_MAX_CHARS, single_line = false
);
bounded_text!(
    /// Sprint name: 1–100 characters on one line.
    SprintName, field = "name", min = 1, max = SPRINT_NAME_MAX_CHARS, single_line = true
);
bounded_text!(
    /// What a sprint sets out to achieve; may be empty.
    SprintGoal, field = "goal", min = 0, max = SPRINT_GOAL_MAX_CHARS, single_line = false
);
bounded_text!(
    /// What a time entry was spent on; may be empty.
    TimeEntryNote, field = "description", min = 0, max = TIME_ENTRY_NOTE_MAX_CHARS, single_line = false
);

impl Description {
    pub fn empty() -> Self {
        Self(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_trimmed_and_must_keep_at_least_one_character() {
        assert_eq!(Title::parse("  Fix login  ").unwrap().as_str(), "Fix login");
        let err = Title::parse("   ").unwrap_err();
        assert_eq!(err.field(), Some("title"));
    }

    #[test]
    fn a_title_may_have_two_hundred_characters_but_not_more() {
        assert!(Title::parse(&"é".repeat(TITLE_MAX_CHARS)).is_ok());
        assert!(matches!(
            Title::parse(&"é".repeat(TITLE_MAX_CHARS + 1)),
            Err(RuleViolation::Length { actual: 201, .. })
        ));
    }

    #[test]
    fn a_title_is_a_single_line() {
        assert!(Title::parse("one\ntwo").is_err());
    }

    #[test]
    fn a_description_keeps_markdown_exactly_and_may_be_empty() {
        let md = "# Heading\n\n- item\n";
        assert_eq!(Description::parse(md).unwrap().as_str(), md);
        assert!(Description::parse("").is_ok());
        assert!(Description::parse(&"x".repeat(DESCRIPTION_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn a_comment_needs_one_to_ten_thousand_characters() {
        assert!(CommentBody::parse("").is_err());
        assert!(CommentBody::parse(&"x".repeat(COMMENT_MAX_CHARS)).is_ok());
        assert!(CommentBody::parse(&"x".repeat(COMMENT_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn a_sprint_name_needs_one_to_a_hundred_characters() {
        assert!(SprintName::parse("Sprint 1").is_ok());
        assert!(SprintName::parse("").is_err());
        assert!(SprintName::parse(&"x".repeat(SPRINT_NAME_MAX_CHARS + 1)).is_err());
    }
}
