use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    PROJECT_KEY_MAX_CHARS, PROJECT_KEY_MIN_CHARS, RuleResult, RuleViolation, TENANT_ID_MAX_CHARS,
    USER_ID_MAX_CHARS,
};

/// Declares a newtype id over a UUID. New ids are version 7 (time-ordered) so that rows inserted
/// together sit together in B-tree indexes; parsing accepts any UUID in its hyphenated form.
macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the hyphenated text form; the error names the protocol field.
            pub fn parse(s: &str) -> RuleResult<Self> {
                Uuid::try_parse(s).map(Self).map_err(|_| RuleViolation::Invalid {
                    field: $field,
                    reason: "not a UUID",
                })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = RuleViolation;
            fn from_str(s: &str) -> RuleResult<Self> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(ProjectId, "project_id");
uuid_id!(WorkItemId, "work_item_id");
uuid_id!(SprintId, "sprint_id");
uuid_id!(CommentId, "comment_id");
uuid_id!(TimeEntryId, "time_entry_id");
uuid_id!(DependencyId, "dependency_id");
uuid_id!(SwimLaneId, "swim_lane_id");
uuid_id!(
    /// The client-chosen id of a request, also the idempotency key of a mutation.
    RequestId,
    "request_id"
);

/// A tenant: one organisation, one SQLite file. The id becomes a directory name, so it is limited to
/// lower-case ASCII letters, digits, `-` and `_`, starts with a letter or digit, and is at most
/// [`TENANT_ID_MAX_CHARS`] long. `..`, `/`, empty and over-long ids cannot be constructed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(s: &str) -> RuleResult<Self> {
        let len = s.chars().count();
        if len == 0 || len > TENANT_ID_MAX_CHARS {
            return Err(RuleViolation::Length {
                field: "tenant_id",
                min: 1,
                max: TENANT_ID_MAX_CHARS,
                actual: len,
            });
        }
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !(first_ok && rest_ok) {
            return Err(RuleViolation::Invalid {
                field: "tenant_id",
                reason: "use lower-case letters, digits, '-' and '_', starting with a letter or digit",
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = RuleViolation;
    fn try_from(s: String) -> RuleResult<Self> {
        Self::parse(&s)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> Self {
        id.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user, as named by the identity provider (the JWT `sub` claim). pm keeps no user table: a user
/// exists wherever a token names them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> RuleResult<Self> {
        let len = s.chars().count();
        if len == 0 || len > USER_ID_MAX_CHARS {
            return Err(RuleViolation::Length {
                field: "user_id",
                min: 1,
                max: USER_ID_MAX_CHARS,
                actual: len,
            });
        }
        if s.trim() != s || s.chars().any(char::is_control) {
            return Err(RuleViolation::Invalid {
                field: "user_id",
                reason: "no surrounding spaces or control characters",
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = RuleViolation;
    fn try_from(s: String) -> RuleResult<Self> {
        Self::parse(&s)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The short human key of a project (`WEB`): 2–10 upper-case ASCII letters or digits, starting with
/// a letter so that an item key such as `WEB-42` always splits unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectKey(String);

impl ProjectKey {
    pub fn parse(s: &str) -> RuleResult<Self> {
        let len = s.chars().count();
        if !(PROJECT_KEY_MIN_CHARS..=PROJECT_KEY_MAX_CHARS).contains(&len) {
            return Err(RuleViolation::Length {
                field: "key",
                min: PROJECT_KEY_MIN_CHARS,
                max: PROJECT_KEY_MAX_CHARS,
                actual: len,
            });
        }
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase());
        let rest_ok = chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !(first_ok && rest_ok) {
            return Err(RuleViolation::Invalid {
                field: "key",
                reason: "use upper-case letters and digits, starting with a letter",
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProjectKey {
    type Error = RuleViolation;
    fn try_from(s: String) -> RuleResult<Self> {
        Self::parse(&s)
    }
}

impl From<ProjectKey> for String {
    fn from(key: ProjectKey) -> Self {
        key.0
    }
}

impl fmt::Display for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The human key of a work item: its project's key and its number in that project (`WEB-42`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemKey {
    pub project: ProjectKey,
    pub number: i64,
}

impl ItemKey {
    pub fn parse(s: &str) -> RuleResult<Self> {
        let invalid = RuleViolation::Invalid {
            field: "key",
            reason: "expected a project key, '-', and a positive number, as in WEB-42",
        };
        let (project, number) = s.split_once('-').ok_or(invalid.clone())?;
        let project = ProjectKey::parse(project).map_err(|_| invalid.clone())?;
        if number.is_empty()
            || !number.bytes().all(|b| b.is_ascii_digit())
            || number.starts_with('0')
        {
            return Err(invalid);
        }
        let number = number.parse::<i64>().map_err(|_| invalid)?;
        Ok(Self { project, number })
    }
}

impl TryFrom<String> for ItemKey {
    type Error = RuleViolation;
    fn try_from(s: String) -> RuleResult<Self> {
        Self::parse(&s)
    }
}

impl From<ItemKey> for String {
    fn from(key: ItemKey) -> Self {
        key.to_string()
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.project, self.number)
    }
}

/// How a request names a project: by its id or by its key, in any letter case (`web` names `WEB`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    Id(ProjectId),
    Key(ProjectKey),
}

impl ProjectRef {
    /// Parses an id (a UUID) or a key; the error names `field`'s default, `project_id`.
    pub fn parse(s: &str) -> RuleResult<Self> {
        if let Ok(id) = ProjectId::parse(s) {
            return Ok(Self::Id(id));
        }
        ProjectKey::parse(&s.to_ascii_uppercase())
            .map(Self::Key)
            .map_err(|_| RuleViolation::Invalid {
                field: "project_id",
                reason: "expected a project id or key, as in WEB",
            })
    }
}

/// How a request names a work item: by its id or by its key, in any letter case (`web-42`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkItemRef {
    Id(WorkItemId),
    Key(ItemKey),
}

impl WorkItemRef {
    /// Parses an id (a UUID) or a key; the error names `field`'s default, `work_item_id`.
    pub fn parse(s: &str) -> RuleResult<Self> {
        if let Ok(id) = WorkItemId::parse(s) {
            return Ok(Self::Id(id));
        }
        ItemKey::parse(&s.to_ascii_uppercase())
            .map(Self::Key)
            .map_err(|_| RuleViolation::Invalid {
                field: "work_item_id",
                reason: "expected a work item id or key, as in WEB-42",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_that_could_escape_the_data_directory_are_refused() {
        for bad in [
            "", "..", "../x", "a/b", "a\\b", ".hidden", "-x", "Acme", "a b", "é",
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(TenantId::parse(&"a".repeat(TENANT_ID_MAX_CHARS + 1)).is_err());
        assert!(TenantId::parse(&"a".repeat(TENANT_ID_MAX_CHARS)).is_ok());
        assert_eq!(
            TenantId::parse("acme-corp_2").unwrap().as_str(),
            "acme-corp_2"
        );
    }

    #[test]
    fn project_keys_are_two_to_ten_upper_case_letters_or_digits_starting_with_a_letter() {
        for good in ["WEB", "AB", "A1", "ABCDEFGHIJ"] {
            assert!(ProjectKey::parse(good).is_ok(), "{good:?} was refused");
        }
        for bad in ["W", "web", "1AB", "ABCDEFGHIJK", "WE-B", "", "WÉB"] {
            assert!(ProjectKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn item_keys_round_trip_through_text() {
        let key = ItemKey::parse("WEB-42").unwrap();
        assert_eq!(key.project.as_str(), "WEB");
        assert_eq!(key.number, 42);
        assert_eq!(key.to_string(), "WEB-42");
        for bad in [
            "WEB", "WEB-", "WEB-0", "WEB-042", "web-1", "WEB-1a", "-1", "WEB--1",
        ] {
            assert!(ItemKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn projects_are_named_by_id_or_by_key_in_any_letter_case() {
        let id = ProjectId::new();
        assert_eq!(ProjectRef::parse(&id.to_string()), Ok(ProjectRef::Id(id)));
        for named in ["WEB", "web", "Web"] {
            assert_eq!(
                ProjectRef::parse(named),
                Ok(ProjectRef::Key(ProjectKey::parse("WEB").unwrap()))
            );
        }
        for bad in ["", "w", "1web", "web-1", "not a key"] {
            let err = ProjectRef::parse(bad).unwrap_err();
            assert_eq!(err.field(), Some("project_id"), "{bad:?}");
        }
    }

    #[test]
    fn work_items_are_named_by_id_or_by_key_in_any_letter_case() {
        let id = WorkItemId::new();
        assert_eq!(WorkItemRef::parse(&id.to_string()), Ok(WorkItemRef::Id(id)));
        for named in ["WEB-42", "web-42", "Web-42"] {
            assert_eq!(
                WorkItemRef::parse(named),
                Ok(WorkItemRef::Key(ItemKey::parse("WEB-42").unwrap()))
            );
        }
        for bad in ["", "web", "web-0", "web-x", "42"] {
            let err = WorkItemRef::parse(bad).unwrap_err();
            assert_eq!(err.field(), Some("work_item_id"), "{bad:?}");
        }
    }

    #[test]
    fn user_ids_refuse_blank_padded_and_control_characters() {
        assert!(UserId::parse("alice@example.com").is_ok());
        for bad in ["", " alice", "alice ", "al\nice"] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn uuid_ids_parse_their_own_display_form_and_name_their_field() {
        let id = WorkItemId::new();
        assert_eq!(WorkItemId::parse(&id.to_string()).unwrap(), id);
        let err = WorkItemId::parse("nope").unwrap_err();
        assert_eq!(err.field(), Some("work_item_id"));
    }
}
