use pm_core::{
    Action, ActivityAction, EntityKind, RuleViolation, Sprint, SprintGoal, SprintId, SprintName,
    SprintStatus, Timestamp, check_sprint_transition, sprint_accepts_items,
};
use pm_db::{Connection, sprint, work_item};
use pm_proto::{field, pb};

use crate::access::require;
use crate::commands::work_item::save as save_item;
use crate::lookup;
use crate::mutation::{Diff, Mutation};
use crate::query::{self, hide_unreadable};
use crate::service::Read;
use crate::view;
use crate::{Error, Result};

fn sprint_id(raw: &str) -> Result<SprintId> {
    Ok(field::parse(raw, "sprint_id", SprintId::parse)?)
}

fn check_dates(starts_at: Option<Timestamp>, ends_at: Option<Timestamp>) -> Result<()> {
    if let (Some(s), Some(e)) = (starts_at, ends_at)
        && e <= s
    {
        return Err(RuleViolation::Invalid {
            field: "ends_at",
            reason: "must be after the start",
        }
        .into());
    }
    Ok(())
}

async fn load(m: &mut Mutation<'_>, raw_id: &str, action: Action) -> Result<Sprint> {
    let s = sprint::get(m.tx, sprint_id(raw_id)?).await?;
    require(m.tx, &m.actor, s.project_id, action).await?;
    Ok(s)
}

async fn record(m: &mut Mutation<'_>, before: Option<&Sprint>, stored: &Sprint) -> Result<()> {
    let (action, fields) = match before {
        None => (ActivityAction::Created, Vec::new()),
        Some(b) => {
            let mut d = Diff::default();
            d.field("name", &b.name, &stored.name)
                .field("goal", &b.goal, &stored.goal)
                .optional("starts_at", b.starts_at.as_ref(), stored.starts_at.as_ref())
                .optional("ends_at", b.ends_at.as_ref(), stored.ends_at.as_ref())
                .field("status", &b.status, &stored.status);
            (ActivityAction::Updated, d.0)
        }
    };
    m.record(
        stored.project_id,
        EntityKind::Sprint,
        stored.id.to_string(),
        action,
        pb::change::Change::Sprint(stored.into()),
        fields,
    );
    Ok(())
}

pub(crate) async fn create(
    m: &mut Mutation<'_>,
    c: pb::CreateSprint,
) -> Result<pb::SprintResponse> {
    let project = lookup::project_id(m.tx, &c.project_id, "project_id").await?;
    require(m.tx, &m.actor, project, Action::Edit).await?;
    let starts_at = field::opt_timestamp(c.starts_at, "starts_at")?;
    let ends_at = field::opt_timestamp(c.ends_at, "ends_at")?;
    check_dates(starts_at, ends_at)?;
    let s = Sprint {
        id: SprintId::new(),
        project_id: project,
        name: field::parse(&c.name, "name", SprintName::parse)?,
        goal: field::parse(&c.goal, "goal", SprintGoal::parse)?,
        starts_at,
        ends_at,
        status: SprintStatus::Planned,
        version: 1,
        created_at: m.at,
        created_by: m.actor.user.clone(),
        updated_at: m.at,
        updated_by: m.actor.user.clone(),
        deleted_at: None,
    };
    sprint::insert(m.tx, &s).await?;
    record(m, None, &s).await?;
    Ok(pb::SprintResponse {
        sprint: Some((&s).into()),
    })
}

/// Attaches the sprint's stored state (read in this transaction) to a conflict, so the client can
/// rebase without a read.
fn with_current(err: pm_db::Error, current: &Sprint) -> Error {
    match Error::from(err) {
        Error::Conflict {
            message,
            current_version,
            ..
        } => Error::Conflict {
            message,
            current_version,
            current: Some(Box::new(pb::error::Current::Sprint(current.into()))),
        },
        other => other,
    }
}

async fn save(
    m: &mut Mutation<'_>,
    before: &Sprint,
    mut after: Sprint,
    version: i64,
) -> Result<Sprint> {
    after.updated_at = m.at;
    after.updated_by = m.actor.user.clone();
    let stored = sprint::update(m.tx, &after, version)
        .await
        .map_err(|e| with_current(e, before))?;
    record(m, Some(before), &stored).await?;
    Ok(stored)
}

