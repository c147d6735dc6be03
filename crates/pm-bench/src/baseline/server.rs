//! The baseline server: what a WebSocket and an HTTP response cost on pm's stack when nothing else
//! happens. Deliberately the same as pm where the stack is concerned (axum's `serve` on a tokio
//! listener, 4 KiB WebSocket buffers, 1 MiB frame limit, bounded per-connection queues filled with
//! `try_send`, a full queue dropping the connection's subscriptions) and nothing else: no tokens,
//! no protobuf, no database, no presence, no heartbeat.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::{ACK, ECHO, ECHOED, EVENT, PUBLISH, PUBLISH_HEADER, REPLAYED, RESYNC, SUBSCRIBE};

/// pm's values (pm-server `ws.rs` and `pm_ws::Limits`), so the two servers differ only in what pm
/// does on top of the stack.
const WS_BUFFER_BYTES: usize = 4 * 1024;
const MAX_FRAME_BYTES: usize = 1024 * 1024;
const OUTBOUND_QUEUE: usize = 1024;

/// The static handler's entity tag: constant, like an unchanged project's.
const STATIC_ETAG: &str = "\"static\"";

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// Subscriptions indexed both ways, like pm's registry, behind one lock never held across
/// `.await`.
#[derive(Default)]
struct Registry {
    conns: HashMap<u64, (mpsc::Sender<Bytes>, Vec<u32>)>,
    topics: HashMap<u32, HashSet<u64>>,
}

impl Registry {
    /// Subscribes `conn` to `topic`; returns the receiving end of its queue when the connection
    /// had no queue yet.
    fn subscribe(&mut self, conn: u64, topic: u32) -> Option<mpsc::Receiver<Bytes>> {
        self.topics.entry(topic).or_default().insert(conn);
        if let Some((_, topics)) = self.conns.get_mut(&conn) {
            topics.push(topic);
            return None;
        }
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        self.conns.insert(conn, (tx, vec![topic]));
        Some(rx)
    }

    /// Drops every subscription of `conn` (and its queue's sender, which closes the queue).
    fn remove(&mut self, conn: u64) {
        if let Some((_, topics)) = self.conns.remove(&conn) {
            for topic in topics {
                if let Some(set) = self.topics.get_mut(&topic) {
                    set.remove(&conn);
                }
            }
        }
    }

    fn publish(&mut self, topic: u32, from: u64, frame: &Bytes) {
        let Some(targets) = self.topics.get(&topic) else {
            return;
        };
        let mut overflowed = Vec::new();
        for conn in targets {
            if *conn == from {
                continue;
            }
            if let Some((tx, _)) = self.conns.get(conn)
                && tx.try_send(frame.clone()).is_err()
            {
                overflowed.push(*conn);
            }
        }
        for conn in overflowed {
            self.remove(conn);
        }
    }
}

#[derive(Clone, Default)]
struct Shared {
    registry: Arc<Mutex<Registry>>,
    bodies: Arc<Mutex<HashMap<usize, Bytes>>>,
}

impl Shared {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Serves `/ws`, `/static` and `/health` on `listen` until the process is killed.
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot bind {listen}"))?;
    let app = Router::new()
        .route("/ws", get(upgrade))
        .route("/static", get(static_body))
        .route("/health", get(|| async { "ok" }))
        .with_state(Shared::default());
    axum::serve(listener, app).await?;
    Ok(())
}

async fn upgrade(State(shared): State<Shared>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(WS_BUFFER_BYTES)
        .write_buffer_size(WS_BUFFER_BYTES)
        .on_upgrade(move |socket| connection(socket, shared))
}

async fn connection(mut socket: WebSocket, shared: Shared) {
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let mut queue: Option<mpsc::Receiver<Bytes>> = None;
    loop {
        tokio::select! {
            out = next_queued(&mut queue) => {
                let frame = match out {
                    Some(frame) => frame,
                    None => {
                        // The registry dropped the sender: the queue overflowed.
                        queue = None;
                        Bytes::from_static(&[RESYNC])
                    }
                };
                if socket.send(Message::Binary(frame)).await.is_err() {
                    break;
                }
            }
            inbound = socket.recv() => {
                let frame = match inbound {
                    Some(Ok(Message::Binary(frame))) => frame,
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Text(_))) => continue,
                    None | Some(Ok(Message::Close(_)) | Err(_)) => break,
                };
                if on_frame(&mut socket, &shared, conn, &mut queue, frame).await.is_err() {
                    break;
                }
            }
        }
    }
    shared.registry().remove(conn);
}

async fn next_queued(queue: &mut Option<mpsc::Receiver<Bytes>>) -> Option<Bytes> {
    match queue {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn on_frame(
    socket: &mut WebSocket,
    shared: &Shared,
    conn: u64,
    queue: &mut Option<mpsc::Receiver<Bytes>>,
    frame: Bytes,
) -> Result<(), axum::Error> {
    let u32_at = |i: usize| -> u32 {
        frame
            .get(i..i + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_be_bytes)
    };
    match frame.first() {
        Some(&ECHO) => {
            let len = (u32_at(1) as usize).clamp(1, MAX_FRAME_BYTES);
            let mut reply = BytesMut::zeroed(len);
            reply[0] = ECHOED;
            socket.send(Message::Binary(reply.freeze())).await
        }
        Some(&SUBSCRIBE) => {
            let (topic, count, len) = (u32_at(1), u32_at(5), u32_at(9) as usize);
            if let Some(rx) = shared.registry().subscribe(conn, topic) {
                *queue = Some(rx);
            }
            let mut ack = BytesMut::with_capacity(5);
            ack.put_u8(ACK);
            ack.put_u32(topic);
            socket.send(Message::Binary(ack.freeze())).await?;
            let mut replayed = BytesMut::zeroed(len.clamp(1, MAX_FRAME_BYTES));
            replayed[0] = REPLAYED;
            let replayed = replayed.freeze();
            for _ in 0..count {
                socket.send(Message::Binary(replayed.clone())).await?;
            }
            Ok(())
        }
        Some(&PUBLISH) if frame.len() >= PUBLISH_HEADER => {
            // Encoded once, shared by every recipient (as pm's hub does).
            let mut event = BytesMut::from(&frame[..]);
            event[0] = EVENT;
            let event = event.freeze();
            shared.registry().publish(u32_at(1), conn, &event);
            socket
                .send(Message::Binary(Bytes::from_static(&[ACK])))
                .await
        }
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
struct StaticParams {
    bytes: usize,
}

/// A body of the requested size (made once per size), with a constant `ETag`: `304` when the
/// request names it, exactly like pm's context endpoint for an unchanged project.
async fn static_body(
    State(shared): State<Shared>,
    Query(params): Query<StaticParams>,
    headers: HeaderMap,
) -> Response {
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == STATIC_ETAG.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let size = params.bytes.min(64 * 1024 * 1024);
        let body = shared
            .bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(size)
            .or_insert_with(|| Bytes::from(vec![b'x'; size]))
            .clone();
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_static(STATIC_ETAG));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}
