//! The primitives of read access, under [`crate::query`]: the caller's tenant database, lookups by
//! id or human key, who may read which project, and the change feed. The rules are the ones the
//! commands apply, so every surface decides visibility the same way.
//!
//! One difference is deliberate: over `/ws` a project the caller cannot see is `NotFound`, while
//! [`authorize_read`] answers `PermissionDenied` for a project of the caller's own tenant that they
//! are not a member of, which the REST API reports as 403. Ids of another tenant stay `NotFound`
//! everywhere: they live in another database, so they cannot even be looked up.

use std::collections::HashSet;
use std::sync::Arc;

use pm_auth::Identity;
use pm_core::{Project, ProjectId, ProjectRole, WorkItem, effective_project_role, is_allowed};
use pm_db::{SqliteConnection, TenantDb, change_log, member, project};
use pm_proto::pb;

use crate::{Error, Result, Service};

/// One page of the change feed.
#[derive(Debug, Clone)]
pub struct ChangePage {
    /// The events of projects the caller may read, in sequence order.
    pub events: Vec<pb::Event>,
    /// The sequence number to ask for next: the last one this page looked at (events of projects
    /// the caller cannot see are skipped, not counted), or the `since` it was asked for.
    pub next_since: u64,
    /// The tenant's newest sequence number when the page was read.
    pub head: u64,
    /// Whether the log holds changes after `next_since`.
    pub has_more: bool,
    /// The history epoch the sequence numbers belong to.
    pub history_epoch: String,
}

/// Why a change feed cannot continue from the cursor it was given: the caller must reload what it
/// mirrors and continue from a fresh sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedGap {
    /// The change log no longer holds every change after `since`.
    TooOld { oldest: u64 },
    /// `since` is beyond the newest change.
    Ahead { head: u64 },
    /// `since` belongs to another history epoch: the database was restored from a backup, and
    /// its sequence numbers name different changes now.
    EpochChanged { current: String },
}

impl Service {
    /// The caller's tenant database, opened if needed. The tenant comes from the verified token,
    /// so another tenant's data is unreachable from here.
    pub async fn tenant_db(&self, actor: &Identity) -> Result<Arc<TenantDb>> {
        Ok(self.tenants().open(&actor.tenant).await?)
    }

    /// Up to `limit` changes after `since` of the projects the caller may read, read in one
    /// transaction. A [`FeedGap`] when the feed cannot continue from `since` (the rule of
    /// [`Service::replay_page`]): too old for the log, ahead of it, or of another history epoch
    /// (`epoch`, when the caller sends the one its `since` came with).
    pub async fn change_page(
        &self,
        actor: &Identity,
        since: u64,
        epoch: Option<&str>,
        limit: u32,
    ) -> Result<Result<ChangePage, FeedGap>> {
        let db = self.tenant_db(actor).await?;
        let mut tx = db.begin_read().await?;
        let history_epoch = pm_db::history::epoch(&mut tx).await?;
        if epoch.is_some_and(|e| e != history_epoch) {
            return Ok(Err(FeedGap::EpochChanged {
                current: history_epoch,
            }));
        }
        let head = change_log::head(&mut tx).await?;
        let oldest = change_log::oldest(&mut tx).await?.unwrap_or(head + 1);
        let after = i64::try_from(since).unwrap_or(i64::MAX);
        if after > head {
            return Ok(Err(FeedGap::Ahead {
                head: u64::try_from(head).unwrap_or_default(),
            }));
        }
        if after + 1 < oldest {
            return Ok(Err(FeedGap::TooOld {
                oldest: u64::try_from(oldest).unwrap_or_default(),
            }));
        }
        let visible: Option<HashSet<ProjectId>> = if sees_every_project(actor) {
            None
        } else {
            Some(
                member::projects_of(&mut tx, &actor.user)
                    .await?
                    .into_iter()
                    .collect(),
            )
        };
        // One more than the page tells whether there is a next one.
        let mut records = change_log::since(&mut tx, None, after, limit.saturating_add(1)).await?;
        tx.commit().await.map_err(pm_db::Error::from)?;
        let has_more = records.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        records.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_since = records
            .last()
            .map_or(since, |r| u64::try_from(r.seq).unwrap_or(since));
        let events = records
            .iter()
            .filter(|r| match (&visible, r.change.project_id) {
                (None, _) => true,
                (Some(set), Some(project)) => set.contains(&project),
                (Some(_), None) => false,
            })
            .map(crate::mutation::event_from_record)
            .collect();
        Ok(Ok(ChangePage {
            events,
            next_since,
            head: u64::try_from(head).unwrap_or_default(),
            has_more,
            history_epoch,
        }))
    }
}

/// Whether the caller sees every project of the tenant (tenant admins do).
pub fn sees_every_project(actor: &Identity) -> bool {
    effective_project_role(actor.role, None).is_some()
}

/// The caller's role in `project`, if they may read it: `PermissionDenied` when they are not a
/// member (see the module documentation).
pub async fn authorize_read(
    conn: &mut SqliteConnection,
    actor: &Identity,
    project: &Project,
) -> Result<ProjectRole> {
    let membership = member::find(conn, project.id, &actor.user).await?;
    match effective_project_role(actor.role, membership.map(|m| m.role)) {
        Some(role) if is_allowed(role, pm_core::Action::Read) => Ok(role),
        _ => Err(Error::PermissionDenied(
            "you are not a member of this project",
        )),
    }
}

/// A live project by id (UUID) or key (`WEB`).
pub async fn find_project(conn: &mut SqliteConnection, id_or_key: &str) -> Result<Project> {
    crate::commands::project::find(conn, id_or_key).await
}

/// A live work item by id (UUID) or human key (`WEB-42`).
pub async fn find_work_item(conn: &mut SqliteConnection, id_or_key: &str) -> Result<WorkItem> {
    crate::commands::work_item::find(conn, id_or_key).await
}

/// The live projects the caller may read, ordered by key, with their role in each.
pub async fn visible_projects(
    conn: &mut SqliteConnection,
    actor: &Identity,
    include_archived: bool,
) -> Result<Vec<(Project, ProjectRole)>> {
    let only_member = (!sees_every_project(actor)).then_some(&actor.user);
    let projects = project::list(conn, only_member, include_archived).await?;
    let mut out = Vec::with_capacity(projects.len());
    for p in projects {
        let membership = member::find(conn, p.id, &actor.user).await?;
        if let Some(role) = effective_project_role(actor.role, membership.map(|m| m.role)) {
            out.push((p, role));
        }
    }
    Ok(out)
}
