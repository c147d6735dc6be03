//! The command service: executes any command for an authenticated actor, whatever surface it came
//! from (a WebSocket connection today; REST or MCP tomorrow). It never fails: every outcome is a
//! reply, either a typed response or an error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use pm_auth::Identity;
use pm_core::{RequestId, Timestamp};
use pm_db::{PoolConnection, Sqlite, TenantManager};
use pm_proto::pb::{self, client_message::Command, reply};
use sha2::Digest;

use crate::commands::{
    activity, comment, dependency, member, project, sprint, sync, time, work_item,
};
use crate::group_commit::{Content, GroupCommit, Job, Run, erase, failed};
use crate::hub::{Hub, Hubs};
use crate::subscription::ConnId;
use crate::{Error, Metrics, Result};

pub(crate) type Handler<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A read-only command's access to the tenant: one connection from the read pool.
pub(crate) struct Read {
    pub conn: PoolConnection<Sqlite>,
    pub actor: Identity,
    pub snapshots: Arc<sync::SnapshotCache>,
}

/// What a command produced: its reply and, for a mutation, the events it committed (already
/// published to everyone else).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: reply::Result,
    pub events: Vec<pb::Event>,
}

impl Outcome {
    pub fn error(error: &Error) -> Self {
        Self {
            result: reply::Result::Error(error.to_wire()),
            events: Vec::new(),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self.result, reply::Result::Error(_))
    }

    /// The highest sequence number among the events, 0 when there are none.
    pub fn last_seq(&self) -> u64 {
        self.events.iter().map(|e| e.seq).max().unwrap_or(0)
    }
}

/// How much history the change log keeps for resuming clients.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// At most this many change-log entries are kept per tenant; older ones are purged as new
    /// ones commit.
    pub change_log_max_rows: i64,
    /// Entries older than this are purged by periodic maintenance.
    pub change_log_max_age: std::time::Duration,
    /// Stored replies of processed requests are kept this long.
    pub idempotency_max_age: std::time::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            change_log_max_rows: 100_000,
            change_log_max_age: std::time::Duration::from_secs(7 * 24 * 3600),
            idempotency_max_age: std::time::Duration::from_secs(24 * 3600),
        }
    }
}

pub struct Service {
    tenants: Arc<TenantManager>,
    hubs: Arc<Hubs>,
    metrics: Arc<Metrics>,
    retention: Retention,
    snapshots: Arc<sync::SnapshotCache>,
    commit: Arc<GroupCommit>,
}

