//! The per-tenant hub: delivers each committed event to the connections subscribed to its project,
//! without ever waiting on one of them.
//!
//! Policy for a full outbound queue: the connection is dropped from every subscription at once (so
//! no further event is attempted and none is silently skipped in between), flagged, and woken; it
//! then tells its client `ResyncRequired(QUEUE_OVERFLOW)` and the client re-subscribes. A hub is one
//! tenant's: events of another tenant cannot reach it by construction.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use pm_core::{ProjectId, TenantId, UserId};
use pm_proto::pb;
use tokio::sync::Notify;

use crate::Metrics;
use crate::outbox::{self, Refused};
use crate::subscription::{ConnId, Registry};

/// How long changes of who views a project gather before they are announced: at most one
/// `Presence` per project per interval, carrying the net change, whatever the number of
/// subscriptions that came and went in it. A crowd (re)joining a project then costs each viewer one
/// message per interval instead of one per arrival. Short enough that people see each other arrive
/// without noticing a delay.
pub const PRESENCE_INTERVAL: Duration = Duration::from_millis(100);

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
    queue: outbox::Sender,
    signal: Arc<ConnSignal>,
}

/// Who views one project, kept as subscriptions come and go (never recomputed by a scan).
#[derive(Default)]
struct Viewing {
    /// The number of subscribed connections of each viewing user.
    connections: HashMap<UserId, u32>,
    /// The viewers the project's subscribers were last told of (what a new subscriber starts from).
    announced: BTreeSet<UserId>,
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
    viewing: HashMap<ProjectId, Viewing>,
    /// Projects whose viewers may differ from what was announced: the next presence round's work.
    presence_dirty: HashSet<ProjectId>,
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
    /// Woken when a project's viewers change with no presence round pending.
    presence_due: Arc<Notify>,
}

impl Hub {
    fn new(head: u64, metrics: Arc<Metrics>) -> Self {
        Self {
            state: Mutex::new(State {
                registry: Registry::default(),
                members: HashMap::new(),
                last_published: head,
                removals: HashMap::new(),
                viewing: HashMap::new(),
                presence_dirty: HashSet::new(),
                created_at: head,
                project_heads: HashMap::new(),
                unscoped_head: 0,
            }),
            metrics,
            presence_due: Arc::new(Notify::new()),
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
        queue: outbox::Sender,
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

    /// Unregisters a connection; the viewers of its projects hear of it in the next presence round.
    pub fn leave(&self, conn: ConnId) {
        let mut state = self.lock();
        self.drop_subscriptions(&mut state, conn);
        state.members.remove(&conn);
    }

    /// Whether no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.lock().members.is_empty()
    }

    /// Subscribes a connection to a project whose access it checked on a database snapshot at
    /// sequence number `checked_at`. Returns the sequence number from which on every event of the
    /// project will be queued for it (events up to it are history, to be replayed from the change
    /// log). Who views the project is told by [`Self::viewers`].
    ///
    /// `None` when the user was removed from the project by a change after `checked_at` that was
    /// already published: its revocation ran before this subscription existed, so the check is
    /// stale and must be made again. (A removal published later revokes this subscription itself;
    /// one committed before the check made the check fail.)
    pub fn subscribe(&self, conn: ConnId, project: ProjectId, checked_at: u64) -> Option<u64> {
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
        let user = member.user.clone();
        let live_from = state.last_published;
        if state.registry.subscribe(conn, project) {
            let viewing = state.viewing.entry(project).or_default();
            let count = viewing.connections.entry(user).or_default();
            *count += 1;
            if *count == 1 {
                self.presence_changed(&mut state, project);
            }
        }
        Some(live_from)
    }

    /// Who views `project` for a subscriber's `Subscribed` reply: the viewers last announced to
    /// the project's subscribers, and the subscriber's own user. The `Presence` messages queued
    /// for the connection after this call continue from it; one queued before it (and written
    /// first) is already contained in it, and applying it again changes nothing.
    pub fn viewers(&self, conn: ConnId, project: ProjectId) -> Vec<String> {
        let state = self.lock();
        let mut viewers: BTreeSet<&str> = state
            .viewing
            .get(&project)
            .into_iter()
            .flat_map(|v| v.announced.iter().map(UserId::as_str))
            .collect();
        if let Some(member) = state.members.get(&conn) {
            viewers.insert(member.user.as_str());
        }
        viewers.into_iter().map(str::to_owned).collect()
    }

    /// Ends a subscription; returns whether there was one.
    pub fn unsubscribe(&self, conn: ConnId, project: ProjectId) -> bool {
        let mut state = self.lock();
        self.drop_subscription(&mut state, conn, project)
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
        let mut delivered = 0;
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
            delivered += self.deliver_to_project(&mut state, project, &out, exclude);
            if let Some(pb::change::Change::MemberRemoved(removed)) =
                event.change.as_ref().and_then(|c| c.change.as_ref())
            {
                state
                    .removals
                    .insert((project, removed.user_id.clone()), event.seq);
                self.revoke(&mut state, project, &removed.user_id);
            }
        }
        self.metrics.events_delivered.inc_by(delivered);
    }

