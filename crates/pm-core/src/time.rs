use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{RuleResult, RuleViolation, TIMESTAMP_MAX_MS, TIMESTAMP_MIN_MS};

/// An instant, in whole milliseconds since the Unix epoch (UTC).
///
/// Milliseconds in an `i64` are what every layer can carry without loss (SQLite INTEGER, protobuf
/// int64, JavaScript numbers up to 2^53) and they sort and subtract without parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Reads an instant that came from outside (a client's field), refusing anything before
    /// [`TIMESTAMP_MIN_MS`] or after [`TIMESTAMP_MAX_MS`]. The violation names the field
    /// `timestamp`; callers rename it to their input's name.
    pub fn parse_millis(ms: i64) -> RuleResult<Self> {
        if (TIMESTAMP_MIN_MS..=TIMESTAMP_MAX_MS).contains(&ms) {
            Ok(Self(ms))
        } else {
            Err(RuleViolation::OutOfRange {
                field: "timestamp",
                min: TIMESTAMP_MIN_MS,
                max: TIMESTAMP_MAX_MS,
                actual: ms,
            })
        }
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The current time. This reads the clock, which is the only ambient input pm-core allows.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_from_the_epoch_to_the_end_of_year_9999_is_accepted() {
        for ms in [0, 1_764_547_200_000, TIMESTAMP_MAX_MS] {
            assert_eq!(Timestamp::parse_millis(ms).unwrap().as_millis(), ms);
        }
    }

    #[test]
    fn an_instant_before_the_epoch_is_refused_as_out_of_range() {
        for ms in [-1, i64::MIN] {
            assert_eq!(
                Timestamp::parse_millis(ms),
                Err(RuleViolation::OutOfRange {
                    field: "timestamp",
                    min: 0,
                    max: TIMESTAMP_MAX_MS,
                    actual: ms,
                })
            );
        }
    }

    #[test]
    fn an_instant_after_year_9999_is_refused_as_out_of_range() {
        for ms in [TIMESTAMP_MAX_MS + 1, i64::MAX] {
            let err = Timestamp::parse_millis(ms).unwrap_err();
            assert_eq!(err.field(), Some("timestamp"), "{ms}");
        }
    }

    #[test]
    fn the_last_accepted_millisecond_is_the_end_of_year_9999_utc() {
        // 10000-01-01T00:00:00Z is 253,402,300,800 seconds after the epoch.
        assert_eq!(TIMESTAMP_MAX_MS + 1, 253_402_300_800 * 1000);
    }
}
