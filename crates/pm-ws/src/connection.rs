//! One task per WebSocket connection, with one `select!` over: shutdown, the hub's overflow signal,
//! the token's expiry, the heartbeat tick, the outbound queue and inbound frames.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use futures_util::SinkExt;
use pm_auth::Identity;
use pm_core::{ProjectId, Timestamp};
use pm_proto::pb::{self, client_message::Command, server_message};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::admission::Permit;
use crate::hub::{ConnSignal, Hub, Outbound, encode_server};
use crate::outbox;
use crate::rate::TokenBucket;
use crate::service::Outcome;
use crate::subscription::ConnId;
use crate::{Error, Limits, Metrics, Service};

/// WebSocket close codes used by the server.
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_INTERNAL: u16 = 1011;

/// How long a client is asked to wait before reconnecting after a shutdown.
const RECONNECT_AFTER_MS: u32 = 1_000;

/// How long the server waits for the client's close frame after sending its own. A live client
/// answers within a round trip; one that does not answer delays a shutdown by at most this much.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many queued frames are written with one flush: a batch also ends when the queue is
/// empty, and a long backlog still lets the loop look at its other branches between batches.
const MAX_BATCH: usize = 64;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// What every connection shares.
pub struct Realtime {
    pub service: Arc<Service>,
    pub limits: Limits,
    pub shutdown: CancellationToken,
}

/// Serves one upgraded connection until it closes.
pub async fn serve(socket: WebSocket, identity: Identity, realtime: Arc<Realtime>, permit: Permit) {
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let span =
        tracing::info_span!("conn", id = conn, tenant = %identity.tenant, user = %identity.user);
    async move {
        realtime.service.metrics().connections_total.inc();
        tracing::debug!("connected");
        let tenant = identity.tenant.clone();
        // Boxed, like every await that runs once or rarely: the connection's future is as large
        // as the largest future it awaits inline, and lives as long as the connection.
        match Box::pin(realtime.service.hub(&tenant)).await {
            Ok(hub) => {
                let mut c = Connection::new(conn, socket, identity, &realtime, hub);
                c.run().await;
                c.hub.leave(conn);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot open the tenant's hub");
                let mut socket = socket;
                let _ = socket
                    .send(close(CLOSE_INTERNAL, "tenant unavailable"))
                    .await;
            }
        }
        drop(permit);
        tracing::debug!("disconnected");
    }
    .instrument(span)
    .await;
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Why the loop ended; decides the last frame sent.
enum End {
    ClientClosed,
    Shutdown,
    Idle,
    TokenExpired,
    TooLarge,
    WriteFailed,
}

struct Connection<'a> {
    id: ConnId,
    socket: WebSocket,
    identity: Identity,
    realtime: &'a Realtime,
    hub: Arc<Hub>,
    queue: outbox::Receiver,
    signal: Arc<ConnSignal>,
    /// Frames taken from the queue early (while ordering a reply) that must go out next.
    pending: VecDeque<Outbound>,
    bucket: TokenBucket,
    last_seen: Instant,
}

impl<'a> Connection<'a> {
    fn new(
        id: ConnId,
        socket: WebSocket,
        identity: Identity,
        realtime: &'a Realtime,
        hub: Arc<Hub>,
    ) -> Self {
        let limits = &realtime.limits;
        let (tx, queue) = outbox::outbox(limits.outbound_queue);
        let signal = Arc::new(ConnSignal::default());
        hub.join(
            id,
            identity.user.clone(),
            identity.role == pm_core::TenantRole::Admin,
            tx,
            Arc::clone(&signal),
        );
        Self {
            id,
            socket,
            identity,
            realtime,
            hub,
            queue,
            signal,
            pending: VecDeque::new(),
            bucket: TokenBucket::new(
                limits.commands_per_second,
                limits.command_burst,
                std::time::Instant::now(),
            ),
            last_seen: Instant::now(),
        }
    }

