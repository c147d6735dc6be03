//! A sprint's burndown: how many points (and items) of the sprint were not yet done at the end of
//! each day. Rebuilt from each item's current state and the field changes the activity log holds,
//! read backwards: undoing every change made after an instant gives the item as it was then. So
//! scope added or removed mid-sprint, reopened items and re-estimates all show as they happened.

use crate::{SprintId, Timestamp, WorkItemStatus};

/// What a burndown needs to know of an item at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurndownState {
    pub sprint: Option<SprintId>,
    pub status: WorkItemStatus,
    pub points: Option<u32>,
}

/// A recorded change of a field a burndown follows, holding the value from *before* it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorValue {
    Sprint(Option<SprintId>),
    Status(WorkItemStatus),
    Points(Option<u32>),
}

/// One item's history as far as a burndown cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemTimeline {
    pub created_at: Timestamp,
    /// When it was deleted, if it was: from then on it counts nowhere.
    pub deleted_at: Option<Timestamp>,
    /// Its state now (for a deleted item, just before deletion).
    pub now: BurndownState,
    /// Field changes in the order they were made.
    pub changes: Vec<(Timestamp, PriorValue)>,
}

impl ItemTimeline {
    /// The item as it was at `at`; `None` when it did not exist (yet or any more).
    pub fn state_at(&self, at: Timestamp) -> Option<BurndownState> {
        if at < self.created_at || self.deleted_at.is_some_and(|d| at >= d) {
            return None;
        }
        let mut state = self.now;
        for (when, prior) in self.changes.iter().rev() {
            if *when <= at {
                break;
            }
            match *prior {
                PriorValue::Sprint(s) => state.sprint = s,
                PriorValue::Status(s) => state.status = s,
                PriorValue::Points(p) => state.points = p,
            }
        }
        Some(state)
    }
}

/// One point of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BurndownPoint {
    /// Points of the sprint's items not done.
    pub remaining_points: u32,
    /// Items of the sprint not done.
    pub remaining_items: u32,
    /// Points of all the sprint's items, done or not (the scope).
    pub scope_points: u32,
}

/// The sprint's burndown at each of `instants`.
pub fn burndown(
    sprint: SprintId,
    items: &[ItemTimeline],
    instants: &[Timestamp],
) -> Vec<BurndownPoint> {
    instants
        .iter()
        .map(|&at| {
            let mut point = BurndownPoint::default();
            for state in items.iter().filter_map(|i| i.state_at(at)) {
                if state.sprint != Some(sprint) {
                    continue;
                }
                let points = state.points.unwrap_or(0);
                point.scope_points = point.scope_points.saturating_add(points);
                if !state.status.is_done() {
                    point.remaining_points = point.remaining_points.saturating_add(points);
                    point.remaining_items = point.remaining_items.saturating_add(1);
                }
            }
            point
        })
        .collect()
}

/// Milliseconds in a day.
const DAY_MS: i64 = 24 * 3600 * 1000;

/// At most this many days are charted (a sprint longer than a year is charted up to a year).
pub const BURNDOWN_MAX_DAYS: usize = 366;

/// The start of every day from the one holding `from` to the one holding `to`, in a time zone
/// `utc_offset_minutes` east of UTC, at most [`BURNDOWN_MAX_DAYS`].
pub fn day_starts(from: Timestamp, to: Timestamp, utc_offset_minutes: i32) -> Vec<Timestamp> {
    let offset = i64::from(utc_offset_minutes) * 60_000;
    let first = (from.as_millis() + offset).div_euclid(DAY_MS) * DAY_MS - offset;
    let mut days = Vec::new();
    let mut day = first;
    while day <= to.as_millis() && days.len() < BURNDOWN_MAX_DAYS {
        days.push(Timestamp::from_millis(day));
        day += DAY_MS;
    }
    days
}

