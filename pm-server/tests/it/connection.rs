//! How a connection behaves: heartbeats, bad frames, limits, slow readers and shutdown.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use pm_core::TenantRole;
use pm_proto::pb::{self, server_message::Message as Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

#[tokio::test]
async fn an_application_ping_gets_a_pong_with_the_server_time() {
    let app = TestApp::spawn().await;
    let mut client = app.editor("alice").await;
    let pong = client.ok(pb::Ping {}).await;
    assert!(pong.server_time > 0);
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_idle_timeout() {
    let app = TestApp::spawn_with(|c| {
        c.heartbeat_ms = 50;
        c.idle_timeout_ms = 200;
    })
    .await;
    // A WebSocket client library answers pings while it reads, so a truly silent client is a raw
    // socket: it performs the handshake, then only reads, never writing a byte.
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let token = app.token("acme", "alice", TenantRole::Editor);
    let handshake = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {token}\r\n\r\n",
        app.addr
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut received))
        .await
        .expect("the server closes the silent connection")
        .unwrap();
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    // The last frame is a close frame (opcode 0x8, unmasked) with code 1001 and its reason.
    let reason = b"idle timeout";
    let mut close = vec![0x88, u8::try_from(2 + reason.len()).unwrap(), 0x03, 0xE9];
    close.extend_from_slice(reason);
    assert!(
        received.ends_with(&close),
        "no idle-timeout close frame at the end"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_heard_from_recently_is_not_pinged_while_a_silent_one_is() {
    let app = TestApp::spawn_with(|c| {
        c.heartbeat_ms = 200;
        c.idle_timeout_ms = 10_000;
    })
    .await;
    let window = Duration::from_millis(2_000);
    let silent = app.editor("alice").await;
    let chatty = app.editor("bob").await;

    // Counts the WebSocket pings `client` receives during the window; a chatty client sends an
    // application ping every 20 ms (a tenth of the interval) and reads its pong.
    async fn pings_received(mut client: Client, chatty: bool, window: Duration) -> usize {
        use futures_util::StreamExt;
        let end = tokio::time::Instant::now() + window;
        let mut pings = 0;
        let mut next_send = tokio::time::Instant::now();
        loop {
            if chatty && tokio::time::Instant::now() >= next_send {
                let ping = pb::ClientMessage::request(&request_id(), pb::Ping {});
                client
                    .ws
                    .send(Message::Binary(pm_proto::encode(&ping).into()))
                    .await
                    .unwrap();
                next_send += Duration::from_millis(20);
            }
            let until = if chatty { next_send.min(end) } else { end };
            match tokio::time::timeout_at(until, client.ws.next()).await {
                Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("the connection ended: {other:?}"),
                Err(_) if tokio::time::Instant::now() >= end => return pings,
                Err(_) => {}
            }
        }
    }
    let (silent, chatty) = tokio::join!(
        pings_received(silent, false, window),
        pings_received(chatty, true, window)
    );
    assert!(
        silent >= 3,
        "a silent client is pinged every interval ({silent} pings)"
    );
    assert!(
        chatty * 2 < silent,
        "a client that keeps talking needs no pings ({chatty} against the silent client's {silent})"
    );
}

#[tokio::test]
async fn a_frame_that_does_not_decode_gets_invalid_message_and_the_connection_stays_usable() {
    let app = TestApp::spawn().await;
    let mut client = app.editor("alice").await;
    client.send_raw(vec![0xff, 0xff, 0xff, 0x01, 0x02]).await;
    let reply = match client.next_message().await.message {
        Some(Server::Reply(r)) => r,
        other => panic!("{other:?}"),
    };
    let Some(pb::reply::Result::Error(e)) = reply.result else {
        panic!("expected an error")
    };
    assert_eq!(code(&e), pb::ErrorCode::InvalidMessage);

    // A text frame and a message without a command are refused the same way.
    client.ws.send(Message::Text("hello".into())).await.unwrap();
    let Some(Server::Reply(r)) = client.next_message().await.message else {
        panic!()
    };
    assert!(
        matches!(r.result, Some(pb::reply::Result::Error(ref e)) if code(e) == pb::ErrorCode::InvalidMessage)
    );
    let id = request_id();
    client
        .send_raw(pm_proto::encode(&pb::ClientMessage {
            request_id: id.clone(),
            command: None,
        }))
        .await;
    let r = client.reply_to(&id).await;
    assert!(
        matches!(r.result, Some(pb::reply::Result::Error(ref e)) if code(e) == pb::ErrorCode::InvalidMessage)
    );

    client.ok(pb::Ping {}).await;
}

#[tokio::test]
async fn a_mutation_without_a_uuid_request_id_is_refused_by_field() {
    let app = TestApp::spawn().await;
    let mut client = app.editor("alice").await;
    client
        .send(
            "not-a-uuid",
            pb::CreateProject {
                key: "WEB".into(),
                title: "Web".into(),
                description: String::new(),
            },
        )
        .await;
    let r = client.reply_to("not-a-uuid").await;
    let Some(pb::reply::Result::Error(e)) = r.result else {
        panic!()
    };
    assert_eq!(
        (code(&e), e.field.as_str()),
        (pb::ErrorCode::Validation, "request_id")
    );
    let projects = client.ok(pb::ListProjects::default()).await;
    assert!(projects.projects.is_empty(), "nothing was written");
}

#[tokio::test]
async fn an_oversized_frame_closes_that_connection_with_1009_and_the_server_keeps_serving() {
    let app = TestApp::spawn_with(|c| c.max_frame_bytes = 4 * 1024).await;
    let mut client = app.editor("alice").await;
    let huge = pb::CreateProject {
        key: "WEB".into(),
        title: "x".into(),
        description: "y".repeat(16 * 1024),
    };
    client.send(&request_id(), huge).await;
    let frame = read_until_closed(&mut client.ws)
        .await
        .expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009);
    let mut other = app.editor("bob").await;
    other.ok(pb::Ping {}).await;
}

#[tokio::test]
async fn commands_beyond_the_burst_are_rate_limited_and_accepted_again_at_the_sustained_rate() {
    let app = TestApp::spawn_with(|c| {
        c.commands_per_second = 2;
        c.command_burst = 3;
    })
    .await;
    let mut client = app.editor("alice").await;
    let started = Instant::now();
    let ids: Vec<String> = (0..10).map(|_| request_id()).collect();
    for id in &ids {
        client.send(id, pb::Ping {}).await;
    }
    let mut accepted = 0;
    let mut retry_after = Duration::ZERO;
    for id in &ids {
        match client.reply_to(id).await.result {
            Some(pb::reply::Result::Pong(_)) => accepted += 1,
            Some(pb::reply::Result::Error(e)) => {
                assert_eq!(code(&e), pb::ErrorCode::RateLimited);
                assert!(e.retry_after_ms > 0);
                retry_after = Duration::from_millis(u64::from(e.retry_after_ms));
            }
            other => panic!("{other:?}"),
        }
    }
    // The burst, plus whatever the sustained rate refilled while the ten were handled.
    let refilled = (started.elapsed().as_secs_f64() * 2.0).ceil() as usize;
    assert!(
        accepted >= 3 && accepted <= 3 + refilled,
        "accepted {accepted}, refilled {refilled}"
    );
    assert!(retry_after > Duration::ZERO);
    // Waiting as long as the server said is enough for the next command.
    tokio::time::sleep(retry_after).await;
    client.ok(pb::Ping {}).await;
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_delay_a_reading_client_and_is_told_to_resync() {
    let app = TestApp::spawn_with(|c| {
        c.outbound_queue = 8;
        // Far longer than the test: the stuck client's connection must not be closed for a slow
        // write or for silence, so the only way out of its stall is the overflow path.
        c.write_timeout_ms = 600_000;
        c.idle_timeout_ms = 600_000;
    })
    .await;
    let mut writer = app.editor("alice").await;
    let project = writer.create_project("WEB").await;
    let mut reader = app.client("acme", "boss", TenantRole::Admin).await;
    let mut stuck = app.client("acme", "sloth", TenantRole::Admin).await;
    reader.subscribe(&project.id).await;
    stuck.subscribe(&project.id).await;

    // Large events fill the stuck client's socket buffers and then its queue, while the reading
    // client keeps reading.
    let description = "lorem ipsum ".repeat(4_000);
    let count = 120;
    let reading = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < count {
            seqs.push(reader.next_event().await.seq);
        }
        seqs
    });
    for i in 0..count {
        writer
            .ok(pb::CreateWorkItem {
                project_id: project.id.clone(),
                r#type: pb::WorkItemType::Task.into(),
                title: format!("Item {i}"),
                description: description.clone(),
                ..Default::default()
            })
            .await;
    }
    let seqs = reading.await.unwrap();
    assert_eq!(seqs.len(), count, "the reading client got every event");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, without gaps"
    );

    // The stuck client now reads: after whatever made it into its buffers (a gap-free prefix),
    // it is told its queue overflowed, and its connection stays usable.
    let mut received = Vec::new();
    let resync = loop {
        let frame = tokio::time::timeout(PATIENCE, futures_util::StreamExt::next(&mut stuck.ws))
            .await
            .expect("a frame within the patience");
        match frame {
            Some(Ok(Message::Binary(bytes))) => {
                match pm_proto::decode_server(&bytes).unwrap().message {
                    Some(Server::ResyncRequired(r)) => break r,
                    Some(Server::Event(e)) => received.push(e.seq),
                    _ => {}
                }
            }
            Some(Ok(_)) => {}
            other => panic!(
                "the stuck client's connection ended after {} events instead of a resync: \
                 {other:?}",
                received.len()
            ),
        }
    };
    assert_eq!(
        (resync.reason, resync.project_id.as_str()),
        (i32::from(pb::ResyncReason::QueueOverflow), "")
    );
    assert!(received.len() < count, "nothing overflowed");
    assert_eq!(received[..], seqs[..received.len()], "a gap-free prefix");
    stuck.ok(pb::Ping {}).await;
}