    fn metrics(&self) -> &Metrics {
        self.realtime.service.metrics()
    }

    async fn run(&mut self) {
        let end = self.event_loop().await;
        Box::pin(self.end(end)).await;
    }

    /// Sends the last frames `end` calls for.
    async fn end(&mut self, end: End) {
        // Ends that tell the client to come back complete the close handshake, so the client
        // reads everything sent before the close frame (see `finish_close`).
        let handshake = matches!(end, End::Shutdown | End::TokenExpired);
        let last: Option<Message> = match end {
            End::ClientClosed | End::WriteFailed => None,
            End::Shutdown => {
                let going_away = server_message::Message::GoingAway(pb::GoingAway {
                    reason: "server shutting down".into(),
                    reconnect_after_ms: RECONNECT_AFTER_MS,
                });
                let _ = self.write(encode_server(going_away)).await;
                Some(close(CLOSE_GOING_AWAY, "server shutting down"))
            }
            End::Idle => Some(close(CLOSE_GOING_AWAY, "idle timeout")),
            End::TokenExpired => {
                let going_away = server_message::Message::GoingAway(pb::GoingAway {
                    reason: "token expired".into(),
                    reconnect_after_ms: 0,
                });
                let _ = self.write(encode_server(going_away)).await;
                Some(close(CLOSE_POLICY, "token expired"))
            }
            End::TooLarge => Some(close(CLOSE_TOO_BIG, "frame too large")),
        };
        if let Some(last) = last {
            let timeout = self.realtime.limits.write_timeout;
            let sent = tokio::time::timeout(timeout, self.socket.send(last)).await;
            if handshake && matches!(sent, Ok(Ok(()))) {
                self.finish_close().await;
            }
        }
    }

