//! The per-tenant hub: delivers each committed event to the connections subscribed to its project,
//! without ever waiting on one of them.
//!
//! Policy for a full outbound queue: the connection is dropped from every subscription at once (so
//! no further event is attempted and none is silently skipped in between), flagged, and woken; it
//! then tells its client `ResyncRequired(QUEUE_OVERFLOW)` and the client re-subscribes. A hub is one
//! tenant's: events of another tenant cannot reach it by construction.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use pm_core::{ProjectId, TenantId, UserId};
use pm_proto::pb;
use tokio::sync::{Notify, mpsc};

use crate::Metrics;
use crate::subscription::{ConnId, Registry};

/// One frame queued for a connection. `seq` is the event's sequence number, 0 for messages that
/// have none (presence).
#[derive(Debug, Clone)]
pub struct Outbound {
    pub seq: u64,
    pub frame: Bytes,
}

/// What the hub and a connection task share besides the queue.
#[derive(Debug, Default)]
pub struct ConnSignal {
    overflowed: AtomicBool,
    notify: Notify,
}

impl ConnSignal {
    /// Waits until the hub flags an overflow, and clears the flag.
    pub async fn overflowed(&self) {
        loop {
            let notified = self.notify.notified();
            if self.overflowed.swap(false, Ordering::AcqRel) {
                return;
            }
            notified.await;
        }
    }
}

struct Member {
    user: UserId,
    /// Tenant admins see every project whatever their membership.
    tenant_admin: bool,
    queue: mpsc::Sender<Outbound>,
    signal: Arc<ConnSignal>,
}

struct State {
    registry: Registry,
    members: HashMap<ConnId, Member>,
    /// The sequence number of the last event published through this hub (or, for a new hub, the
    /// tenant's head when it was created).
    last_published: u64,
    /// For each (project, user) removed from a project: the sequence number of the last removal.
    /// A subscription whose access check read an older state is refused (see [`Hub::subscribe`]).
    removals: HashMap<(ProjectId, String), u64>,
    /// The sequence number every event published through this hub is above (the tenant's head
    /// when the hub was created), the newest one of each project, and the newest one of no
    /// project: what lets a reader tell from memory that nothing of a project changed after a
    /// snapshot (see [`Hub::unchanged_since`]).
    created_at: u64,
    project_heads: HashMap<ProjectId, u64>,
    unscoped_head: u64,
}

pub struct Hub {
    state: Mutex<State>,
    metrics: Arc<Metrics>,
}

