use pm_core::{
    Action, ActivityAction, EntityKind, ProjectRole, TIME_ENTRY_MAX_MS, TenantRole, TimeEntry,
    TimeEntryId, TimeEntryNote, TimeRange, Timestamp, UserId, WorkItem, validate_time_range,
};
use pm_db::{time_entry, work_item};
use pm_proto::{field, pb};

use crate::access::require;
use crate::commands::work_item::load as load_item;
use crate::lookup;
use crate::mutation::{Diff, Mutation};
use crate::service::Read;
use crate::view;
use crate::{Error, Result};

fn entry_range(t: &TimeEntry) -> TimeRange {
    TimeRange {
        start: t.started_at,
        end: t.ended_at,
    }
}

/// Records an entry's change and the new logged total of its item.
async fn record(
    m: &mut Mutation<'_>,
    item: &WorkItem,
    before: Option<&TimeEntry>,
    entry: &TimeEntry,
    action: ActivityAction,
) -> Result<pb::TimeEntry> {
    let wire = pb::TimeEntry::from_domain(entry, item.project_id);
    let change = if action == ActivityAction::Deleted {
        pb::change::Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::TimeEntry.into(),
            id: entry.id.to_string(),
        })
    } else {
        pb::change::Change::TimeEntry(wire.clone())
    };
    let fields = match before {
        Some(b) => {
            let mut d = Diff::default();
            d.field("started_at", &b.started_at, &entry.started_at)
                .optional("ended_at", b.ended_at.as_ref(), entry.ended_at.as_ref())
                .field("description", &b.description, &entry.description);
            d.0
        }
        None => Vec::new(),
    };
    m.record(
        item.project_id,
        EntityKind::TimeEntry,
        entry.id.to_string(),
        action,
        change,
        fields,
    );
    // The item's logged total is derived from finished entries: announce it when it moves.
    let finished_changed = entry.ended_at.is_some() || before.is_some_and(|b| b.ended_at.is_some());
    if finished_changed {
        let current = work_item::get(m.tx, item.id).await?;
        let item_wire = view::item(m.tx, &current).await?;
        m.emit(
            item.project_id,
            EntityKind::WorkItem,
            item.id.to_string(),
            ActivityAction::Updated,
            pb::change::Change::WorkItem(item_wire),
        );
    }
    Ok(wire)
}

/// Ends a running entry now, or at its 24-hour limit if it has run longer than that.
pub(crate) async fn stop_entry(m: &mut Mutation<'_>, running: &TimeEntry) -> Result<pb::TimeEntry> {
    let item = work_item::get(m.tx, running.work_item_id).await?;
    let latest = running.started_at.plus_millis(TIME_ENTRY_MAX_MS);
    let mut stopped = running.clone();
    stopped.ended_at = Some(m.at.min(latest).max(running.started_at.plus_millis(1)));
    stopped.updated_at = m.at;
    let stored = time_entry::update(m.tx, &stopped, running.version).await?;
    record(m, &item, Some(running), &stored, ActivityAction::Updated).await
}

pub(crate) async fn start(m: &mut Mutation<'_>, c: pb::StartTimer) -> Result<pb::TimerResponse> {
    let item_id = lookup::work_item_id(m.tx, &c.work_item_id, "work_item_id").await?;
    let (item, _) = load_item(m.tx, &m.actor, item_id, Action::Edit).await?;
    let description = field::parse(&c.description, "description", TimeEntryNote::parse)?;
    // The single writer serialises concurrent starts, so the running timer seen here is the
    // current one; the partial unique index would refuse a second one anyway.
    let stopped = match time_entry::running_for_user(m.tx, &m.actor.user).await? {
        Some(running) => Some(stop_entry(m, &running).await?),
        None => None,
    };
    let entry = TimeEntry {
        id: TimeEntryId::new(),
        work_item_id: item.id,
        user_id: m.actor.user.clone(),
        started_at: m.at,
        ended_at: None,
        duration_ms: None,
        description,
        version: 1,
        created_at: m.at,
        updated_at: m.at,
        deleted_at: None,
    };
    time_entry::insert(m.tx, &entry).await?;
    let wire = record(m, &item, None, &entry, ActivityAction::Created).await?;
    Ok(pb::TimerResponse {
        entry: Some(wire),
        stopped,
    })
}

