//! `/changes`: the tenant's change feed from the change log — the events a `/ws` subscriber
//! received — as JSON, for integrations that poll.

use axum::Json;
use axum::extract::State;
use pm_core::{EntityKind, ProjectMember};
use pm_proto::{WireEnum, pb};
use pm_ws::read::FeedGap;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::{ApiError, Common, Gone};
use super::query::{FromQuery, Params, QueryReader};
use super::view::{self, Derived, Descriptions};
use crate::state::AppState;

use pm_ws::query::{CHANGE_PAGE as PAGE, CHANGE_PAGE_MAX as PAGE_MAX};

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ChangeParams {
    /// Return changes after this sequence number: the `seq` of a project context, or the
    /// `next_since` of the previous page.
    #[param(minimum = 0)]
    since: u64,
    /// The `history_epoch` that `since` came with (from a project context or the previous page).
    /// If the tenant's history was replaced since (a restore from a backup), the answer is 410:
    /// the same sequence numbers now name different changes.
    epoch: Option<String>,
    /// Changes per page.
    #[param(default = 100, minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Characters of each work-item description (0 leaves them out); whole when left out.
    #[param(minimum = 0, maximum = 50000)]
    description_chars: Option<u32>,
}

impl FromQuery for ChangeParams {
    fn from_query(q: &mut QueryReader) -> Result<Self, ApiError> {
        let max_chars = u32::try_from(pm_core::DESCRIPTION_MAX_CHARS).unwrap_or(u32::MAX);
        Ok(Self {
            since: q
                .parse("since", "a sequence number (a whole number from 0)")?
                .ok_or_else(|| ApiError::bad_request("since", "required"))?,
            epoch: q.text("epoch")?.filter(|e| !e.is_empty()),
            limit: Some(q.limit("limit", PAGE, PAGE_MAX)?),
            description_chars: q.optional_bounded("description_chars", 0, max_chars)?,
        })
    }
}

/// A member left a project.
#[derive(Serialize, ToSchema)]
pub(crate) struct MemberRemoved {
    pub user_id: String,
}

/// An entity was deleted.
#[derive(Serialize, ToSchema)]
pub(crate) struct Deleted {
    #[schema(schema_with = view::entity_kind_schema)]
    pub entity: &'static str,
    pub id: String,
}

/// A work item became blocked or unblocked (a blocker was finished, reopened, linked or unlinked).
#[derive(Serialize, ToSchema)]
pub(crate) struct BlockedChanged {
    pub work_item_id: String,
    pub key: String,
    pub blocked: bool,
}

/// What changed: exactly one property, named after the kind of change. Upserts carry the entity's
/// whole new state (apply it if its `version` is newer than yours); deletions carry the id.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Change {
    Project(view::Project),
    Member(view::Member),
    MemberRemoved(MemberRemoved),
    WorkItem(view::WorkItem),
    Sprint(view::Sprint),
    Comment(view::Comment),
    TimeEntry(view::TimeEntry),
    Dependency(view::Dependency),
    SwimLane(view::SwimLane),
    Deleted(Deleted),
    BlockedChanged(BlockedChanged),
}

/// One committed change, as a `/ws` subscriber received it.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChangeEvent {
    /// The tenant-wide sequence number: strictly increasing, no gaps in the log (though changes of
    /// projects you cannot see are skipped here).
    pub seq: u64,
    pub project_id: String,
    /// The user whose command caused the change.
    pub actor: String,
    pub at: i64,
    /// The request that caused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub request_id: Option<String>,
    /// Left out only if the stored change could not be read (logged on the server).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub change: Option<Change>,
}

/// One page of the change feed.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChangePage {
    pub changes: Vec<ChangeEvent>,
    /// Pass as `since` for the next page (also when `changes` is empty).
    pub next_since: u64,
    /// The tenant's newest sequence number when this page was read.
    pub head: u64,
    /// Whether more changes follow `next_since` already.
    pub has_more: bool,
    /// The history epoch the sequence numbers belong to: pass it as `epoch` with `next_since`.
    pub history_epoch: String,
}