impl Service {
    pub fn new(
        tenants: Arc<TenantManager>,
        hubs: Arc<Hubs>,
        metrics: Arc<Metrics>,
        retention: Retention,
    ) -> Self {
        let commit = Arc::new(GroupCommit::new(
            Arc::clone(&tenants),
            Arc::clone(&hubs),
            Arc::clone(&metrics),
            retention,
        ));
        Self {
            tenants,
            hubs,
            metrics,
            retention,
            snapshots: Arc::default(),
            commit,
        }
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    pub fn tenants(&self) -> &Arc<TenantManager> {
        &self.tenants
    }

    pub fn hubs(&self) -> &Arc<Hubs> {
        &self.hubs
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Executes one command. `origin` is the connection that sent it, which receives the events
    /// in its reply instead of as separate messages.
    pub async fn execute(
        &self,
        actor: &Identity,
        request_id: &str,
        command: Command,
        origin: Option<ConnId>,
    ) -> Outcome {
        let name = pm_proto::command_name(&command);
        let started = std::time::Instant::now();
        let outcome = self.dispatch(actor, request_id, command, origin).await;
        let result = match &outcome.result {
            reply::Result::Error(e) => {
                tracing::debug!(command = name, code = e.code, "command refused");
                outcome_name(e.code)
            }
            _ => "ok",
        };
        self.metrics.command(name, result, started.elapsed());
        outcome
    }

    async fn dispatch(
        &self,
        actor: &Identity,
        request_id: &str,
        command: Command,
        origin: Option<ConnId>,
    ) -> Outcome {
        use Command as C;
        let name = pm_proto::command_name(&command);
        macro_rules! write {
            ($handler:path, $cmd:expr) => {{
                let content = Content {
                    command: name,
                    digest: digest(&$cmd),
                };
                let run = erase(move |m| Box::pin($handler(m, $cmd)));
                self.write(actor, request_id, content, origin, run).await
            }};
        }
        macro_rules! read {
            ($handler:path, $cmd:expr) => {
                self.read(actor, move |r| Box::pin($handler(r, $cmd))).await
            };
        }
        match command {
            C::Ping(_) => Outcome {
                result: pb::Pong {
                    server_time: Timestamp::now().as_millis(),
                }
                .into(),
                events: Vec::new(),
            },
            // Subscriptions belong to a connection; the connection handles them itself.
            C::Subscribe(_) | C::Unsubscribe(_) => Outcome::error(&Error::validation(
                "command",
                "subscriptions are only available on a WebSocket connection",
            )),
            C::GetSnapshot(c) => read!(sync::snapshot, c),

            C::CreateProject(c) => write!(project::create, c),
            C::UpdateProject(c) => write!(project::update, c),
            C::ArchiveProject(c) => write!(project::archive, c),
            C::UnarchiveProject(c) => write!(project::unarchive, c),
            C::DeleteProject(c) => write!(project::delete, c),
            C::ListProjects(c) => read!(project::list, c),
            C::GetProject(c) => read!(project::get, c),

            C::AddMember(c) => write!(member::add, c),
            C::ChangeMemberRole(c) => write!(member::change_role, c),
            C::RemoveMember(c) => write!(member::remove, c),
            C::ListMembers(c) => read!(member::list, c),

            C::CreateWorkItem(c) => write!(work_item::create, c),
            C::UpdateWorkItem(c) => write!(work_item::update, c),
            C::MoveWorkItem(c) => write!(work_item::move_item, c),
            C::DeleteWorkItem(c) => write!(work_item::delete, c),
            C::GetWorkItem(c) => read!(work_item::get, c),
            C::ListWorkItems(c) => read!(work_item::list, c),

            C::CreateSprint(c) => write!(sprint::create, c),
            C::UpdateSprint(c) => write!(sprint::update, c),
            C::StartSprint(c) => write!(sprint::start, c),
            C::CompleteSprint(c) => write!(sprint::complete, c),
            C::CancelSprint(c) => write!(sprint::cancel, c),
            C::DeleteSprint(c) => write!(sprint::delete, c),
            C::ListSprints(c) => read!(sprint::list, c),
            C::GetSprint(c) => read!(sprint::get, c),
            C::GetSprintBurndown(c) => read!(sprint::burndown, c),

            C::AddComment(c) => write!(comment::add, c),
            C::EditComment(c) => write!(comment::edit, c),
            C::DeleteComment(c) => write!(comment::delete, c),
            C::ListComments(c) => read!(comment::list, c),

            C::StartTimer(c) => write!(time::start, c),
            C::StopTimer(c) => write!(time::stop, c),
            C::AddTimeEntry(c) => write!(time::add, c),
            C::EditTimeEntry(c) => write!(time::edit, c),
            C::DeleteTimeEntry(c) => write!(time::delete, c),
            C::ListTimeEntries(c) => read!(time::list, c),
            C::GetRunningTimer(c) => read!(time::running, c),
            C::GetTimeTotals(c) => read!(time::totals, c),

            C::AddDependency(c) => write!(dependency::add, c),
            C::RemoveDependency(c) => write!(dependency::remove, c),
            C::ListDependencies(c) => read!(dependency::list, c),

            C::ListActivity(c) => read!(activity::list, c),
        }
    }

    async fn read<T, F>(&self, actor: &Identity, handler: F) -> Outcome
    where
        T: Into<reply::Result>,
        F: for<'a> FnOnce(&'a mut Read) -> Handler<'a, T>,
    {
        let run = async {
            let db = self.tenants.open(&actor.tenant).await?;
            let conn = db.reader().acquire().await.map_err(pm_db::Error::from)?;
            let mut read = Read {
                conn,
                actor: actor.clone(),
                snapshots: Arc::clone(&self.snapshots),
            };
            handler(&mut read).await
        };
        match run.await {
            Ok(response) => Outcome {
                result: response.into(),
                events: Vec::new(),
            },
            Err(e) => failed(&e),
        }
    }

    async fn write(
        &self,
        actor: &Identity,
        request_id: &str,
        content: Content,
        origin: Option<ConnId>,
        run: Run,
    ) -> Outcome {
        let Ok(request) = RequestId::parse(request_id) else {
            return Outcome::error(&Error::validation(
                "request_id",
                "a mutation needs a UUID request id",
            ));
        };
        let job = Job {
            actor: actor.clone(),
            request,
            content,
            origin,
            run,
        };
        self.commit.submit(job).await
    }

    /// The tenant's hub, created if needed with the tenant's current head. Creating it holds the
    /// tenant's writer so no change commits between reading the head and the hub existing.
    pub async fn hub(&self, tenant: &pm_core::TenantId) -> Result<Arc<Hub>> {
        if let Some(hub) = self.hubs.get(tenant) {
            return Ok(hub);
        }
        let db = self.tenants.open(tenant).await?;
        let mut writer = db.writer().await?;
        let head = pm_db::change_log::head(&mut writer).await?;
        let hub = self
            .hubs
            .get_or_insert(tenant, u64::try_from(head).unwrap_or_default());
        drop(writer);
        Ok(hub)
    }
}

/// The metrics label of an error code.
fn outcome_name(code: i32) -> &'static str {
    match pb::ErrorCode::try_from(code).unwrap_or(pb::ErrorCode::Unspecified) {
        pb::ErrorCode::Validation => "validation",
        pb::ErrorCode::NotFound => "not_found",
        pb::ErrorCode::Conflict => "conflict",
        pb::ErrorCode::PermissionDenied => "permission_denied",
        pb::ErrorCode::Unauthenticated => "unauthenticated",
        pb::ErrorCode::RateLimited => "rate_limited",
        pb::ErrorCode::TooLarge => "too_large",
        pb::ErrorCode::InvalidMessage => "invalid_message",
        pb::ErrorCode::Unavailable => "unavailable",
        pb::ErrorCode::Internal | pb::ErrorCode::Unspecified => "internal",
    }
}

