//! Group commit: how every mutation reaches its tenant's database.
//!
//! A mutation is queued on its tenant's write queue (bounded: a full queue refuses it at once with
//! `UNAVAILABLE` and a retry hint). The first mutation to find the queue idle starts a drain task
//! for it; the task takes the tenant's one writer connection, begins an `IMMEDIATE` transaction and
//! only then takes everything queued (up to [`MAX_BATCH`]), so whatever arrived while it waited for
//! the write lock joins the batch. Each command of a batch runs in its own `SAVEPOINT`: a refused
//! command (validation, not found, conflict, permission …) rolls back alone and gets its error,
//! the others commit together, with one WAL commit for the batch. A batch of one runs directly in
//! the transaction. Releasing a command's savepoint and opening the next one's travel with the
//! command's record (`pm_db::journal`), so a savepoint costs no round trip of its own. The
//! idempotency records of the whole batch are looked up with one query when it starts; a request
//! that appears twice in one batch is looked up again inside its savepoint, so the second sees the
//! first's record and replays it.
//!
//! After COMMIT, and still holding the writer, the task publishes each command's events to the hub
//! in sequence order, then sends each caller its outcome: replies follow publication, and events
//! leave in sequence order across batches. If COMMIT fails, every command of the batch gets the
//! error and nothing of it was written. The task exits when the queue is empty, so an idle tenant
//! costs no task; it runs detached from any caller, so a caller that goes away (a closed socket, an
//! aborted HTTP request) cannot cancel the batch of others. A command whose caller is gone before
//! its batch starts is not run.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pm_auth::Identity;
use pm_core::{RequestId, TenantId, Timestamp, UserId};
use pm_db::change_log;
use pm_db::idempotency::{self, Stored, StoredReply};
use pm_db::journal::{self, Then};
use pm_db::{SqliteConnection, TenantManager, begin_immediate};
use pm_proto::pb::{self, reply};
use tokio::sync::oneshot;

use crate::hub::Hubs;
use crate::mutation::{Mutation, event_from_record};
use crate::service::{Handler, Outcome, Retention};
use crate::subscription::ConnId;
use crate::{Error, Metrics, Result};

/// At most this many commands commit together. A batch holds the writer from its first command to
/// its last reply, so the bound keeps the wait of a command queued behind a batch short (64 small
/// changes are a few milliseconds), while already amortising the commit over many commands.
pub const MAX_BATCH: usize = 64;

/// At most this many mutations wait for one tenant's writer. A `/ws` connection has at most one
/// command in flight, so this is a thousand connections writing at the same instant; beyond it the
/// tenant is overloaded and waiting longer would only turn into timeouts, so the command is
/// refused at once.
const MAX_QUEUED: usize = 1024;

/// What a command refused for a full queue is told to wait before retrying: about the time a few
/// full batches take to commit.
const RETRY_AFTER_MS: u32 = 50;

/// A command's handler, its response type erased.
pub(crate) type Run =
    Box<dyn for<'a, 'c> FnOnce(&'a mut Mutation<'c>) -> Handler<'a, reply::Result> + Send>;

/// Erases the response type of a command handler.
pub(crate) fn erase<T, F>(handler: F) -> Run
where
    T: Into<reply::Result> + 'static,
    F: for<'a, 'c> FnOnce(&'a mut Mutation<'c>) -> Handler<'a, T> + Send + 'static,
{
    Box::new(constrain(move |m| {
        let run = handler(m);
        Box::pin(async move { run.await.map(Into::into) })
    }))
}

/// Gives a closure the higher-ranked signature of [`Run`] (closures do not infer it themselves).
fn constrain<F>(f: F) -> F
where
    F: for<'a, 'c> FnOnce(&'a mut Mutation<'c>) -> Handler<'a, reply::Result>,
{
    f
}

/// A mutation as its idempotency record identifies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Content {
    pub command: &'static str,
    /// SHA-256 of the encoded command message (which does not include the request id).
    pub digest: [u8; 32],
}