/// Poll the change feed: the changes after `since` of the projects the caller may read.
///
/// The same events a `/ws` subscriber receives, rendered as JSON. When `since` is older than the
/// retained change log, ahead of it, or of another history epoch than `epoch` (the tenant was
/// restored from a backup), the answer is 410 `resync_required` saying which: reload what you
/// mirror (e.g. the project context) and continue from its `seq` and `history_epoch`.
#[utoipa::path(
    get,
    operation_id = "listChanges",
    path = "/changes",
    tag = "changes",
    params(ChangeParams),
    responses(
        (status = 200, description = "One page of changes, in sequence order", body = ChangePage),
        Gone,
        Common
    )
)]
pub(crate) async fn list(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Params(params): Params<ChangeParams>,
) -> Result<Json<ChangePage>, ApiError> {
    let page = state
        .realtime
        .service
        .change_page(
            &caller,
            params.since,
            params.epoch.as_deref(),
            params.limit.unwrap_or(PAGE),
        )
        .await?
        .map_err(|gap| ApiError::Gone(gone_message(params.since, &gap)))?;
    let descriptions = match params.description_chars {
        None => Descriptions::Full,
        Some(n) => Descriptions::Chars(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    Ok(Json(ChangePage {
        changes: page.events.iter().map(|e| event(e, descriptions)).collect(),
        next_since: page.next_since,
        head: page.head,
        has_more: page.has_more,
        history_epoch: page.history_epoch,
    }))
}

pub(crate) fn gone_message(since: u64, gap: &FeedGap) -> String {
    let reload = "reload and poll from the seq and history_epoch of a fresh project context";
    match gap {
        FeedGap::TooOld { oldest } => format!(
            "the change log no longer holds every change after {since} (the oldest kept is \
             {oldest}); {reload}"
        ),
        FeedGap::Ahead { head } => format!(
            "since {since} is ahead of the newest change ({head}): your position comes from \
             another history; {reload}"
        ),
        FeedGap::EpochChanged { current } => format!(
            "the tenant's history was replaced (restored from a backup; the current epoch is \
             {current}): sequence numbers from your epoch name different changes now; {reload}"
        ),
    }
}

pub(crate) fn event(e: &pb::Event, descriptions: Descriptions) -> ChangeEvent {
    let change = e
        .change
        .as_ref()
        .and_then(|c| c.change.as_ref())
        .and_then(|c| match change(c, descriptions) {
            Ok(change) => Some(change),
            Err(error) => {
                tracing::warn!(seq = e.seq, %error, "a stored change could not be rendered");
                None
            }
        });
    ChangeEvent {
        seq: e.seq,
        project_id: e.project_id.clone(),
        actor: e.actor.clone(),
        at: e.at,
        request_id: (!e.request_id.is_empty()).then(|| e.request_id.clone()),
        change,
    }
}

/// The wire change as JSON, through the domain types (which validate it).
fn change(c: &pb::change::Change, descriptions: Descriptions) -> pm_proto::Result<Change> {
    use pb::change::Change as C;
    Ok(match c {
        C::Project(p) => Change::Project(view::Project::new(&p.try_into()?, None)),
        C::Member(m) => Change::Member(view::Member::from(&ProjectMember::try_from(m)?)),
        C::MemberRemoved(m) => Change::MemberRemoved(MemberRemoved {
            user_id: m.user_id.clone(),
        }),
        C::WorkItem(w) => {
            let derived = Derived {
                blocked: w.blocked,
                logged_ms: w.logged_ms,
            };
            Change::WorkItem(view::WorkItem::new(&w.try_into()?, derived, descriptions))
        }
        C::Sprint(s) => Change::Sprint(view::Sprint::new(&s.try_into()?, None)),
        C::Comment(c) => Change::Comment(view::Comment::from(&pm_core::Comment::try_from(c)?)),
        C::TimeEntry(t) => {
            Change::TimeEntry(view::TimeEntry::from(&pm_core::TimeEntry::try_from(t)?))
        }
        C::Dependency(d) => Change::Dependency(view::Dependency::new(
            &d.try_into()?,
            &d.blocking_key,
            &d.blocked_key,
        )),
        C::SwimLane(l) => Change::SwimLane(view::SwimLane::from(&pm_core::SwimLane::try_from(l)?)),
        C::Deleted(d) => Change::Deleted(Deleted {
            entity: EntityKind::from_wire(d.entity, "entity")?.as_str(),
            id: d.id.clone(),
        }),
        C::BlockedChanged(b) => Change::BlockedChanged(BlockedChanged {
            work_item_id: b.work_item_id.clone(),
            key: b.key.clone(),
            blocked: b.blocked,
        }),
    })
}