    /// Ends the subscriptions to `project` of a user who just stopped being its member (they got
    /// the removal event itself first). Tenant admins keep theirs: they see every project.
    fn revoke(&self, state: &mut State, project: ProjectId, user: &str) {
        let revoked: Vec<ConnId> = state
            .registry
            .subscribers(project)
            .filter(|c| {
                state
                    .members
                    .get(c)
                    .is_some_and(|m| m.user.as_str() == user && !m.tenant_admin)
            })
            .collect();
        for conn in revoked {
            self.drop_subscription(state, conn, project);
        }
    }

    /// Queues `out` for every subscriber of `project` but `exclude`, without waiting; returns how
    /// many it was queued for. A full queue triggers the overflow policy; a closed one (the
    /// connection is ending) just unregisters it.
    fn deliver_to_project(
        &self,
        state: &mut State,
        project: ProjectId,
        out: &Outbound,
        exclude: Option<ConnId>,
    ) -> u64 {
        let mut delivered = 0;
        let mut full = Vec::new();
        let mut closed = Vec::new();
        for conn in state.registry.subscribers(project) {
            if Some(conn) == exclude {
                continue;
            }
            let Some(member) = state.members.get(&conn) else {
                continue;
            };
            match member.queue.try_send(out.clone()) {
                Ok(()) => delivered += 1,
                Err(Refused::Full) => full.push(conn),
                Err(Refused::Closed) => closed.push(conn),
            }
        }
        for conn in full {
            if let Some(member) = state.members.get(&conn) {
                member.signal.overflowed.store(true, Ordering::Release);
                member.signal.notify.notify_one();
            }
            self.drop_subscriptions(state, conn);
            self.metrics.queue_overflows.inc();
            tracing::debug!(
                conn,
                "outbound queue full; subscriptions dropped, resync required"
            );
        }
        for conn in closed {
            self.drop_subscriptions(state, conn);
            state.members.remove(&conn);
        }
        delivered
    }

    /// Removes one subscription, keeping the project's viewers current.
    fn drop_subscription(&self, state: &mut State, conn: ConnId, project: ProjectId) -> bool {
        if !state.registry.unsubscribe(conn, project) {
            return false;
        }
        if let Some(user) = state.members.get(&conn).map(|m| m.user.clone()) {
            self.viewer_left(state, project, &user);
        }
        true
    }

    /// Removes every subscription of a connection, keeping the projects' viewers current.
    fn drop_subscriptions(&self, state: &mut State, conn: ConnId) {
        let projects = state.registry.remove_connection(conn);
        if let Some(user) = state.members.get(&conn).map(|m| m.user.clone()) {
            for project in projects {
                self.viewer_left(state, project, &user);
            }
        }
    }

