//! The baselines each pm number is read against, measured by this binary in the same run:
//!
//! * [`server`]: a minimal WebSocket echo/broadcast server and a static HTTP handler on pm's own
//!   stack (axum + tokio, same listener, same WebSocket buffer sizes and queue policy) with no
//!   authentication, protobuf or database. It runs as a child process pinned like the pm server.
//! * [`sqlite`]: a raw SQLite insert/select loop with pm's pragmas and driver, on the same disk.
//!
//! This module holds the baseline server's tiny wire format and its client side.

pub mod server;
pub mod sqlite;

use anyhow::{Context, bail};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, PATIENCE, Ws};

/// Client → server: `E` reply_len:u32 … — answer with a frame of `reply_len` bytes.
const ECHO: u8 = b'E';
/// Client → server: `S` topic:u32 replay_count:u32 replay_len:u32 — subscribe, then receive the
/// acknowledgement and `replay_count` frames of `replay_len` bytes (a resume's replay).
const SUBSCRIBE: u8 = b'S';
/// Client → server: `P` topic:u32 seq:u64 sent:u64 … — deliver to the topic's other subscribers.
const PUBLISH: u8 = b'P';
/// Server → client: the echo's answer.
const ECHOED: u8 = b'e';
/// Server → client: subscribe or publish done.
const ACK: u8 = b'A';
/// Server → client: one replayed frame after a subscription.
const REPLAYED: u8 = b'r';
/// Server → client: a published frame: `V` topic:u32 seq:u64 sent:u64 ….
const EVENT: u8 = b'V';
/// Server → client: the queue overflowed and every subscription of the connection was dropped.
const RESYNC: u8 = b'R';

/// Smallest publish frame: opcode, topic, seq, send time.
const PUBLISH_HEADER: usize = 1 + 4 + 8 + 8;

/// What a baseline client received.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    Echoed,
    Ack,
    Replayed,
    Event {
        topic: u32,
        seq: u64,
        sent_nanos: u64,
    },
    Resync,
}

/// A connection to the baseline server.
pub struct BaseClient {
    pub ws: Ws,
}

impl BaseClient {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            ws: client::connect(url, None).await?,
        })
    }

    async fn send(&mut self, frame: Bytes) -> anyhow::Result<()> {
        self.ws.send(Message::Binary(frame)).await?;
        Ok(())
    }

    pub async fn recv(&mut self) -> anyhow::Result<Received> {
        let frame = tokio::time::timeout(PATIENCE, client::next_binary(&mut self.ws))
            .await
            .context("nothing received in time")??
            .context("the baseline server closed the connection")?;
        parse(&frame)
    }

    /// One echo round trip: a request of `request_len` bytes answered by `reply_len` bytes.
    pub async fn echo(&mut self, request_len: usize, reply_len: usize) -> anyhow::Result<()> {
        let mut frame = BytesMut::with_capacity(request_len.max(5));
        frame.put_u8(ECHO);
        frame.put_u32(u32::try_from(reply_len).unwrap_or(u32::MAX));
        frame.resize(request_len.max(5), 0);
        self.send(frame.freeze()).await?;
        loop {
            match self.recv().await? {
                Received::Echoed => return Ok(()),
                Received::Event { .. } | Received::Replayed => {}
                other => bail!("unexpected {other:?} while waiting for an echo"),
            }
        }
    }

    /// Sends a subscription without waiting for its acknowledgement.
    pub async fn send_subscribe(
        &mut self,
        topic: u32,
        replay_count: u32,
        replay_len: u32,
    ) -> anyhow::Result<()> {
        let mut frame = BytesMut::with_capacity(13);
        frame.put_u8(SUBSCRIBE);
        frame.put_u32(topic);
        frame.put_u32(replay_count);
        frame.put_u32(replay_len);
        self.send(frame.freeze()).await
    }

    /// Subscribes and waits for the acknowledgement.
    pub async fn subscribe(&mut self, topic: u32) -> anyhow::Result<()> {
        self.send_subscribe(topic, 0, 0).await?;
        loop {
            match self.recv().await? {
                Received::Ack => return Ok(()),
                Received::Event { .. } | Received::Replayed => {}
                other => bail!("unexpected {other:?} while subscribing"),
            }
        }
    }

    /// Publishes one frame of `len` bytes to `topic` and waits for the acknowledgement.
    pub async fn publish(
        &mut self,
        topic: u32,
        seq: u64,
        sent_nanos: u64,
        len: usize,
    ) -> anyhow::Result<()> {
        let mut frame = BytesMut::with_capacity(len.max(PUBLISH_HEADER));
        frame.put_u8(PUBLISH);
        frame.put_u32(topic);
        frame.put_u64(seq);
        frame.put_u64(sent_nanos);
        frame.resize(len.max(PUBLISH_HEADER), 0);
        self.send(frame.freeze()).await?;
        loop {
            match self.recv().await? {
                Received::Ack => return Ok(()),
                Received::Event { .. } | Received::Replayed => {}
                other => bail!("unexpected {other:?} while publishing"),
            }
        }
    }
}

/// Decodes a server → client frame.
pub fn parse(frame: &[u8]) -> anyhow::Result<Received> {
    let u32_at = |i: usize| -> Option<u32> {
        Some(u32::from_be_bytes(frame.get(i..i + 4)?.try_into().ok()?))
    };
    let u64_at = |i: usize| -> Option<u64> {
        Some(u64::from_be_bytes(frame.get(i..i + 8)?.try_into().ok()?))
    };
    Ok(match frame.first() {
        Some(&ECHOED) => Received::Echoed,
        Some(&ACK) => Received::Ack,
        Some(&REPLAYED) => Received::Replayed,
        Some(&RESYNC) => Received::Resync,
        Some(&EVENT) => Received::Event {
            topic: u32_at(1).context("short event")?,
            seq: u64_at(5).context("short event")?,
            sent_nanos: u64_at(13).context("short event")?,
        },
        other => bail!("unknown baseline frame {other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_frame_reaches_subscribers_as_an_event_with_its_topic_seq_and_send_time() {
        let mut frame = BytesMut::new();
        frame.put_u8(EVENT);
        frame.put_u32(7);
        frame.put_u64(42);
        frame.put_u64(1_000_000);
        frame.resize(200, 0);
        assert_eq!(
            parse(&frame).unwrap(),
            Received::Event {
                topic: 7,
                seq: 42,
                sent_nanos: 1_000_000
            }
        );
    }

    #[test]
    fn a_truncated_or_unknown_frame_is_an_error() {
        assert!(parse(&[EVENT, 0, 0]).is_err());
        assert!(parse(b"?").is_err());
        assert!(parse(&[]).is_err());
    }
}
