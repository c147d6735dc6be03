//! Every size limit of the domain, written once. Validation, the protocol documentation and the
//! database CHECK constraints all follow these numbers.

/// Work item and project titles, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Markdown descriptions of projects and work items, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 50_000;
/// Comment bodies, in characters.
pub const COMMENT_MAX_CHARS: usize = 10_000;
/// Sprint names, in characters.
pub const SPRINT_NAME_MAX_CHARS: usize = 100;
/// Sprint goals, in characters.
pub const SPRINT_GOAL_MAX_CHARS: usize = 1_000;
/// Time entry descriptions, in characters.
pub const TIME_ENTRY_NOTE_MAX_CHARS: usize = 1_000;
/// Story points an item may carry (inclusive).
pub const STORY_POINTS_MAX: u32 = 100;
/// Project keys: 2 to 10 upper-case ASCII letters or digits, starting with a letter.
pub const PROJECT_KEY_MIN_CHARS: usize = 2;
pub const PROJECT_KEY_MAX_CHARS: usize = 10;
/// Tenant ids become directory names, so they are short and drawn from a safe alphabet.
pub const TENANT_ID_MAX_CHARS: usize = 64;
/// User ids come from the identity provider's `sub` claim.
pub const USER_ID_MAX_CHARS: usize = 128;
/// A single time entry may not be longer than a day.
pub const TIME_ENTRY_MAX_MS: i64 = 24 * 60 * 60 * 1000;
/// The earliest instant a client may name, in milliseconds: the Unix epoch. Work tracked in pm does
/// not predate 1970, and negative instants are what a sign or unit mistake produces.
pub const TIMESTAMP_MIN_MS: i64 = 0;
/// The latest instant a client may name: the last millisecond of year 9999 (UTC). Every calendar a
/// client renders reaches it, and arithmetic on instants in range (durations, windows, skew) stays
/// far from overflowing an `i64`.
pub const TIMESTAMP_MAX_MS: i64 = 253_402_300_799_999;
/// How far into the future a client clock may be before its timestamps are refused.
pub const CLOCK_SKEW_TOLERANCE_MS: i64 = 2 * 60 * 1000;