pub(crate) async fn stop(m: &mut Mutation<'_>, _: pb::StopTimer) -> Result<pb::TimerResponse> {
    let running = time_entry::running_for_user(m.tx, &m.actor.user)
        .await?
        .ok_or(Error::NotFound {
            entity: EntityKind::TimeEntry,
        })?;
    let stopped = stop_entry(m, &running).await?;
    Ok(pb::TimerResponse {
        entry: Some(stopped),
        stopped: None,
    })
}

pub(crate) async fn add(
    m: &mut Mutation<'_>,
    c: pb::AddTimeEntry,
) -> Result<pb::TimeEntryResponse> {
    let item_id = lookup::work_item_id(m.tx, &c.work_item_id, "work_item_id").await?;
    let (item, _) = load_item(m.tx, &m.actor, item_id, Action::Edit).await?;
    let start = field::timestamp(c.started_at, "started_at")?;
    let end = match (c.ended_at, c.duration_ms) {
        (Some(end), None) => field::timestamp(end, "ended_at")?,
        (None, Some(duration)) => {
            if duration <= 0 {
                return Err(Error::validation("duration_ms", "must be positive"));
            }
            start.plus_millis(duration)
        }
        (None, None) => {
            return Err(Error::validation(
                "ended_at",
                "give ended_at or duration_ms",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(Error::validation(
                "duration_ms",
                "give ended_at or duration_ms, not both",
            ));
        }
    };
    validate_time_range(
        TimeRange {
            start,
            end: Some(end),
        },
        m.at,
    )?;
    let entry = TimeEntry {
        id: TimeEntryId::new(),
        work_item_id: item.id,
        user_id: m.actor.user.clone(),
        started_at: start,
        ended_at: Some(end),
        duration_ms: Some(end.as_millis() - start.as_millis()),
        description: field::parse(&c.description, "description", TimeEntryNote::parse)?,
        version: 1,
        created_at: m.at,
        updated_at: m.at,
        deleted_at: None,
    };
    time_entry::insert(m.tx, &entry).await?;
    let wire = record(m, &item, None, &entry, ActivityAction::Created).await?;
    Ok(pb::TimeEntryResponse { entry: Some(wire) })
}

/// Loads an entry the caller may change: their own, or any in a project they administer.
async fn load_own(m: &mut Mutation<'_>, raw_id: &str) -> Result<(TimeEntry, WorkItem)> {
    let id = field::parse(raw_id, "time_entry_id", TimeEntryId::parse)?;
    let entry = time_entry::get(m.tx, id).await?;
    let item = work_item::get(m.tx, entry.work_item_id).await?;
    let (_, role) = require(m.tx, &m.actor, item.project_id, Action::Edit).await?;
    if entry.user_id != m.actor.user && role != ProjectRole::Admin {
        return Err(Error::PermissionDenied(
            "only the owner or a project admin changes a time entry",
        ));
    }
    Ok((entry, item))
}

pub(crate) async fn edit(
    m: &mut Mutation<'_>,
    c: pb::EditTimeEntry,
) -> Result<pb::TimeEntryResponse> {
    let (before, item) = load_own(m, &c.time_entry_id).await?;
    let mut after = before.clone();
    if let Some(start) = c.started_at {
        after.started_at = field::timestamp(start, "started_at")?;
    }
    if let Some(end) = c.ended_at {
        if before.ended_at.is_none() {
            return Err(Error::validation(
                "ended_at",
                "stop a running timer with StopTimer",
            ));
        }
        after.ended_at = Some(field::timestamp(end, "ended_at")?);
    }
    if let Some(description) = c.description.as_deref() {
        after.description = field::parse(description, "description", TimeEntryNote::parse)?;
    }
    validate_time_range(entry_range(&after), m.at)?;
    after.updated_at = m.at;
    let stored =
        time_entry::update(m.tx, &after, c.version)
            .await
            .map_err(|e| match Error::from(e) {
                Error::Conflict {
                    message,
                    current_version,
                    ..
                } => Error::Conflict {
                    message,
                    current_version,
                    current: Some(Box::new(pb::error::Current::TimeEntry(
                        pb::TimeEntry::from_domain(&before, item.project_id),
                    ))),
                },
                other => other,
            })?;
    let wire = record(m, &item, Some(&before), &stored, ActivityAction::Updated).await?;
    Ok(pb::TimeEntryResponse { entry: Some(wire) })
}

pub(crate) async fn delete(m: &mut Mutation<'_>, c: pb::DeleteTimeEntry) -> Result<pb::Deleted> {
    let (entry, item) = load_own(m, &c.time_entry_id).await?;
    time_entry::soft_delete(m.tx, entry.id, c.version, m.at).await?;
    record(m, &item, None, &entry, ActivityAction::Deleted).await?;
    Ok(pb::Deleted {
        id: entry.id.to_string(),
    })
}

/// The default window of a user's time list: the last 30 days.
const DEFAULT_LIST_WINDOW_MS: i64 = 30 * 24 * 60 * 60 * 1000;

pub(crate) async fn list(r: &mut Read, c: pb::ListTimeEntries) -> Result<pb::TimeEntryList> {
    if let Some(raw) = c.work_item_id.as_deref() {
        let item_id = lookup::work_item_id(&mut r.conn, raw, "work_item_id").await?;
        let (item, _) = load_item(&mut r.conn, &r.actor, item_id, Action::Read).await?;
        let entries = time_entry::list_for_item(&mut r.conn, item.id).await?;
        return Ok(pb::TimeEntryList {
            entries: entries
                .iter()
                .map(|t| pb::TimeEntry::from_domain(t, item.project_id))
                .collect(),
        });
    }
    let user = match c.user_id.as_deref() {
        Some(raw) => field::parse(raw, "user_id", UserId::parse)?,
        None => r.actor.user.clone(),
    };
    if user != r.actor.user && r.actor.role != TenantRole::Admin {
        return Err(Error::PermissionDenied(
            "only tenant admins list other users' time",
        ));
    }
    let to = field::opt_timestamp(c.to, "to")?.unwrap_or_else(|| Timestamp::now().plus_millis(1));
    let from = field::opt_timestamp(c.from, "from")?
        .unwrap_or_else(|| to.plus_millis(-DEFAULT_LIST_WINDOW_MS));
    let entries = time_entry::list_for_user(&mut r.conn, &user, from, to).await?;
    let mut out = Vec::with_capacity(entries.len());
    for t in &entries {
        match work_item::get(&mut r.conn, t.work_item_id).await {
            Ok(item) => out.push(pb::TimeEntry::from_domain(t, item.project_id)),
            // Entries on deleted items are not listed.
            Err(pm_db::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(pb::TimeEntryList { entries: out })
}

pub(crate) async fn running(r: &mut Read, _: pb::GetRunningTimer) -> Result<pb::RunningTimer> {
    let Some(entry) = time_entry::running_for_user(&mut r.conn, &r.actor.user).await? else {
        return Ok(pb::RunningTimer { entry: None });
    };
    let item = work_item::get(&mut r.conn, entry.work_item_id).await?;
    Ok(pb::RunningTimer {
        entry: Some(pb::TimeEntry::from_domain(&entry, item.project_id)),
    })
}

pub(crate) async fn totals(r: &mut Read, c: pb::GetTimeTotals) -> Result<pb::TimeTotals> {
    let project = lookup::project_id(&mut r.conn, &c.project_id, "project_id").await?;
    require(&mut r.conn, &r.actor, project, Action::Read).await?;
    let from = field::opt_timestamp(c.from, "from")?.unwrap_or(Timestamp::from_millis(0));
    let to = field::opt_timestamp(c.to, "to")?.unwrap_or(Timestamp::from_millis(i64::MAX));
    let (per_item, per_user) = time_entry::totals(&mut r.conn, project, from, to).await?;
    let mut items = Vec::with_capacity(per_item.len());
    for (id, total_ms) in per_item {
        let key = match work_item::get(&mut r.conn, id).await {
            Ok(item) => item.key.to_string(),
            Err(pm_db::Error::NotFound { .. }) => String::new(),
            Err(e) => return Err(e.into()),
        };
        items.push(pb::ItemTotal {
            work_item_id: id.to_string(),
            key,
            total_ms,
        });
    }
    let total_ms = per_user.iter().map(|(_, t)| t).sum();
    Ok(pb::TimeTotals {
        per_item: items,
        per_user: per_user
            .into_iter()
            .map(|(user, total_ms)| pb::UserTotal {
                user_id: user.to_string(),
                total_ms,
            })
            .collect(),
        total_ms,
    })
}