/// The digest of a command message. Encoding what was decoded is canonical: field order, unknown
/// fields and explicitly encoded defaults do not change it, so a byte-for-byte different resend of
/// the same request has the same digest.
fn digest(command: &impl prost::Message) -> [u8; 32] {
    sha2::Sha256::digest(command.encode_to_vec()).into()
}

impl Service {
    /// The project `raw` names (id or key, see [`crate::lookup`]) if the actor may read (and so
    /// subscribe to) it, the tenant's history epoch, and the sequence number of the database
    /// snapshot the access was checked on (see [`crate::Hub::subscribe`]).
    pub async fn readable_project(
        &self,
        actor: &Identity,
        raw: &str,
    ) -> Result<(pm_core::ProjectId, String, u64)> {
        let db = self.tenants.open(&actor.tenant).await?;
        let mut tx = db.begin_read().await?;
        let checked_at = pm_db::change_log::head(&mut tx).await?;
        let project = crate::lookup::project_id(&mut tx, raw, "project_id").await?;
        crate::access::require(&mut tx, actor, project, pm_core::Action::Read).await?;
        tx.commit().await.map_err(pm_db::Error::from)?;
        Ok((
            project,
            db.epoch(),
            u64::try_from(checked_at).unwrap_or_default(),
        ))
    }

    /// The project `raw` names (id or key), without an access check.
    pub async fn project_named(&self, actor: &Identity, raw: &str) -> Result<pm_core::ProjectId> {
        let db = self.tenants.open(&actor.tenant).await?;
        let mut conn = db.reader().acquire().await.map_err(pm_db::Error::from)?;
        crate::lookup::project_id(&mut conn, raw, "project_id").await
    }

    /// The identity of the tenant's change history (see `pm_db::history`).
    pub async fn history_epoch(&self, tenant: &pm_core::TenantId) -> Result<String> {
        Ok(self.tenants.open(tenant).await?.epoch())
    }

    /// One page of a project's changes after `after` and up to `until`, as events. `None` when
    /// the change log no longer holds everything after `after` (the client must resync).
    pub async fn replay_page(
        &self,
        actor: &Identity,
        project: pm_core::ProjectId,
        after: u64,
        until: u64,
        limit: u32,
    ) -> Result<Option<Vec<pb::Event>>> {
        let db = self.tenants.open(&actor.tenant).await?;
        let mut tx = db.begin_read().await?;
        let after_i = i64::try_from(after).unwrap_or(i64::MAX);
        // One read transaction: the window check and the read see the same log, so a purge in
        // between cannot open a silent gap.
        let head = pm_db::change_log::head(&mut tx).await?;
        let oldest = pm_db::change_log::oldest(&mut tx)
            .await?
            .unwrap_or(head + 1);
        if after_i + 1 < oldest {
            return Ok(None);
        }
        let records = pm_db::change_log::since(&mut tx, Some(project), after_i, limit).await?;
        Ok(Some(
            records
                .iter()
                .filter(|r| u64::try_from(r.seq).unwrap_or(u64::MAX) <= until)
                .map(crate::mutation::event_from_record)
                .collect(),
        ))
    }
}