    /// After the server's close frame: reads until the client's close frame (or the end of the
    /// stream), for at most [`CLOSE_HANDSHAKE_TIMEOUT`]. Frames that arrive meanwhile were sent
    /// before the client saw the close; they are not executed (no reply may follow a close frame),
    /// and the client resends them after reconnecting. Dropping the connection without reading them
    /// would make the kernel answer with a reset, which can destroy replies the client has not
    /// read yet: the client would lose the answers to commands that committed.
    async fn finish_close(&mut self) {
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, async {
            while let Some(Ok(message)) = self.socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }

    async fn welcome(&mut self) -> Result<(), ()> {
        let limits = &self.realtime.limits;
        let welcome = server_message::Message::Welcome(pb::Welcome {
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            tenant_id: self.identity.tenant.to_string(),
            user_id: self.identity.user.to_string(),
            role: pm_proto::WireEnum::to_wire(self.identity.role),
            limits: Some(pb::Limits {
                max_frame_bytes: u32::try_from(limits.max_frame_bytes).unwrap_or(u32::MAX),
                commands_per_second: limits.commands_per_second,
                command_burst: limits.command_burst,
                heartbeat_interval_ms: millis(limits.heartbeat_interval),
                idle_timeout_ms: millis(limits.idle_timeout),
            }),
            head_seq: self.hub.last_published(),
            token_expires_at: self.identity.expires_at.as_millis(),
            history_epoch: self
                .realtime
                .service
                .history_epoch(&self.identity.tenant)
                .await
                .unwrap_or_default(),
        });
        self.write(encode_server(welcome)).await
    }

    async fn event_loop(&mut self) -> End {
        let (heartbeat, idle_timeout) = (
            self.realtime.limits.heartbeat_interval,
            self.realtime.limits.idle_timeout,
        );
        if Box::pin(self.welcome()).await.is_err() {
            return End::WriteFailed;
        }
        // One timer serves the heartbeat and the token's expiry, whichever comes first. The
        // futures the loop waits on are made once (and remade only when they complete), not on
        // every turn: a turn per delivered frame must not register and cancel waiters and timers.
        let expiry = token_deadline(self.identity.expires_at);
        let mut next_beat = Instant::now() + heartbeat;
        let timer = tokio::time::sleep_until(next_beat.min(expiry));
        let shutdown = self.realtime.shutdown.clone();
        let cancelled = shutdown.cancelled();
        let signal = Arc::clone(&self.signal);
        let overflowed = signal.overflowed();
        tokio::pin!(timer, cancelled, overflowed);
        loop {
            tokio::select! {
                biased;
                () = &mut cancelled => return End::Shutdown,
                () = &mut overflowed => {
                    overflowed.set(signal.overflowed());
                    if Box::pin(self.resync_after_overflow()).await.is_err() {
                        return End::WriteFailed;
                    }
                }
                () = &mut timer => {
                    let now = Instant::now();
                    if now >= expiry {
                        return End::TokenExpired;
                    }
                    if now >= next_beat {
                        // A late tick is not made up for: the next one is an interval away.
                        next_beat = now + heartbeat;
                        let silent = self.last_seen.elapsed();
                        if silent > idle_timeout {
                            return End::Idle;
                        }
                        // A client heard from in the last half interval (a browser sends its
                        // own pings) has just shown it is alive: no ping, and no pong to read.
                        // Either way nothing is silent on the wire for 1.5 intervals, under the
                        // idle timeouts of proxies.
                        if silent >= heartbeat / 2
                            && Box::pin(self.send(Message::Ping(Bytes::new()))).await.is_err()
                        {
                            return End::WriteFailed;
                        }
                    }
                    timer.as_mut().reset(next_beat.min(expiry));
                }
                out = next_outbound(&mut self.pending, &mut self.queue) => {
                    if Box::pin(self.write_queued(out)).await.is_err() {
                        return End::WriteFailed;
                    }
                }
                inbound = self.socket.recv() => {
                    self.last_seen = Instant::now();
                    match inbound {
                        None | Some(Ok(Message::Close(_))) => return End::ClientClosed,
                        Some(Ok(Message::Binary(frame))) => {
                            // Boxed: the idle loop's state must not be as large as the largest
                            // command's future, for the whole life of the connection.
                            if Box::pin(self.on_frame(&frame)).await.is_err() {
                                return End::WriteFailed;
                            }
                        }
                        Some(Ok(Message::Text(_))) => {
                            let err = Error::InvalidMessage;
                            if Box::pin(self.reply_error("", &err)).await.is_err() {
                                return End::WriteFailed;
                            }
                        }
                        // Pings are answered by the WebSocket layer; both only prove liveness.
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Err(e)) => {
                            if is_capacity_error(e) {
                                return End::TooLarge;
                            }
                            return End::ClientClosed;
                        }
                    }
                }
            }
        }
    }

    /// The hub dropped this connection's subscriptions because its queue was full: discard what is
    /// queued (it is incomplete now) and tell the client to resync.
    async fn resync_after_overflow(&mut self) -> Result<(), ()> {
        self.pending.clear();
        self.queue.clear();
        let head_seq = self.hub.last_published();
        // Empty: every subscription ended.
        self.resync_project(String::new(), pb::ResyncReason::QueueOverflow, head_seq)
            .await
    }

    async fn on_frame(&mut self, frame: &[u8]) -> Result<(), ()> {
        self.metrics().frames_in.inc();
        self.metrics().bytes_in.inc_by(frame.len() as u64);
        let message = match pm_proto::decode_client(frame) {
            Ok(m) => m,
            Err(_) => return self.reply_error("", &Error::InvalidMessage).await,
        };
        if let Err(wait) = self.bucket.try_take(std::time::Instant::now()) {
            self.metrics().rate_limited.inc();
            let err = Error::RateLimited {
                retry_after_ms: u32::try_from(wait.as_millis()).unwrap_or(u32::MAX).max(1),
            };
            return self.reply_error(&message.request_id, &err).await;
        }
        let Some(command) = message.command else {
            return self
                .reply_error(&message.request_id, &Error::InvalidMessage)
                .await;
        };
        let request_id = message.request_id;
        match command {
            Command::Subscribe(s) => self.subscribe(&request_id, s).await,
            Command::Unsubscribe(u) => self.unsubscribe(&request_id, u).await,
            command => {
                let outcome = self
                    .realtime
                    .service
                    .execute(&self.identity, &request_id, command, Some(self.id))
                    .await;
                self.reply(&request_id, outcome).await
            }
        }
    }

