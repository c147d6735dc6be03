//! A connection's bounded outbound queue: the hub puts frames in without waiting, the connection
//! task takes them out. Unlike a channel that allocates its first block of slots up front, it holds
//! no memory while empty, so an idle connection pays only for the handle.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::hub::Outbound;

/// Above this many slots, a queue that empties gives its memory back: a burst must not leave
/// every connection holding room for the next one.
const KEEP_SLOTS: usize = 16;

struct Shared {
    frames: Mutex<VecDeque<Outbound>>,
    capacity: usize,
    /// Set when the receiving connection is gone.
    closed: AtomicBool,
    arrived: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Outbound>> {
        // No critical section can panic half-way.
        self.frames.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The queue holds `capacity` frames: the connection has fallen behind.
    Full,
    /// The connection is gone.
    Closed,
}

/// A queue of at most `capacity` frames (at least one).
pub fn outbox(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        frames: Mutex::new(VecDeque::new()),
        capacity: capacity.max(1),
        closed: AtomicBool::new(false),
        arrived: Notify::new(),
    });
    (Sender(Arc::clone(&shared)), Receiver(shared))
}

pub struct Sender(Arc<Shared>);

impl Sender {
    /// Queues a frame unless the queue is full or its connection gone; never waits.
    pub fn try_send(&self, out: Outbound) -> Result<(), Refused> {
        if self.0.closed.load(Ordering::Acquire) {
            return Err(Refused::Closed);
        }
        {
            let mut frames = self.0.lock();
            if frames.len() >= self.0.capacity {
                return Err(Refused::Full);
            }
            frames.push_back(out);
        }
        self.0.arrived.notify_one();
        Ok(())
    }
}

pub struct Receiver(Arc<Shared>);

impl Receiver {
    /// The next frame, waiting for one.
    pub async fn recv(&mut self) -> Outbound {
        loop {
            // A frame queued after this check stores a wake-up that `notified` consumes at once.
            if let Some(out) = self.try_recv() {
                return out;
            }
            self.0.arrived.notified().await;
        }
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let mut frames = self.0.lock();
        let out = frames.pop_front();
        if frames.is_empty() && frames.capacity() > KEEP_SLOTS {
            *frames = VecDeque::new();
        }
        out
    }

    /// How many frames are queued.
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        *self.0.lock() = VecDeque::new();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn frame(seq: u64) -> Outbound {
        Outbound {
            seq,
            frame: Bytes::new(),
        }
    }

    #[tokio::test]
    async fn frames_come_out_in_order_up_to_the_capacity_then_full_then_closed() {
        let (tx, mut rx) = outbox(3);
        for seq in 1..=3 {
            tx.try_send(frame(seq)).unwrap();
        }
        assert_eq!(tx.try_send(frame(4)), Err(Refused::Full));
        assert_eq!(rx.len(), 3);
        assert_eq!(rx.recv().await.seq, 1);
        tx.try_send(frame(5)).unwrap();
        let rest: Vec<u64> = std::iter::from_fn(|| rx.try_recv())
            .map(|o| o.seq)
            .collect();
        assert_eq!(rest, vec![2, 3, 5]);
        drop(rx);
        assert_eq!(tx.try_send(frame(6)), Err(Refused::Closed));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_frame_sent_from_another_task() {
        let (tx, mut rx) = outbox(8);
        let sender = tokio::spawn(async move {
            tx.try_send(frame(7)).unwrap();
            tx
        });
        assert_eq!(rx.recv().await.seq, 7);
        sender.await.unwrap();
    }

    #[test]
    fn an_emptied_queue_gives_back_the_memory_of_a_burst() {
        let (tx, mut rx) = outbox(1024);
        for seq in 0..1000 {
            tx.try_send(frame(seq)).unwrap();
        }
        while rx.try_recv().is_some() {}
        assert_eq!(rx.0.lock().capacity(), 0);
    }
}