#[tokio::test]
async fn shutdown_sends_going_away_and_closes_every_connection() {
    let mut app = TestApp::spawn().await;
    let mut a = app.editor("alice").await;
    let mut b = app.client("other", "bob", TenantRole::Viewer).await;
    a.ok(pb::Ping {}).await;
    app.stop().await.expect("a clean stop");
    for client in [&mut a, &mut b] {
        let going_away = loop {
            match client.next_message().await.message {
                Some(Server::GoingAway(g)) => break g,
                Some(_) => {}
                None => panic!("empty message"),
            }
        };
        assert!(going_away.reconnect_after_ms > 0);
        let frame = read_until_closed(&mut client.ws)
            .await
            .expect("a close frame");
        assert_eq!(u16::from(frame.code), 1001);
    }
}

/// How many commands the pipelining client sends before reading anything.
const PIPELINED: usize = 90;
/// Replies read before the server is told to stop.
const BEFORE_SHUTDOWN: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_under_pipelined_commands_answers_every_committed_one_then_says_going_away_and_closes_1001()
 {
    // The race between the signal and the commands in flight differs from run to run.
    for round in 0..5 {
        let mut app = TestApp::spawn().await;
        let mut client = app.editor("alice").await;
        let project = client.create_project("WEB").await;
        for i in 0..PIPELINED {
            let create = pb::CreateWorkItem {
                project_id: project.id.clone(),
                r#type: pb::WorkItemType::Task.into(),
                title: format!("Pipelined {i}"),
                ..Default::default()
            };
            let message = pb::ClientMessage::request(&request_id(), create);
            client
                .ws
                .feed(Message::Binary(pm_proto::encode(&message).into()))
                .await
                .unwrap();
        }
        client.ws.flush().await.unwrap();

        let mut created = 0;
        let mut replies = 0;
        let mut going_away = false;
        let close = loop {
            let frame =
                tokio::time::timeout(PATIENCE, futures_util::StreamExt::next(&mut client.ws))
                    .await
                    .expect("a frame within the patience");
            let bytes = match frame {
                Some(Ok(Message::Binary(bytes))) => bytes,
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => continue,
                other => panic!(
                    "round {round}: the connection ended without a close frame after {replies} \
                     replies (going away: {going_away}): {other:?}"
                ),
            };
            match pm_proto::decode_server(&bytes).unwrap().message {
                Some(Server::Reply(reply)) => {
                    assert!(!going_away, "round {round}: a reply after GoingAway");
                    replies += 1;
                    match reply.result {
                        Some(pb::reply::Result::WorkItem(_)) => created += 1,
                        Some(pb::reply::Result::Error(e)) => {
                            assert_eq!(code(&e), pb::ErrorCode::Unavailable, "round {round}")
                        }
                        other => panic!("round {round}: {other:?}"),
                    }
                    if replies == BEFORE_SHUTDOWN {
                        app.shutdown.cancel();
                    }
                }
                Some(Server::GoingAway(g)) => {
                    assert!(g.reconnect_after_ms > 0);
                    going_away = true;
                }
                _ => {}
            }
        };
        assert!(going_away, "round {round}: closed without GoingAway");
        assert_eq!(
            close.map(|c| u16::from(c.code)),
            Some(1001),
            "round {round}"
        );
        // Reading on lets the client library answer the close, completing the handshake.
        while let Some(Ok(_)) =
            tokio::time::timeout(PATIENCE, futures_util::StreamExt::next(&mut client.ws))
                .await
                .expect("the connection ends within the patience")
        {}
        assert!(created >= BEFORE_SHUTDOWN, "round {round}");

        // Every committed create was answered: after a restart, exactly those items exist.
        app.stop().await.expect("a clean stop");
        let app = TestApp::spawn_in(app.take_dir(), |_| {}).await;
        let mut reader = app.editor("alice").await;
        let items = reader
            .ok(pb::ListWorkItems {
                project_id: project.id.clone(),
                // Every item on one page: at most PIPELINED exist.
                limit: 200,
                ..Default::default()
            })
            .await
            .work_items;
        assert_eq!(items.len(), created, "round {round}: committed = answered");
    }
}