/// The instant a day's point is taken: its last millisecond, or `cutoff` when that is earlier (today,
/// or the moment before a sprint was closed and its open items moved out).
pub fn day_end(day_start: Timestamp, cutoff: Timestamp) -> Timestamp {
    Timestamp::from_millis((day_start.as_millis() + DAY_MS - 1).min(cutoff.as_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;

    fn t(hours: i64) -> Timestamp {
        Timestamp::from_millis(1_000 * DAY_MS + hours * H)
    }

    fn item(sprint: SprintId, status: WorkItemStatus, points: u32) -> ItemTimeline {
        ItemTimeline {
            created_at: t(0),
            deleted_at: None,
            now: BurndownState {
                sprint: Some(sprint),
                status,
                points: Some(points),
            },
            changes: Vec::new(),
        }
    }

    #[test]
    fn an_item_done_on_the_second_day_burns_its_points_from_that_day_on() {
        let s = SprintId::new();
        let mut a = item(s, WorkItemStatus::Done, 5);
        a.changes
            .push((t(30), PriorValue::Status(WorkItemStatus::InProgress)));
        let b = item(s, WorkItemStatus::Todo, 3);
        let points = burndown(s, &[a, b], &[t(23), t(47)]);
        assert_eq!(points[0].remaining_points, 8);
        assert_eq!(points[1].remaining_points, 3);
        assert_eq!(points[1].remaining_items, 1);
        assert_eq!(points[1].scope_points, 8);
    }

    #[test]
    fn scope_added_mid_sprint_raises_the_line_when_it_was_added() {
        let s = SprintId::new();
        let mut late = item(s, WorkItemStatus::Todo, 8);
        late.changes.push((t(30), PriorValue::Sprint(None)));
        let points = burndown(s, &[late], &[t(23), t(47)]);
        assert_eq!((points[0].scope_points, points[1].scope_points), (0, 8));
    }

    #[test]
    fn an_item_moved_out_at_completion_still_counts_before_it_left() {
        let s = SprintId::new();
        let mut open = item(s, WorkItemStatus::Todo, 2);
        open.now.sprint = None;
        open.changes.push((t(50), PriorValue::Sprint(Some(s))));
        let points = burndown(s, &[open], &[t(49), t(51)]);
        assert_eq!(
            (points[0].remaining_points, points[1].remaining_points),
            (2, 0)
        );
    }

    #[test]
    fn re_estimates_and_reopenings_are_undone_in_reverse_order() {
        let s = SprintId::new();
        let mut a = item(s, WorkItemStatus::Todo, 13);
        a.changes = vec![
            (t(10), PriorValue::Points(Some(5))),
            (t(20), PriorValue::Status(WorkItemStatus::Todo)),
            (t(30), PriorValue::Status(WorkItemStatus::Done)),
        ];
        let state = |h| a.state_at(t(h)).unwrap();
        assert_eq!(state(5).points, Some(5));
        assert_eq!(state(15).points, Some(13));
        assert_eq!(state(25).status, WorkItemStatus::Done);
        assert_eq!(state(35).status, WorkItemStatus::Todo);
    }

    #[test]
    fn an_item_counts_only_between_its_creation_and_its_deletion() {
        let s = SprintId::new();
        let mut a = item(s, WorkItemStatus::Todo, 1);
        a.created_at = t(10);
        a.deleted_at = Some(t(20));
        assert!(a.state_at(t(5)).is_none());
        assert!(a.state_at(t(15)).is_some());
        assert!(a.state_at(t(20)).is_none());
    }

    #[test]
    fn days_start_at_local_midnight_and_are_capped_at_a_year() {
        // 02:00 UTC on day 1000 is still the previous day in UTC-5.
        let days = day_starts(t(2), t(2), -300);
        assert_eq!(days, [Timestamp::from_millis(999 * DAY_MS + 5 * H)]);
        let days = day_starts(t(0), t(24 * 3 - 1), 0);
        assert_eq!(days.len(), 3);
        assert_eq!(day_starts(t(0), t(24 * 1000), 0).len(), BURNDOWN_MAX_DAYS);
    }

    #[test]
    fn a_days_point_is_taken_at_its_end_or_at_the_cutoff_if_earlier() {
        assert_eq!(
            day_end(t(0), t(100)),
            Timestamp::from_millis(t(24).as_millis() - 1)
        );
        assert_eq!(day_end(t(0), t(5)), t(5));
    }
}