/// One mutation waiting for its tenant's writer.
pub(crate) struct Job {
    pub actor: Identity,
    pub request: RequestId,
    pub content: Content,
    /// The connection that sent it: it gets the events in its reply, not as separate events.
    pub origin: Option<ConnId>,
    pub run: Run,
}

struct Queued {
    job: Job,
    done: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Queued>,
    /// A drain task is running (or about to) for this queue.
    draining: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Every critical section is a single queue operation; a panic cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The write queues of every tenant and what their drain tasks need.
pub(crate) struct GroupCommit {
    tenants: Arc<TenantManager>,
    hubs: Arc<Hubs>,
    metrics: Arc<Metrics>,
    retention: Retention,
    /// One queue per tenant that ever wrote, like the hubs (a few dozen bytes each).
    queues: Mutex<HashMap<TenantId, Arc<Queue>>>,
}

/// What one command of a batch produced.
struct Done {
    outcome: Outcome,
    /// False for a replayed request: its events were published when it first committed.
    publish: bool,
}

impl GroupCommit {
    pub fn new(
        tenants: Arc<TenantManager>,
        hubs: Arc<Hubs>,
        metrics: Arc<Metrics>,
        retention: Retention,
    ) -> Self {
        Self {
            tenants,
            hubs,
            metrics,
            retention,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// Queues a mutation and waits for its outcome.
    pub async fn submit(self: &Arc<Self>, job: Job) -> Outcome {
        let tenant = job.actor.tenant.clone();
        let queue = self.queue(&tenant);
        let (done, outcome) = oneshot::channel();
        let start = {
            let mut state = queue.lock();
            if state.jobs.len() >= MAX_QUEUED {
                drop(state);
                self.metrics.writes_refused.inc();
                return Outcome::error(&Error::Overloaded {
                    retry_after_ms: RETRY_AFTER_MS,
                });
            }
            state.jobs.push_back(Queued { job, done });
            self.metrics.writes_queued.inc();
            !std::mem::replace(&mut state.draining, true)
        };
        if start {
            tokio::spawn(Arc::clone(self).drain(tenant, queue));
        }
        match outcome.await {
            Ok(outcome) => outcome,
            // Only a panic in the drain task drops a queued command unanswered.
            Err(_) => failed(&Error::Internal("the write batch failed".into())),
        }
    }

    fn queue(&self, tenant: &TenantId) -> Arc<Queue> {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(queues.entry(tenant.clone()).or_default())
    }

    /// Commits batches until the queue is empty.
    async fn drain(self: Arc<Self>, tenant: TenantId, queue: Arc<Queue>) {
        let mut guard = Draining {
            queue: &queue,
            metrics: &self.metrics,
            finished: false,
        };
        loop {
            {
                let mut state = queue.lock();
                if state.jobs.is_empty() {
                    state.draining = false;
                    guard.finished = true;
                    return;
                }
            }
            self.commit_batch(&tenant, &queue).await;
        }
    }

    /// Takes up to [`MAX_BATCH`] queued commands whose callers still wait.
    fn take(&self, queue: &Queue) -> Vec<Queued> {
        let mut state = queue.lock();
        let mut batch = Vec::with_capacity(state.jobs.len().min(MAX_BATCH));
        while batch.len() < MAX_BATCH {
            let Some(queued) = state.jobs.pop_front() else {
                break;
            };
            self.metrics.writes_queued.dec();
            if !queued.done.is_closed() {
                batch.push(queued);
            }
        }
        batch
    }

    /// Fails the next batch's worth of commands with `error` (the database could not be opened
    /// or locked), so a broken tenant answers instead of stalling its queue.
    fn fail_next(&self, queue: &Queue, error: &Error) {
        let outcome = failed(error);
        for queued in self.take(queue) {
            let _ = queued.done.send(outcome.clone());
        }
    }

    async fn commit_batch(&self, tenant: &TenantId, queue: &Queue) {
        let db = match self.tenants.open(tenant).await {
            Ok(db) => db,
            Err(e) => return self.fail_next(queue, &e.into()),
        };
        // The one writer connection: held until the batch's events are published, so events
        // leave in sequence order.
        let mut writer = match db.writer().await {
            Ok(writer) => writer,
            Err(e) => return self.fail_next(queue, &e.into()),
        };
        let mut tx = match begin_immediate(&mut writer).await {
            Ok(tx) => tx,
            Err(e) => return self.fail_next(queue, &e.into()),
        };
        // Taken only now that the write lock is ours: whatever queued meanwhile joins the batch.
        let batch = self.take(queue);
        if batch.is_empty() {
            // Every caller went away; nothing to write.
            let _ = tx.rollback().await;
            return;
        }
        self.metrics.write_batch.observe(batch.len() as f64);

        // Every command's idempotency record, looked up with one query for the whole batch.
        let keys: Vec<(&UserId, RequestId)> = batch
            .iter()
            .map(|q| (&q.job.actor.user, q.job.request))
            .collect();
        let known = match idempotency::get_many(&mut tx, &keys).await {
            Ok(known) => known,
            Err(e) => return abort(batch.into_iter().map(|q| q.done), &e.into()),
        };
        drop(keys);

        let mut results: Vec<(oneshot::Sender<Outcome>, Option<ConnId>, Result<Done>)> =
            Vec::with_capacity(batch.len());
        if batch.len() == 1 {
            let (Some(Queued { job, done }), Some(prior)) =
                (batch.into_iter().next(), known.into_iter().next())
            else {
                return;
            };
            let origin = job.origin;
            let result = run(&mut tx, job, Prior::Known(prior), Then::Nothing).await;
            if let Err(e) = result {
                drop(tx.rollback().await);
                let _ = done.send(failed(&e));
                return;
            }
            results.push((done, origin, result));
        } else {
            // Each command runs in the savepoint `pm_command`; ending it and opening the next
            // one's travel with the command's last statement (see `pm_db::journal`).
            if let Err(e) = journal::begin_command(&mut tx).await {
                return abort(batch.into_iter().map(|q| q.done), &e.into());
            }
            let count = batch.len();
            let mut seen = HashSet::with_capacity(count);
            for (i, (Queued { job, done }, prior)) in batch.into_iter().zip(known).enumerate() {
                let origin = job.origin;
                let then = if i + 1 == count {
                    Then::Release
                } else {
                    Then::ReleaseAndBegin
                };
                // The same request twice in one batch: the second must see the first's record,
                // written after the batch's lookup.
                let prior = if seen.insert((job.actor.user.clone(), job.request)) {
                    Prior::Known(prior)
                } else {
                    Prior::Unknown
                };
                let result = run(&mut tx, job, prior, then).await;
                if result.is_err()
                    && let Err(e) = journal::undo_command(&mut tx, then).await
                {
                    let pending = results.into_iter().map(|(done, ..)| done);
                    return abort(pending.chain([done]), &e.into());
                }
                results.push((done, origin, result));
            }
        }

        let last = results
            .iter()
            .filter_map(|(_, _, r)| r.as_ref().ok())
            .filter(|d| d.publish)
            .filter_map(|d| d.outcome.events.last())
            .map(|e| e.seq)
            .max();
        if let Some(last) = last {
            // Keep the log within its row budget as it grows: one indexed range delete.
            let last = i64::try_from(last).unwrap_or(i64::MAX);
            let trimmed =
                pm_db::change_log::trim(&mut tx, last - self.retention.change_log_max_rows).await;
            if let Err(e) = trimmed {
                return abort(results.into_iter().map(|(done, ..)| done), &e.into());
            }
        }
        if let Err(e) = tx.commit().await {
            return abort(
                results.into_iter().map(|(done, ..)| done),
                &pm_db::Error::from(e).into(),
            );
        }
        db.committed();

        // Published while `writer` is still held, in sequence order.
        if let Some(hub) = self.hubs.get(tenant) {
            for (_, origin, result) in &results {
                if let Ok(done) = result
                    && done.publish
                {
                    hub.publish(&done.outcome.events, *origin);
                }
            }
        }
        drop(writer);
        for (done, _, result) in results {
            let outcome = match result {
                Ok(done) => done.outcome,
                Err(e) => failed(&e),
            };
            let _ = done.send(outcome);
        }
    }
}

/// What the batch's lookup found of a command's idempotency record.
enum Prior {
    Known(Option<StoredReply>),
    /// Not looked up (the request appeared earlier in the same batch): ask now.
    Unknown,
}

/// Runs one command on `conn` (the batch's transaction, in the command's savepoint when the batch
/// has several): the idempotency check, the handler and the record, then `then`. On an error the
/// caller undoes the command and does `then` itself.
async fn run(conn: &mut SqliteConnection, job: Job, prior: Prior, then: Then) -> Result<Done> {
    let Job {
        actor,
        request,
        content,
        run,
        ..
    } = job;
    let prior = match prior {
        Prior::Known(prior) => prior,
        Prior::Unknown => idempotency::get(conn, &actor.user, request).await?,
    };
    if let Some(stored) = prior {
        let outcome = replayed(conn, &content, request, stored).await?;
        journal::end_command(conn, then).await?;
        return Ok(Done {
            outcome,
            publish: false,
        });
    }
    let mut m = Mutation::new(conn, actor, request, Timestamp::now());
    let result = run(&mut m).await?;
    let events = m
        .finish(content.command, &content.digest, &result, then)
        .await?;
    Ok(Done {
        outcome: Outcome { result, events },
        publish: true,
    })
}

/// Answers every command of a batch that did not commit with the same error.
fn abort(pending: impl Iterator<Item = oneshot::Sender<Outcome>>, error: &Error) {
    let outcome = failed(error);
    for done in pending {
        let _ = done.send(outcome.clone());
    }
}

/// The outcome of a failed command; an internal cause is logged here, once.
pub(crate) fn failed(error: &Error) -> Outcome {
    if let Error::Internal(cause) = error {
        tracing::error!(error = %cause, "command failed");
    }
    Outcome::error(error)
}

/// The original reply of an already processed request, if `request` is that request again: its
/// stored result, and its events read back from the change log. Events the log no longer holds
/// (trimmed to its row budget since) are left out; the result is always there.
async fn replayed(
    conn: &mut SqliteConnection,
    content: &Content,
    request: RequestId,
    stored: StoredReply,
) -> Result<Outcome> {
    if stored.command != content.command {
        return Err(Error::validation(
            "request_id",
            "this request id was already used for a different command",
        ));
    }
    // Records from before digests were kept have none: the command name is all they can match.
    if stored
        .request_digest
        .as_deref()
        .is_some_and(|digest| digest != content.digest)
    {
        return Err(Error::validation(
            "request_id",
            "this request id was already used for a different request; use a new id",
        ));
    }
    let (encoded, events) = match stored.reply {
        Stored::Reply(reply) => (reply, None),
        Stored::Result {
            result,
            last_seq,
            events,
        } => (result, last_seq.map(|last| (last - events + 1, last))),
    };
    let reply: pb::Reply =
        prost::Message::decode(encoded.as_slice()).map_err(|e| Error::Internal(Box::new(e)))?;
    let result = reply
        .result
        .ok_or_else(|| Error::Internal("stored reply without a result".into()))?;
    let events = match events {
        None => reply.events,
        Some((first, last)) => change_log::range(conn, first, last)
            .await?
            .iter()
            .filter(|r| r.change.request_id == Some(request))
            .map(event_from_record)
            .collect(),
    };
    Ok(Outcome { result, events })
}

/// Ends a drain task. If it ends by panicking, the commands still queued are dropped (their
/// callers get an internal error instead of waiting forever) and the next command starts a new
/// task.
struct Draining<'q> {
    queue: &'q Queue,
    metrics: &'q Metrics,
    finished: bool,
}

impl Drop for Draining<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut state = self.queue.lock();
        let dropped = std::mem::take(&mut state.jobs);
        state.draining = false;
        drop(state);
        self.metrics
            .writes_queued
            .dec_by(i64::try_from(dropped.len()).unwrap_or(i64::MAX));
    }
}