    /// Sends a reply after every frame queued before the reply's own events (all of them when it
    /// has none), so events and replies leave this connection in sequence order, and a reply is a
    /// barrier: whatever was queued for this connection before the request was handled precedes it.
    async fn reply(&mut self, request_id: &str, outcome: Outcome) -> Result<(), ()> {
        let hold_from = outcome.events.iter().map(|e| e.seq).min();
        self.reply_holding(request_id, outcome, hold_from).await
    }

    /// Like [`Self::reply`], keeping queued events from sequence number `hold_from` on for later:
    /// they follow something this reply must precede (its own events, or a replay).
    async fn reply_holding(
        &mut self,
        request_id: &str,
        outcome: Outcome,
        hold_from: Option<u64>,
    ) -> Result<(), ()> {
        let mut frames = self.take_before_reply(hold_from);
        frames.push(encode_reply(request_id, outcome));
        self.write_frames(frames).await
    }

    /// Takes the frames a reply must follow: those taken early, then what is queued now (only
    /// that: a busy publisher must not keep the reply waiting), except events from sequence number
    /// `hold_from` on, which stay pending behind the reply.
    fn take_before_reply(&mut self, hold_from: Option<u64>) -> Vec<Bytes> {
        let mut frames: Vec<Bytes> = self.pending.drain(..).map(|out| out.frame).collect();
        for _ in 0..self.queue.len() {
            let Some(out) = self.queue.try_recv() else {
                break;
            };
            if hold_from.is_some_and(|from| out.seq >= from) {
                self.pending.push_back(out);
                // Everything behind it is newer still: hold it too.
                while let Some(out) = self.queue.try_recv() {
                    self.pending.push_back(out);
                }
                break;
            }
            frames.push(out.frame);
        }
        frames
    }

    async fn reply_error(&mut self, request_id: &str, error: &Error) -> Result<(), ()> {
        self.reply(request_id, Outcome::error(error)).await
    }

    async fn subscribe(&mut self, request_id: &str, s: pb::Subscribe) -> Result<(), ()> {
        // The access check reads a database snapshot and the hub is joined after it: a removal
        // published in between makes the hub refuse, and the check runs again on a newer snapshot
        // (which then fails, unless the user was re-added meanwhile).
        let mut attempts = 0;
        let (project, epoch, live_from) = loop {
            attempts += 1;
            let (project, epoch, checked_at) = match self
                .realtime
                .service
                .readable_project(&self.identity, &s.project_id)
                .await
            {
                Ok(found) => found,
                Err(e) => return self.reply_error(request_id, &e).await,
            };
            match self.hub.subscribe(self.id, project, checked_at) {
                Some(live_from) => break (project, epoch, live_from),
                None if attempts < MAX_SUBSCRIBE_CHECKS => continue,
                None => {
                    let gone = Error::NotFound {
                        entity: pm_core::EntityKind::Project,
                    };
                    return self.reply_error(request_id, &gone).await;
                }
            }
        };
        // With `since`, live events of this project (after `live_from`) wait until the replay of
        // the older ones has been written.
        let hold_from = s.since.map(|_| live_from + 1);
        let mut frames = self.take_before_reply(hold_from);
        // Read after taking what precedes the reply: a presence message queued from now on
        // follows the reply and continues from these viewers (see `Hub::viewers`).
        let subscribed = pb::Subscribed {
            project_id: project.to_string(),
            head_seq: live_from,
            viewers: self.hub.viewers(self.id, project),
            history_epoch: epoch.clone(),
        };
        let outcome = Outcome {
            result: subscribed.into(),
            events: Vec::new(),
        };
        frames.push(encode_reply(request_id, outcome));
        self.write_frames(frames).await?;
        if let Some(since) = s.since {
            if s.history_epoch != epoch {
                // `since` counts in another history (a restored backup reuses sequence numbers for
                // different changes): nothing after it can be trusted.
                return self
                    .resync(project, pb::ResyncReason::EpochChanged, live_from)
                    .await;
            }
            self.replay(project, since, live_from).await?;
        }
        Ok(())
    }