    /// One connection of `user` stopped viewing `project`; the user stops viewing with their last.
    fn viewer_left(&self, state: &mut State, project: ProjectId, user: &UserId) {
        let Some(viewing) = state.viewing.get_mut(&project) else {
            return;
        };
        let Some(count) = viewing.connections.get_mut(user) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            viewing.connections.remove(user);
            self.presence_changed(state, project);
        }
    }

    /// Marks the project for the next presence round, starting one if none is pending.
    fn presence_changed(&self, state: &mut State, project: ProjectId) {
        if state.presence_dirty.is_empty() {
            self.presence_due.notify_one();
        }
        state.presence_dirty.insert(project);
    }

    /// One presence round: tells the subscribers of each project whose viewers changed since the
    /// last round who arrived and who departed (net: someone who came and went in between is not
    /// mentioned). Run by the hub's presence task every [`PRESENCE_INTERVAL`] while there are
    /// changes.
    fn announce_presence(&self) {
        let mut state = self.lock();
        let projects: Vec<ProjectId> = state.presence_dirty.drain().collect();
        for project in projects {
            let Some(viewing) = state.viewing.get_mut(&project) else {
                continue;
            };
            let arrived: Vec<String> = viewing
                .connections
                .keys()
                .filter(|u| !viewing.announced.contains(*u))
                .map(ToString::to_string)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let departed: Vec<String> = viewing
                .announced
                .iter()
                .filter(|u| !viewing.connections.contains_key(*u))
                .map(ToString::to_string)
                .collect();
            viewing.announced = viewing.connections.keys().cloned().collect();
            if viewing.connections.is_empty() {
                state.viewing.remove(&project);
            }
            if arrived.is_empty() && departed.is_empty() {
                continue;
            }
            let presence = pb::Presence {
                project_id: project.to_string(),
                arrived,
                departed,
            };
            let out = Outbound {
                seq: 0,
                frame: encode_server(pb::server_message::Message::Presence(presence)),
            };
            self.deliver_to_project(&mut state, project, &out, None);
        }
    }

    #[cfg(test)]
    fn check_invariants(&self) -> Result<(), String> {
        let state = self.lock();
        state.registry.check_invariants()?;
        // The viewer counts are the registry's subscriptions counted per user.
        let mut counted: HashMap<ProjectId, HashMap<&UserId, u32>> = HashMap::new();
        for (conn, member) in &state.members {
            for project in state.registry.projects_of(*conn) {
                *counted
                    .entry(project)
                    .or_default()
                    .entry(&member.user)
                    .or_default() += 1;
            }
        }
        for (project, viewing) in &state.viewing {
            let expected = counted.remove(project).unwrap_or_default();
            let kept: HashMap<&UserId, u32> =
                viewing.connections.iter().map(|(u, c)| (u, *c)).collect();
            if kept != expected {
                return Err(format!(
                    "viewers of {project}: {kept:?}, expected {expected:?}"
                ));
            }
        }
        if let Some(project) = counted.keys().next() {
            return Err(format!("viewers of {project} not counted"));
        }
        Ok(())
    }
}

