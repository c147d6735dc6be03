use crate::{CLOCK_SKEW_TOLERANCE_MS, RuleResult, RuleViolation, TIME_ENTRY_MAX_MS, Timestamp};

/// The span of a time entry; `end` is `None` while the timer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

impl TimeRange {
    /// The logged duration in milliseconds, or `None` while running.
    pub fn duration_ms(&self) -> Option<i64> {
        self.end.map(|end| end.as_millis() - self.start.as_millis())
    }
}

/// Checks a time entry against the rules: both ends are instants a client may name
/// ([`Timestamp::parse_millis`]), it ends after it starts, lasts at most a day, and neither starts
/// nor ends in the future (beyond [`CLOCK_SKEW_TOLERANCE_MS`] of clock skew).
pub fn validate_time_range(range: TimeRange, now: Timestamp) -> RuleResult<()> {
    in_range(range.start, "started_at")?;
    if let Some(end) = range.end {
        in_range(end, "ended_at")?;
    }
    let latest = now.plus_millis(CLOCK_SKEW_TOLERANCE_MS);
    if range.start > latest {
        return Err(RuleViolation::Invalid {
            field: "started_at",
            reason: "cannot be in the future",
        });
    }
    if let Some(end) = range.end {
        if end > latest {
            return Err(RuleViolation::Invalid {
                field: "ended_at",
                reason: "cannot be in the future",
            });
        }
        if end <= range.start {
            return Err(RuleViolation::Invalid {
                field: "ended_at",
                reason: "must be after the start",
            });
        }
        let duration = end.as_millis() - range.start.as_millis();
        if duration > TIME_ENTRY_MAX_MS {
            return Err(RuleViolation::OutOfRange {
                field: "duration_ms",
                min: 1,
                max: TIME_ENTRY_MAX_MS,
                actual: duration,
            });
        }
    }
    Ok(())
}

fn in_range(at: Timestamp, field: &'static str) -> RuleResult<()> {
    Timestamp::parse_millis(at.as_millis())
        .map(drop)
        .map_err(|violation| match violation {
            RuleViolation::OutOfRange {
                min, max, actual, ..
            } => RuleViolation::OutOfRange {
                field,
                min,
                max,
                actual,
            },
            other => other,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 60 * 60 * 1000;
    const NOW: Timestamp = Timestamp::from_millis(1_000 * HOUR);

    fn range(start: i64, end: Option<i64>) -> TimeRange {
        TimeRange {
            start: Timestamp::from_millis(start),
            end: end.map(Timestamp::from_millis),
        }
    }

    #[test]
    fn an_entry_of_an_hour_in_the_past_is_fine() {
        let r = range(NOW.as_millis() - 2 * HOUR, Some(NOW.as_millis() - HOUR));
        assert!(validate_time_range(r, NOW).is_ok());
        assert_eq!(r.duration_ms(), Some(HOUR));
    }

    #[test]
    fn an_entry_must_end_after_it_starts() {
        let t = NOW.as_millis() - HOUR;
        let err = validate_time_range(range(t, Some(t)), NOW).unwrap_err();
        assert_eq!(err.field(), Some("ended_at"));
        assert!(validate_time_range(range(t, Some(t - 1)), NOW).is_err());
    }

    #[test]
    fn an_entry_may_last_a_day_but_not_longer() {
        let end = NOW.as_millis();
        assert!(validate_time_range(range(end - 24 * HOUR, Some(end)), NOW).is_ok());
        let err = validate_time_range(range(end - 24 * HOUR - 1, Some(end)), NOW).unwrap_err();
        assert_eq!(err.field(), Some("duration_ms"));
    }

    #[test]
    fn an_entry_cannot_start_or_end_in_the_future_beyond_the_skew_tolerance() {
        let now = NOW.as_millis();
        assert!(validate_time_range(range(now + CLOCK_SKEW_TOLERANCE_MS, None), NOW).is_ok());
        let err =
            validate_time_range(range(now + CLOCK_SKEW_TOLERANCE_MS + 1, None), NOW).unwrap_err();
        assert_eq!(err.field(), Some("started_at"));
        let err = validate_time_range(range(now - HOUR, Some(now + HOUR)), NOW).unwrap_err();
        assert_eq!(err.field(), Some("ended_at"));
    }

    #[test]
    fn an_entry_starting_before_the_epoch_is_refused_by_its_start() {
        for start in [i64::MIN, -1] {
            let err = validate_time_range(range(start, Some(NOW.as_millis())), NOW).unwrap_err();
            assert_eq!(err.field(), Some("started_at"), "{start}");
        }
    }

    #[test]
    fn an_entry_ending_before_the_epoch_is_refused_by_its_end() {
        let err = validate_time_range(range(0, Some(i64::MIN)), NOW).unwrap_err();
        assert_eq!(err.field(), Some("ended_at"));
    }

    #[test]
    fn a_running_entry_has_no_duration_yet() {
        assert_eq!(range(0, None).duration_ms(), None);
    }
}