pub(crate) async fn update(
    m: &mut Mutation<'_>,
    c: pb::UpdateSprint,
) -> Result<pb::SprintResponse> {
    let before = load(m, &c.sprint_id, Action::Edit).await?;
    if !sprint_accepts_items(before.status) {
        return Err(Error::conflict(format!(
            "the sprint is {}; it is read-only",
            before.status
        )));
    }
    let mut after = before.clone();
    if let Some(name) = c.name.as_deref() {
        after.name = field::parse(name, "name", SprintName::parse)?;
    }
    if let Some(goal) = c.goal.as_deref() {
        after.goal = field::parse(goal, "goal", SprintGoal::parse)?;
    }
    if let Some(starts_at) = field::time_patch(c.starts_at.as_ref(), "starts_at")? {
        after.starts_at = starts_at;
    }
    if let Some(ends_at) = field::time_patch(c.ends_at.as_ref(), "ends_at")? {
        after.ends_at = ends_at;
    }
    check_dates(after.starts_at, after.ends_at)?;
    let stored = save(m, &before, after, c.version).await?;
    Ok(pb::SprintResponse {
        sprint: Some((&stored).into()),
    })
}

async fn transition(
    m: &mut Mutation<'_>,
    raw_id: &str,
    version: i64,
    to: SprintStatus,
) -> Result<(Sprint, Sprint)> {
    let before = load(m, raw_id, Action::ManageSprints).await?;
    // The request is well-formed; the sprint's state forbids it: a conflict, not a validation error.
    check_sprint_transition(before.status, to).map_err(|v| Error::conflict(v.to_string()))?;
    let mut after = before.clone();
    after.status = to;
    if to == SprintStatus::Active && after.starts_at.is_none() {
        after.starts_at = Some(m.at);
    }
    let stored = save(m, &before, after, version).await?;
    Ok((before, stored))
}

pub(crate) async fn start(m: &mut Mutation<'_>, c: pb::StartSprint) -> Result<pb::SprintResponse> {
    let (_, stored) = transition(m, &c.sprint_id, c.version, SprintStatus::Active).await?;
    Ok(pb::SprintResponse {
        sprint: Some((&stored).into()),
    })
}