impl Hub {
    fn new(head: u64, metrics: Arc<Metrics>) -> Self {
        Self {
            state: Mutex::new(State {
                registry: Registry::default(),
                members: HashMap::new(),
                last_published: head,
                removals: HashMap::new(),
                created_at: head,
                project_heads: HashMap::new(),
                unscoped_head: 0,
            }),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent before it can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection that may then subscribe.
    pub fn join(
        &self,
        conn: ConnId,
        user: UserId,
        tenant_admin: bool,
        queue: mpsc::Sender<Outbound>,
        signal: Arc<ConnSignal>,
    ) {
        self.lock().members.insert(
            conn,
            Member {
                user,
                tenant_admin,
                queue,
                signal,
            },
        );
    }

    /// Unregisters a connection, telling the viewers of its projects that it left.
    pub fn leave(&self, conn: ConnId) {
        let mut state = self.lock();
        let projects = state.registry.remove_connection(conn);
        let member = state.members.remove(&conn);
        if let Some(member) = member {
            for project in projects {
                self.announce_if_gone(&mut state, project, &member.user);
            }
        }
    }

    /// Whether no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.lock().members.is_empty()
    }

    /// Subscribes a connection to a project whose access it checked on a database snapshot at
    /// sequence number `checked_at`. Returns the sequence number from which on every event of the
    /// project will be queued for it (events up to it are history, to be replayed from the change
    /// log), and who is viewing the project now.
    ///
    /// `None` when the user was removed from the project by a change after `checked_at` that was
    /// already published: its revocation ran before this subscription existed, so the check is
    /// stale and must be made again. (A removal published later revokes this subscription itself;
    /// one committed before the check made the check fail.)
    pub fn subscribe(
        &self,
        conn: ConnId,
        project: ProjectId,
        checked_at: u64,
    ) -> Option<(u64, Vec<String>)> {
        let mut state = self.lock();
        let member = state.members.get(&conn)?;
        if !member.tenant_admin
            && state
                .removals
                .get(&(project, member.user.as_str().to_owned()))
                .is_some_and(|removed| *removed > checked_at)
        {
            return None;
        }
        let live_from = state.last_published;
        let user = member.user.clone();
        let was_viewing = is_viewing(&state, project, &user);
        if state.registry.subscribe(conn, project) && !was_viewing {
            // The subscriber itself learns the viewers from its reply.
            self.announce(&mut state, project, &user, true, Some(conn));
        }
        Some((live_from, viewers(&state, project)))
    }

    /// Ends a subscription; returns whether there was one.
    pub fn unsubscribe(&self, conn: ConnId, project: ProjectId) -> bool {
        let mut state = self.lock();
        let removed = state.registry.unsubscribe(conn, project);
        if removed && let Some(user) = state.members.get(&conn).map(|m| m.user.clone()) {
            self.announce_if_gone(&mut state, project, &user);
        }
        removed
    }

    /// The projects a connection is subscribed to.
    pub fn subscriptions(&self, conn: ConnId) -> BTreeSet<ProjectId> {
        self.lock().registry.projects_of(conn)
    }

    pub fn last_published(&self) -> u64 {
        self.lock().last_published
    }

    /// Whether no event of `project` (and no event of no project) published through this hub is
    /// newer than `head`, a tenant head read in a snapshot begun after this hub existed. Then the
    /// snapshot's view of the project is still current: every change is published, in sequence
    /// order, before its command is answered. `false` for a `head` older than the hub, whose
    /// record of publishes starts at its creation.
    pub fn unchanged_since(&self, project: ProjectId, head: u64) -> bool {
        let state = self.lock();
        head >= state.created_at
            && state.unscoped_head <= head
            && state.project_heads.get(&project).is_none_or(|h| *h <= head)
    }

    /// Delivers committed events, in the order given (sequence order), to every subscriber of
    /// their project except `exclude` (the connection that caused them gets them in its reply).
    /// Each event is encoded once and the bytes are shared by all its recipients.
    pub fn publish(&self, events: &[pb::Event], exclude: Option<ConnId>) {
        let mut state = self.lock();
        for event in events {
            state.last_published = state.last_published.max(event.seq);
            let Ok(project) = ProjectId::parse(&event.project_id) else {
                state.unscoped_head = state.unscoped_head.max(event.seq);
                continue;
            };
            let head = state.project_heads.entry(project).or_default();
            *head = (*head).max(event.seq);
            let frame = encode_server(pb::server_message::Message::Event(event.clone()));
            let out = Outbound {
                seq: event.seq,
                frame,
            };
            let targets: Vec<ConnId> = state
                .registry
                .subscribers(project)
                .filter(|c| Some(*c) != exclude)
                .collect();
            for conn in targets {
                if self.deliver(&mut state, conn, out.clone()) {
                    self.metrics.events_delivered.inc();
                }
            }
            if let Some(pb::change::Change::MemberRemoved(removed)) =
                event.change.as_ref().and_then(|c| c.change.as_ref())
            {
                state
                    .removals
                    .insert((project, removed.user_id.clone()), event.seq);
                self.revoke(&mut state, project, &removed.user_id);
            }
        }
    }

    /// Ends the subscriptions to `project` of a user who just stopped being its member (they got
    /// the removal event itself first). Tenant admins keep theirs: they see every project.
    fn revoke(&self, state: &mut State, project: ProjectId, user: &str) {
        let revoked: Vec<(ConnId, UserId)> = state
            .registry
            .subscribers(project)
            .filter_map(|c| {
                let m = state.members.get(&c)?;
                (m.user.as_str() == user && !m.tenant_admin).then(|| (c, m.user.clone()))
            })
            .collect();
        for (conn, user) in revoked {
            state.registry.unsubscribe(conn, project);
            self.announce_if_gone(state, project, &user);
        }
    }

    /// Queues a frame for one connection without waiting. A full queue triggers the overflow
    /// policy; a closed one (the connection is ending) just unregisters it.
    fn deliver(&self, state: &mut State, conn: ConnId, out: Outbound) -> bool {
        let Some(member) = state.members.get(&conn) else {
            return false;
        };
        match member.queue.try_send(out) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                member.signal.overflowed.store(true, Ordering::Release);
                member.signal.notify.notify_one();
                state.registry.remove_connection(conn);
                self.metrics.queue_overflows.inc();
                tracing::debug!(
                    conn,
                    "outbound queue full; subscriptions dropped, resync required"
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                state.registry.remove_connection(conn);
                state.members.remove(&conn);
                false
            }
        }
    }

