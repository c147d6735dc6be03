use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pm_auth::{KeyConfig, Signer};
use pm_core::{TenantId, TenantRole, UserId};
use pm_proto::pb::ErrorCode;
use pm_proto::pb::client_message::Command;
use pm_proto::pb::{self, server_message::Message as Server};
use pm_proto::{Request, Response};
use pm_server::Config;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

/// The HS256 secret every test server verifies with.
pub const SECRET: &[u8] = b"test-secret-that-is-long-enough-for-hs256!!";

/// How long a test waits for something that must happen; far beyond any real delay, so it only
/// turns a hang into a failure.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct TestApp {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    signer: Signer,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_in(tempfile::tempdir().unwrap(), adjust).await
    }

    /// A server on an existing data directory (a restart: see [`TestApp::take_dir`]).
    pub async fn spawn_in(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_data_dir(dir.path());
        config.jwt_secret = Some(SECRET.to_vec().into());
        // Tests send commands as fast as they can; the rate limit has its own test.
        config.commands_per_second = 100_000;
        config.command_burst = 100_000;
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(pm_server::run(config, listener, shutdown.clone()));
        Self {
            addr,
            dir,
            shutdown,
            server: Some(server),
            signer: Signer::new(&KeyConfig::Hs256 {
                secret: SECRET.to_vec(),
            })
            .unwrap(),
        }
    }

    pub fn token(&self, tenant: &str, user: &str, role: TenantRole) -> String {
        self.signer
            .issue(
                &TenantId::parse(tenant).unwrap(),
                &UserId::parse(user).unwrap(),
                role,
                Duration::from_secs(3600),
            )
            .unwrap()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// A connected client of `user` in `tenant`, past the welcome.
    pub async fn client(&self, tenant: &str, user: &str, role: TenantRole) -> Client {
        Client::connect(&self.ws_url(), &self.token(tenant, user, role)).await
    }

    /// An editor of tenant "acme".
    pub async fn editor(&self, user: &str) -> Client {
        self.client("acme", user, TenantRole::Editor).await
    }

    /// The data directory, for a server started after this one stopped.
    pub fn take_dir(&mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// Cancels the server and waits for it to finish.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        match self.server.take() {
            Some(server) => tokio::time::timeout(PATIENCE, server)
                .await
                .expect("server stops")?,
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Client {
    pub ws: Socket,
    pub welcome: pb::Welcome,
    /// Messages read while waiting for a reply, in arrival order.
    inbox: VecDeque<pb::ServerMessage>,
}

pub fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Client {
    pub async fn connect(url: &str, token: &str) -> Self {
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("connect");
        Self::from_socket(ws).await
    }

    pub async fn from_socket(ws: Socket) -> Self {
        let mut client = Self {
            ws,
            welcome: pb::Welcome::default(),
            inbox: VecDeque::new(),
        };
        match client.next_message().await.message {
            Some(Server::Welcome(w)) => client.welcome = w,
            other => panic!("expected a welcome first, got {other:?}"),
        }
        client
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send");
    }

    pub async fn send<R: Request>(&mut self, id: &str, request: R) {
        let message = pb::ClientMessage::request(id, request);
        self.send_raw(pm_proto::encode(&message)).await;
    }

    /// The next server message, from the inbox or the socket.
    pub async fn next_message(&mut self) -> pb::ServerMessage {
        if let Some(m) = self.inbox.pop_front() {
            return m;
        }
        self.read().await
    }

    async fn read(&mut self) -> pb::ServerMessage {
        // One deadline for the whole wait: the server's pings must not extend it.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("a message within the patience")
                .expect("the connection is open")
                .expect("a valid frame");
            match frame {
                Message::Binary(bytes) => {
                    return pm_proto::decode_server(&bytes).expect("decodable");
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Reads until the reply to `id`, keeping everything else in the inbox.
    pub async fn reply_to(&mut self, id: &str) -> pb::Reply {
        let queued = self
            .inbox
            .iter()
            .position(|m| matches!(&m.message, Some(Server::Reply(r)) if r.request_id == id));
        if let Some(Server::Reply(r)) = queued
            .and_then(|pos| self.inbox.remove(pos))
            .and_then(|m| m.message)
        {
            return r;
        }
        loop {
            let m = self.read().await;
            match m.message {
                Some(Server::Reply(r)) if r.request_id == id => return r,
                _ => self.inbox.push_back(m),
            }
        }
    }

    /// Sends a request and returns its typed response, or the error.
    pub async fn call<R: Request>(&mut self, request: R) -> Result<R::Response, pb::Error> {
        let id = request_id();
        self.call_with_id(&id, request).await
    }

    pub async fn call_with_id<R: Request>(
        &mut self,
        id: &str,
        request: R,
    ) -> Result<R::Response, pb::Error> {
        self.send(id, request).await;
        let reply = self.reply_to(id).await;
        match reply.result {
            Some(pb::reply::Result::Error(e)) => Err(e),
            Some(result) => Ok(R::Response::from_result(result).expect("the paired response type")),
            None => panic!("a reply without a result"),
        }
    }

    /// Like `call`, for requests that must succeed.
    pub async fn ok<R: Request>(&mut self, request: R) -> R::Response {
        let name = R::NAME;
        match self.call(request).await {
            Ok(r) => r,
            Err(e) => panic!("{name} failed: {e:?}"),
        }
    }

    /// Like `call`, for requests that must fail; returns the error.
    pub async fn err<R: Request>(&mut self, request: R) -> pb::Error {
        let name = R::NAME;
        match self.call(request).await {
            Ok(_) => panic!("{name} unexpectedly succeeded"),
            Err(e) => e,
        }
    }

    /// The next event (presence messages are skipped).
    pub async fn next_event(&mut self) -> pb::Event {
        loop {
            match self.next_message().await.message {
                Some(Server::Event(e)) => return e,
                Some(Server::Presence(_)) => continue,
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// Events already received or arriving before the reply to a ping: everything queued for this
    /// client before now (a reply is a barrier on its connection).
    pub async fn drain_events(&mut self) -> Vec<pb::Event> {
        self.ok(pb::Ping {}).await;
        let mut events = Vec::new();
        while let Some(m) = self.inbox.pop_front() {
            if let Some(Server::Event(e)) = m.message {
                events.push(e);
            }
        }
        events
    }

    /// Asserts that nothing (but presence) was delivered to this client so far.
    pub async fn assert_no_events(&mut self) {
        let events = self.drain_events().await;
        assert!(events.is_empty(), "unexpected events: {events:?}");
    }

    /// All messages in the inbox (after a barrier), for tests that look at presence or resyncs.
    pub async fn drain_messages(&mut self) -> Vec<pb::ServerMessage> {
        self.ok(pb::Ping {}).await;
        self.inbox.drain(..).collect()
    }

    pub async fn subscribe(&mut self, project_id: &str) -> pb::Subscribed {
        self.ok(pb::Subscribe {
            project_id: project_id.to_owned(),
            since: None,
            history_epoch: String::new(),
        })
        .await
    }

    // ---- typed shortcuts used across test modules ----

    pub async fn create_project(&mut self, key: &str) -> pb::Project {
        self.ok(pb::CreateProject {
            key: key.to_owned(),
            title: format!("Project {key}"),
            description: String::new(),
        })
        .await
        .project
        .unwrap()
    }

    pub async fn create_item(
        &mut self,
        project: &pb::Project,
        kind: pb::WorkItemType,
        title: &str,
    ) -> pb::WorkItem {
        self.ok(pb::CreateWorkItem {
            project_id: project.id.clone(),
            r#type: kind.into(),
            title: title.to_owned(),
            ..Default::default()
        })
        .await
        .work_item
        .unwrap()
    }

    pub async fn add_member(&mut self, project: &pb::Project, user: &str, role: pb::ProjectRole) {
        self.ok(pb::AddMember {
            project_id: project.id.clone(),
            user_id: user.to_owned(),
            role: role.into(),
        })
        .await;
    }
}

/// Reads a socket until the server closes it; returns the close frame if one was sent.
pub async fn read_until_closed(
    ws: &mut Socket,
) -> Option<tokio_tungstenite::tungstenite::protocol::CloseFrame> {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("closed within the patience")
        {
            Some(Ok(Message::Close(frame))) => return frame,
            None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// The change an event carries.
pub fn change(event: &pb::Event) -> &pb::change::Change {
    event
        .change
        .as_ref()
        .and_then(|c| c.change.as_ref())
        .expect("an event with a change")
}

/// The error code of a failed call.
pub fn code(e: &pb::Error) -> pb::ErrorCode {
    pb::ErrorCode::try_from(e.code).unwrap_or(pb::ErrorCode::Unspecified)
}

/// Sends `request` as `actor`, expects it refused with `expected` (code and field), and checks
/// through `watcher`, a subscriber of `project`, that nothing was written: the project's snapshot,
/// which includes the tenant's head sequence number, is unchanged, and no event was published.
pub async fn assert_refused<R: Request>(
    actor: &mut Client,
    request: R,
    expected: (ErrorCode, &str),
    watcher: &mut Client,
    project: &pb::Project,
) -> pb::Error {
    let snapshot = pb::GetSnapshot {
        project_id: project.id.clone(),
    };
    let before = watcher.ok(snapshot.clone()).await;
    let err = actor.err(request).await;
    assert_eq!(
        (code(&err), err.field.as_str()),
        expected,
        "{}: {err:?}",
        R::NAME
    );
    assert_eq!(
        watcher.ok(snapshot).await,
        before,
        "{} was refused but wrote",
        R::NAME
    );
    watcher.assert_no_events().await;
    err
}

/// [`assert_refused`] for a command given as an envelope case, so one loop can try many kinds.
pub async fn assert_command_refused(
    actor: &mut Client,
    command: Command,
    expected: ErrorCode,
    watcher: &mut Client,
    project: &pb::Project,
) {
    let snapshot = pb::GetSnapshot {
        project_id: project.id.clone(),
    };
    let before = watcher.ok(snapshot.clone()).await;
    let id = request_id();
    let message = pb::ClientMessage {
        request_id: id.clone(),
        command: Some(command),
    };
    actor.send_raw(pm_proto::encode(&message)).await;
    let reply = actor.reply_to(&id).await;
    let Some(pb::reply::Result::Error(err)) = reply.result else {
        panic!("{message:?} was not refused: {reply:?}");
    };
    assert_eq!(code(&err), expected, "{message:?}: {err:?}");
    assert_eq!(watcher.ok(snapshot).await, before, "{message:?} wrote");
    watcher.assert_no_events().await;
}