pub(crate) async fn complete(
    m: &mut Mutation<'_>,
    c: pb::CompleteSprint,
) -> Result<pb::SprintCompleted> {
    let target = field::parse_opt(
        c.move_open_items_to.as_deref(),
        "move_open_items_to",
        SprintId::parse,
    )?;
    // Access first: whoever may not complete the sprint learns nothing about the target.
    let current = load(m, &c.sprint_id, Action::ManageSprints).await?;
    if let Some(target) = target {
        let t = match sprint::get(m.tx, target).await {
            Ok(t) if t.project_id == current.project_id && t.id != current.id => t,
            Ok(_) | Err(pm_db::Error::NotFound { .. }) => {
                return Err(Error::validation(
                    "move_open_items_to",
                    "not another live sprint of this project",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if t.status != SprintStatus::Planned {
            return Err(Error::validation(
                "move_open_items_to",
                "unfinished items can only move to a planned sprint",
            ));
        }
    }
    let (_, stored) = transition(m, &c.sprint_id, c.version, SprintStatus::Completed).await?;
    // The sprint is completed (read-only) now; its items move out as part of completing it.
    let moved = move_open_items_of(m, stored.id, target).await?;
    Ok(pb::SprintCompleted {
        sprint: Some((&stored).into()),
        moved,
    })
}

/// Moves every unfinished item of `from` to `to` (or out of any sprint), returning them as stored.
/// Runs right after `from` became read-only: the move is part of that lifecycle step.
async fn move_open_items_of(
    m: &mut Mutation<'_>,
    from: SprintId,
    to: Option<SprintId>,
) -> Result<Vec<pb::WorkItem>> {
    let mut moved = Vec::new();
    for item in work_item::in_sprint(m.tx, from).await? {
        if item.status.is_done() {
            continue;
        }
        let mut after = item.clone();
        after.sprint_id = to;
        let derived = view::derived(m.tx, item.id).await?;
        moved.push(save_item(m, &item, after, item.version, derived).await?);
    }
    Ok(moved)
}

pub(crate) async fn cancel(
    m: &mut Mutation<'_>,
    c: pb::CancelSprint,
) -> Result<pb::SprintResponse> {
    let (_, stored) = transition(m, &c.sprint_id, c.version, SprintStatus::Cancelled).await?;
    move_open_items_of(m, stored.id, None).await?;
    Ok(pb::SprintResponse {
        sprint: Some((&stored).into()),
    })
}

pub(crate) async fn delete(m: &mut Mutation<'_>, c: pb::DeleteSprint) -> Result<pb::Deleted> {
    let s = load(m, &c.sprint_id, Action::Delete).await?;
    if s.status == SprintStatus::Completed {
        return Err(Error::conflict(
            "a completed sprint is a record and cannot be deleted",
        ));
    }
    // Its items, finished or not, go back to the backlog.
    for item in work_item::in_sprint(m.tx, s.id).await? {
        let mut after = item.clone();
        after.sprint_id = None;
        let derived = view::derived(m.tx, item.id).await?;
        save_item(m, &item, after, item.version, derived).await?;
    }
    sprint::soft_delete(m.tx, s.id, c.version, m.at, &m.actor.user)
        .await
        .map_err(|e| with_current(e, &s))?;
    m.record(
        s.project_id,
        EntityKind::Sprint,
        s.id.to_string(),
        ActivityAction::Deleted,
        pb::change::Change::Deleted(pb::EntityDeleted {
            entity: pb::EntityKind::Sprint.into(),
            id: s.id.to_string(),
        }),
        Vec::new(),
    );
    Ok(pb::Deleted {
        id: s.id.to_string(),
    })
}

pub(crate) async fn list(r: &mut Read, c: pb::ListSprints) -> Result<pb::SprintList> {
    let (_, sprints) = query::sprint::list(&mut r.conn, &r.actor, &c.project_id)
        .await
        .map_err(|e| hide_unreadable(e).in_field("project", "project_id"))?;
    Ok(pb::SprintList {
        sprints: sprints.iter().map(Into::into).collect(),
    })
}

pub(crate) async fn get(r: &mut Read, c: pb::GetSprint) -> Result<pb::SprintDetail> {
    let detail = query::sprint::get(&mut r.conn, &r.actor, &c.sprint_id)
        .await
        .map_err(|e| hide_unreadable(e).in_field("sprint", "sprint_id"))?;
    // The wire lists the sprint's items by column and position (as stored: the status text,
    // then the position's bytes), as it always did.
    let mut items = detail.items;
    items.sort_by(|a, b| {
        let key = |i: &query::Item| (i.item.status.as_str(), i.item.position.as_bytes().to_vec());
        key(a).cmp(&key(b))
    });
    Ok(pb::SprintDetail {
        sprint: Some((&detail.sprint).into()),
        total_points: detail.totals.points,
        done_points: detail.totals.done_points,
        item_count: detail.totals.items,
        done_count: detail.totals.done_items,
        work_items: view::items(&items),
    })
}

/// The sprint's burndown, day by day (see `pm_core::burndown`).
pub(crate) async fn burndown(r: &mut Read, c: pb::GetSprintBurndown) -> Result<pb::SprintBurndown> {
    let offset = c.utc_offset_minutes;
    if !(-840..=840).contains(&offset) {
        return Err(Error::validation(
            "utc_offset_minutes",
            "a time zone offset between -840 and 840 minutes",
        ));
    }
    let mut tx = r.conn.begin().await.map_err(pm_db::Error::from)?;
    let s = sprint::get(&mut tx, sprint_id(&c.sprint_id)?).await?;
    require(&mut tx, &r.actor, s.project_id, Action::Read).await?;
    let timelines = pm_db::activity::burndown_timelines(&mut tx, s.id).await?;
    tx.commit().await.map_err(pm_db::Error::from)?;
    let now = Timestamp::now();
    // A closed sprint's open items left it the moment it closed: its last point is taken just
    // before (closed sprints are read-only, so their last update is the closing).
    let cutoff = match s.status {
        SprintStatus::Completed | SprintStatus::Cancelled => s.updated_at.plus_millis(-1),
        SprintStatus::Planned | SprintStatus::Active => now,
    };
    let from = s.starts_at.unwrap_or(s.created_at);
    let to = s.ends_at.unwrap_or(cutoff).min(cutoff);
    let days = pm_core::day_starts(from, to, offset);
    let instants: Vec<Timestamp> = days.iter().map(|d| pm_core::day_end(*d, cutoff)).collect();
    let points = pm_core::burndown(s.id, &timelines, &instants);
    Ok(pb::SprintBurndown {
        sprint: Some((&s).into()),
        days: days
            .iter()
            .zip(points)
            .map(|(day, p)| pb::BurndownDay {
                day: day.as_millis(),
                remaining_points: p.remaining_points,
                remaining_items: p.remaining_items,
                scope_points: p.scope_points,
            })
            .collect(),
    })
}