    /// Tells the subscribers of `project` that `user` joined or left.
    /// Announces that `user` left `project` once their last connection viewing it is gone: presence
    /// is about who views, not how many tabs they have open.
    fn announce_if_gone(&self, state: &mut State, project: ProjectId, user: &UserId) {
        if !is_viewing(state, project, user) {
            self.announce(state, project, user, false, None);
        }
    }

    fn announce(
        &self,
        state: &mut State,
        project: ProjectId,
        user: &UserId,
        joined: bool,
        except: Option<ConnId>,
    ) {
        let presence = pb::Presence {
            project_id: project.to_string(),
            user_id: user.to_string(),
            joined,
            viewers: viewers(state, project),
        };
        let out = Outbound {
            seq: 0,
            frame: encode_server(pb::server_message::Message::Presence(presence)),
        };
        let targets: Vec<ConnId> = state
            .registry
            .subscribers(project)
            .filter(|c| Some(*c) != except)
            .collect();
        for conn in targets {
            self.deliver(state, conn, out.clone());
        }
    }

    #[cfg(test)]
    fn check_invariants(&self) -> Result<(), String> {
        self.lock().registry.check_invariants()
    }
}

/// Whether any connection of `user` is subscribed to `project`.
fn is_viewing(state: &State, project: ProjectId, user: &UserId) -> bool {
    state
        .registry
        .subscribers(project)
        .any(|c| state.members.get(&c).is_some_and(|m| &m.user == user))
}

fn viewers(state: &State, project: ProjectId) -> Vec<String> {
    let users: BTreeSet<&str> = state
        .registry
        .subscribers(project)
        .filter_map(|c| state.members.get(&c).map(|m| m.user.as_str()))
        .collect();
    users.into_iter().map(str::to_owned).collect()
}

pub(crate) fn encode_server(message: pb::server_message::Message) -> Bytes {
    Bytes::from(pm_proto::encode(&pb::ServerMessage {
        message: Some(message),
    }))
}

/// The hub of every tenant that has had a connection. A hub is never removed: a few hundred bytes
/// per tenant buy the guarantee that a connection never joins a hub publishers no longer use, and
/// that a hub's last published sequence number stays exact.
#[derive(Default)]
pub struct Hubs {
    map: Mutex<HashMap<TenantId, Arc<Hub>>>,
    metrics: Arc<Metrics>,
}

impl Hubs {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, Arc<Hub>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant's hub if it has one (publishers use this: no hub means no subscriber).
    pub fn get(&self, tenant: &TenantId) -> Option<Arc<Hub>> {
        self.lock().get(tenant).cloned()
    }