    async fn resync(
        &mut self,
        project: ProjectId,
        reason: pb::ResyncReason,
        head_seq: u64,
    ) -> Result<(), ()> {
        self.resync_project(project.to_string(), reason, head_seq)
            .await
    }

    async fn resync_project(
        &mut self,
        project_id: String,
        reason: pb::ResyncReason,
        head_seq: u64,
    ) -> Result<(), ()> {
        self.metrics().resyncs_sent.inc();
        let history_epoch = self
            .realtime
            .service
            .history_epoch(&self.identity.tenant)
            .await
            .unwrap_or_default();
        let resync = server_message::Message::ResyncRequired(pb::ResyncRequired {
            project_id,
            reason: reason.into(),
            head_seq,
            history_epoch,
        });
        self.write(encode_server(resync)).await
    }

    /// Sends the project's changes in `(since, until]` from the change log, in order, straight to
    /// the socket. Everything after `until` is already being queued live, so the two meet with no
    /// gap and no duplicate.
    async fn replay(&mut self, project: ProjectId, since: u64, until: u64) -> Result<(), ()> {
        let service = Arc::clone(&self.realtime.service);
        let batch = self.realtime.limits.replay_batch;
        if since > until {
            // The client claims changes this server never published (its state comes from another
            // history, such as a database restored from a backup).
            return self
                .resync(project, pb::ResyncReason::SinceAhead, until)
                .await;
        }
        let mut cursor = since;
        loop {
            let page = match service
                .replay_page(&self.identity, project, cursor, until, batch)
                .await
            {
                Ok(Some(page)) => page,
                Ok(None) => {
                    return self
                        .resync(project, pb::ResyncReason::SinceTooOld, until)
                        .await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "replay failed");
                    return self
                        .resync(project, pb::ResyncReason::Unspecified, until)
                        .await;
                }
            };
            let done = page.len() < usize::try_from(batch).unwrap_or(usize::MAX);
            let mut frames = Vec::with_capacity(page.len());
            for event in page {
                cursor = event.seq;
                frames.push(encode_server(server_message::Message::Event(event)));
            }
            self.write_frames(frames).await?;
            if done || cursor >= until {
                return Ok(());
            }
        }
    }

    async fn unsubscribe(&mut self, request_id: &str, u: pb::Unsubscribe) -> Result<(), ()> {
        let project = match self
            .realtime
            .service
            .project_named(&self.identity, &u.project_id)
            .await
        {
            Ok(p) => p,
            Err(e) => return self.reply_error(request_id, &e).await,
        };
        self.hub.unsubscribe(self.id, project);
        let result = pb::Unsubscribed {
            project_id: project.to_string(),
        };
        self.reply(
            request_id,
            Outcome {
                result: result.into(),
                events: Vec::new(),
            },
        )
        .await
    }

    async fn write(&mut self, frame: Bytes) -> Result<(), ()> {
        self.write_frames([frame]).await
    }

    /// Writes `first` and whatever else is ready to go (taken early, then queued), up to
    /// [`MAX_BATCH`] frames, with one flush.
    async fn write_queued(&mut self, first: Outbound) -> Result<(), ()> {
        let (pending, queue) = (&mut self.pending, &mut self.queue);
        let mut first = Some(first);
        let mut taken = 0;
        // A frame is taken from the queue only when it is written: one taken ahead and left
        // unwritten at the end of the batch would be lost.
        let frames = std::iter::from_fn(|| {
            if taken == MAX_BATCH {
                return None;
            }
            taken += 1;
            first
                .take()
                .or_else(|| pending.pop_front())
                .or_else(|| queue.try_recv())
                .map(|out| out.frame)
        });
        write_bounded(
            &mut self.socket,
            self.realtime.limits.write_timeout,
            frames,
            self.realtime.service.metrics(),
        )
        .await
    }

    /// Writes frames with one flush (see [`write_bounded`]).
    async fn write_frames(&mut self, frames: impl IntoIterator<Item = Bytes>) -> Result<(), ()> {
        write_bounded(
            &mut self.socket,
            self.realtime.limits.write_timeout,
            frames,
            self.realtime.service.metrics(),
        )
        .await
    }

    async fn send(&mut self, message: Message) -> Result<(), ()> {
        bounded(
            self.realtime.limits.write_timeout,
            self.socket.send(message),
        )
        .await
    }
}