/// Runs a hub's presence rounds: after a change, waits [`PRESENCE_INTERVAL`] (gathering whatever
/// else changes meanwhile) and announces. Ends when the hub is gone.
async fn presence_rounds(hub: Weak<Hub>, due: Arc<Notify>) {
    loop {
        due.notified().await;
        tokio::time::sleep(PRESENCE_INTERVAL).await;
        let Some(hub) = hub.upgrade() else { return };
        hub.announce_presence();
    }
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
    /// change can commit between reading the head and the hub existing. A new hub's presence task
    /// is spawned on the current tokio runtime.
    pub fn get_or_insert(&self, tenant: &TenantId, head: u64) -> Arc<Hub> {
        Arc::clone(self.lock().entry(tenant.clone()).or_insert_with(|| {
            let hub = Arc::new(Hub::new(head, Arc::clone(&self.metrics)));
            tokio::spawn(presence_rounds(
                Arc::downgrade(&hub),
                Arc::clone(&hub.presence_due),
            ));
            hub
        }))
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
    ) -> (outbox::Receiver, Arc<ConnSignal>) {
        let (tx, rx) = outbox::outbox(cap);
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

    fn seqs(rx: &mut outbox::Receiver) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(o) = rx.try_recv() {
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

    fn presence(rx: &mut outbox::Receiver) -> Vec<pb::Presence> {
        let mut out = Vec::new();
        while let Some(o) = rx.try_recv() {
            if let Some(pb::server_message::Message::Presence(p)) =
                pm_proto::decode_server(&o.frame).unwrap().message
            {
                out.push(p);
            }
        }
        out
    }

    /// (arrived, departed) of each presence message queued, in order.
    fn changes(rx: &mut outbox::Receiver) -> Vec<(Vec<String>, Vec<String>)> {
        presence(rx)
            .into_iter()
            .map(|p| (p.arrived, p.departed))
            .collect()
    }

    fn users(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn presence_announces_exactly_the_changes_of_the_set_of_viewing_users() {
        let hub = Hub::new(0, Arc::default());
        let p = ProjectId::new();
        let (mut a, _) = member(&hub, 1, "alice", 16);
        let (_b, _) = member(&hub, 2, "bob", 16);
        let (_b2, _) = member(&hub, 3, "bob", 16);
        hub.subscribe(1, p, 0).unwrap();
        assert_eq!(
            hub.viewers(1, p),
            users(&["alice"]),
            "the subscriber itself"
        );
        hub.announce_presence();
        assert_eq!(changes(&mut a), vec![(users(&["alice"]), vec![])]);

        hub.subscribe(2, p, 0).unwrap();
        assert_eq!(hub.viewers(2, p), users(&["alice", "bob"]));
        hub.announce_presence();
        assert_eq!(changes(&mut a), vec![(users(&["bob"]), vec![])]);
        hub.subscribe(3, p, 0).unwrap();
        assert_eq!(
            hub.viewers(3, p),
            users(&["alice", "bob"]),
            "every viewer once"
        );
        hub.announce_presence();
        assert!(
            changes(&mut a).is_empty(),
            "bob's second tab changes nothing"
        );

        hub.leave(2);
        hub.announce_presence();
        assert!(
            changes(&mut a).is_empty(),
            "bob still views on another connection"
        );
        hub.leave(3);
        hub.announce_presence();
        assert_eq!(changes(&mut a), vec![(vec![], users(&["bob"]))]);
        hub.check_invariants().unwrap();
    }

    #[test]
    fn a_round_announces_the_net_change_of_everything_since_the_last_one() {
        let hub = Hub::new(0, Arc::default());
        let p = ProjectId::new();
        let (mut a, _) = member(&hub, 1, "alice", 64);
        hub.subscribe(1, p, 0).unwrap();
        // Kept open: a dropped receiver ends its connection at the next delivery.
        let mut others = Vec::new();
        for conn in 2..=5 {
            let user = if conn == 5 { "dave" } else { "bob" };
            others.push(member(&hub, conn, user, 64));
            hub.subscribe(conn, p, 0).unwrap();
        }
        hub.announce_presence();
        assert_eq!(
            changes(&mut a),
            vec![(users(&["alice", "bob", "dave"]), vec![])],
            "one message for five subscriptions"
        );
        // Carol comes and goes, bob leaves, erin arrives: one message with the net change.
        let (_c, _) = member(&hub, 6, "carol", 64);
        hub.subscribe(6, p, 0).unwrap();
        hub.leave(6);
        for conn in 2..=4 {
            hub.unsubscribe(conn, p);
        }
        let (_e, _) = member(&hub, 7, "erin", 64);
        hub.subscribe(7, p, 0).unwrap();
        hub.announce_presence();
        assert_eq!(changes(&mut a), vec![(users(&["erin"]), users(&["bob"]))]);
        hub.announce_presence();
        assert!(changes(&mut a).is_empty(), "nothing changed since");
        hub.check_invariants().unwrap();
    }

    #[test]
    fn a_revoked_or_overflowed_subscription_stops_its_user_viewing() {
        let hub = Hub::new(0, Arc::default());
        let p = ProjectId::new();
        let (mut a, _) = member(&hub, 1, "alice", 64);
        let (_slow, _) = member(&hub, 2, "slow", 1);
        let (_bob, _) = member(&hub, 3, "bob", 64);
        hub.subscribe(1, p, 0).unwrap();
        hub.subscribe(2, p, 0).unwrap();
        hub.subscribe(3, p, 0).unwrap();
        hub.announce_presence();
        changes(&mut a);
        hub.publish(&[event(1, p), event(2, p)], None);
        hub.publish(&[removal(3, p, "bob")], None);
        hub.announce_presence();
        assert_eq!(changes(&mut a), vec![(vec![], users(&["bob", "slow"]))]);
        hub.check_invariants().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_presence_task_announces_once_per_interval_with_the_latest_state() {
        let hubs = Hubs::new(Arc::default());
        let hub = hubs.get_or_insert(&TenantId::parse("t1").unwrap(), 0);
        let p = ProjectId::new();
        let (mut a, _) = member(&hub, 1, "alice", 64);
        hub.subscribe(1, p, 0).unwrap();
        let (_b, _) = member(&hub, 2, "bob", 64);
        hub.subscribe(2, p, 0).unwrap();
        assert!(changes(&mut a).is_empty(), "gathered, not yet announced");
        // The paused clock moves on only when every task is idle; a moment past the interval, the
        // round has run.
        let moment = Duration::from_millis(1);
        tokio::time::sleep(PRESENCE_INTERVAL + moment).await;
        assert_eq!(changes(&mut a), vec![(users(&["alice", "bob"]), vec![])]);
        hub.leave(2);
        tokio::time::sleep(PRESENCE_INTERVAL / 2).await;
        let (_c, _) = member(&hub, 3, "carol", 64);
        hub.subscribe(3, p, 0).unwrap();
        assert!(changes(&mut a).is_empty());
        tokio::time::sleep(PRESENCE_INTERVAL).await;
        assert_eq!(
            changes(&mut a),
            vec![(users(&["carol"]), users(&["bob"]))],
            "both changes in the one round after the first"
        );
        tokio::time::sleep(PRESENCE_INTERVAL * 10).await;
        assert!(changes(&mut a).is_empty(), "no round without a change");
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
        let (tx, _rx) = outbox::outbox(8);
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