    /// The tenant's hub, created with `head` as its last published sequence number if there is
    /// none. The caller must read `head` while holding the tenant's writer connection, so that no
    /// change can commit between reading the head and the hub existing.
    pub fn get_or_insert(&self, tenant: &TenantId, head: u64) -> Arc<Hub> {
        Arc::clone(
            self.lock()
                .entry(tenant.clone())
                .or_insert_with(|| Arc::new(Hub::new(head, Arc::clone(&self.metrics)))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, project: ProjectId) -> pb::Event {
        pb::Event {
            seq,
            project_id: project.to_string(),
            ..Default::default()
        }
    }

    fn member(
        hub: &Hub,
        conn: ConnId,
        user: &str,
        cap: usize,
    ) -> (mpsc::Receiver<Outbound>, Arc<ConnSignal>) {
        let (tx, rx) = mpsc::channel(cap);
        let signal = Arc::new(ConnSignal::default());
        hub.join(
            conn,
            UserId::parse(user).unwrap(),
            false,
            tx,
            Arc::clone(&signal),
        );
        (rx, signal)
    }

    fn seqs(rx: &mut mpsc::Receiver<Outbound>) -> Vec<u64> {
        let mut out = Vec::new();
        while let Ok(o) = rx.try_recv() {
            if o.seq > 0 {
                out.push(o.seq);
            }
        }
        out
    }

    #[test]
    fn events_reach_only_subscribers_of_their_project_and_never_the_sender() {
        let hub = Hub::new(0, Arc::default());
        let (p, q) = (ProjectId::new(), ProjectId::new());
        let (mut a, _) = member(&hub, 1, "alice", 16);
        let (mut b, _) = member(&hub, 2, "bob", 16);
        let (mut c, _) = member(&hub, 3, "carol", 16);
        hub.subscribe(1, p, 0).unwrap();
        hub.subscribe(2, p, 0).unwrap();
        hub.subscribe(3, q, 0).unwrap();
        seqs(&mut a);
        seqs(&mut b);
        hub.publish(&[event(1, p), event(2, q)], Some(1));
        assert_eq!(seqs(&mut a), Vec::<u64>::new());
        assert_eq!(seqs(&mut b), vec![1]);
        assert_eq!(seqs(&mut c), vec![2]);
        assert_eq!(hub.last_published(), 2);
        hub.check_invariants().unwrap();
    }

    #[test]
    fn a_full_queue_drops_that_connections_subscriptions_and_flags_it_but_not_others() {
        let hub = Hub::new(0, Arc::default());
        let p = ProjectId::new();
        let (mut slow, signal) = member(&hub, 1, "slow", 2);
        let (mut fast, _) = member(&hub, 2, "fast", 64);
        hub.subscribe(1, p, 0).unwrap();
        hub.subscribe(2, p, 0).unwrap();
        seqs(&mut slow);
        seqs(&mut fast);
        let events: Vec<_> = (1..=10).map(|s| event(s, p)).collect();
        hub.publish(&events, None);
        assert_eq!(seqs(&mut fast), (1..=10).collect::<Vec<_>>());
        assert_eq!(
            seqs(&mut slow),
            vec![1, 2],
            "delivered in order until full, then nothing"
        );
        assert!(signal.overflowed.load(Ordering::Acquire));
        assert!(hub.subscriptions(1).is_empty());
        hub.check_invariants().unwrap();
    }

    fn presence(rx: &mut mpsc::Receiver<Outbound>) -> Vec<pb::Presence> {
        let mut out = Vec::new();
        while let Ok(o) = rx.try_recv() {
            if let Some(pb::server_message::Message::Presence(p)) =
                pm_proto::decode_server(&o.frame).unwrap().message
            {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn presence_is_announced_when_a_user_starts_or_stops_viewing_not_per_connection() {
        let hub = Hub::new(0, Arc::default());
        let p = ProjectId::new();
        let (mut a, _) = member(&hub, 1, "alice", 16);
        let (_b, _) = member(&hub, 2, "bob", 16);
        let (_b2, _) = member(&hub, 3, "bob", 16);
        hub.subscribe(1, p, 0).unwrap();
        hub.subscribe(2, p, 0).unwrap();
        let joined = presence(&mut a);
        assert_eq!(joined.len(), 1);
        assert!(joined[0].joined);
        assert_eq!(joined[0].viewers, vec!["alice", "bob"]);
        let (_, viewers) = hub.subscribe(3, p, 0).unwrap();
        assert_eq!(viewers, vec!["alice", "bob"], "every viewer once");
        assert!(
            presence(&mut a).is_empty(),
            "bob's second tab changes nothing"
        );

        hub.leave(2);
        assert!(
            presence(&mut a).is_empty(),
            "bob still views on another connection"
        );
        hub.leave(3);
        let left = presence(&mut a);
        assert_eq!(left.len(), 1);
        assert!(!left[0].joined);
        assert_eq!(left[0].user_id, "bob");
        assert_eq!(left[0].viewers, vec!["alice"]);
    }

    fn removal(seq: u64, project: ProjectId, user: &str) -> pb::Event {
        pb::Event {
            change: Some(pb::Change {
                change: Some(pb::change::Change::MemberRemoved(pb::MemberRemoved {
                    project_id: project.to_string(),
                    user_id: user.to_owned(),
                })),
            }),
            ..event(seq, project)
        }
    }

    #[test]
    fn a_subscription_checked_before_a_published_removal_is_refused_and_one_after_is_kept() {
        let hub = Hub::new(10, Arc::new(Metrics::default()));
        let p = ProjectId::new();
        let q = ProjectId::new();
        let (_a, _) = member(&hub, 1, "alice", 8);
        // Alice's access was checked at seq 10; her removal (seq 11) is published before she
        // joins: the revocation found nothing to revoke, so the join itself must refuse.
        hub.publish(&[removal(11, p, "alice")], None);
        assert!(hub.subscribe(1, p, 10).is_none(), "a stale check");
        assert!(
            hub.subscribe(1, q, 10).is_some(),
            "other projects are unaffected"
        );
        // A check that already saw the removal (and, say, a re-adding after it) is current.
        assert!(hub.subscribe(1, p, 11).is_some());
        // A removal published after the join revokes the subscription as before.
        hub.publish(&[removal(12, p, "alice")], None);
        assert!(!hub.subscriptions(1).contains(&p));
        hub.check_invariants().unwrap();
    }

    #[test]
    fn a_project_is_unchanged_since_a_head_until_one_of_its_events_is_published() {
        let hub = Hub::new(10, Arc::default());
        let (p, q) = (ProjectId::new(), ProjectId::new());
        assert!(hub.unchanged_since(p, 10));
        assert!(
            !hub.unchanged_since(p, 9),
            "a snapshot older than the hub: its record does not reach back"
        );
        hub.publish(&[event(11, q)], None);
        assert!(hub.unchanged_since(p, 10), "another project's event");
        assert!(!hub.unchanged_since(q, 10));
        hub.publish(&[event(12, p)], None);
        assert!(!hub.unchanged_since(p, 11));
        assert!(hub.unchanged_since(p, 12));
        // An event of no project could be about anything.
        hub.publish(
            &[pb::Event {
                seq: 13,
                ..Default::default()
            }],
            None,
        );
        assert!(!hub.unchanged_since(p, 12));
        assert!(hub.unchanged_since(p, 13));
    }

    #[test]
    fn a_tenant_admin_keeps_subscribing_whatever_their_membership() {
        let hub = Hub::new(10, Arc::new(Metrics::default()));
        let p = ProjectId::new();
        let (tx, _rx) = mpsc::channel(8);
        hub.join(
            1,
            UserId::parse("root").unwrap(),
            true,
            tx,
            Arc::new(ConnSignal::default()),
        );
        hub.publish(&[removal(11, p, "root")], None);
        assert!(hub.subscribe(1, p, 10).is_some());
    }
}