fn encode_reply(request_id: &str, outcome: Outcome) -> Bytes {
    encode_server(server_message::Message::Reply(pb::Reply {
        request_id: request_id.to_owned(),
        events: outcome.events,
        result: Some(outcome.result),
    }))
}

/// Feeds binary frames to the socket and flushes once: one `write` for a batch instead of one per
/// frame. The counters are updated once per batch.
async fn write_bounded(
    socket: &mut WebSocket,
    limit: Duration,
    frames: impl IntoIterator<Item = Bytes>,
    metrics: &Metrics,
) -> Result<(), ()> {
    let (mut count, mut bytes) = (0u64, 0u64);
    let write = async {
        for frame in frames {
            count += 1;
            bytes += frame.len() as u64;
            socket.feed(Message::Binary(frame)).await?;
        }
        socket.flush().await
    };
    let written = bounded(limit, write).await;
    metrics.frames_out.inc_by(count);
    metrics.bytes_out.inc_by(bytes);
    written
}

/// Runs a write, bounded by `limit` only when it cannot finish at once: a write the socket's
/// buffers take completes without arming a timer (the bounded queue already bounds what waits for
/// it), and one a client stopped reading ends the connection after `limit`.
async fn bounded(
    limit: Duration,
    write: impl Future<Output = Result<(), axum::Error>>,
) -> Result<(), ()> {
    let mut write = std::pin::pin!(write);
    let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
    let result = match first {
        Poll::Ready(result) => result,
        Poll::Pending => match tokio::time::timeout(limit, write).await {
            Ok(result) => result,
            Err(_) => {
                tracing::debug!("write timed out; the client stopped reading");
                return Err(());
            }
        },
    };
    result.map_err(|_| ())
}

async fn next_outbound(pending: &mut VecDeque<Outbound>, queue: &mut outbox::Receiver) -> Outbound {
    match pending.pop_front() {
        Some(out) => out,
        None => queue.recv().await,
    }
}

/// How often a subscription re-checks access when membership keeps changing under it before it
/// answers `NOT_FOUND` as for any project the user cannot see: each check reads a newer snapshot,
/// so one retry settles it unless the user is removed and re-added again and again meanwhile.
const MAX_SUBSCRIBE_CHECKS: u32 = 3;

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// When the token expires, as a tokio instant.
fn token_deadline(expires_at: Timestamp) -> Instant {
    let remaining = expires_at
        .as_millis()
        .saturating_sub(Timestamp::now().as_millis())
        .max(0);
    Instant::now() + Duration::from_millis(u64::try_from(remaining).unwrap_or(0))
}

fn is_capacity_error(e: axum::Error) -> bool {
    e.into_inner()
        .downcast::<tungstenite::Error>()
        .is_ok_and(|e| matches!(*e, tungstenite::Error::Capacity(_)))
}
