//! WebSocket clients: a raw connection with small buffers (thousands of them share one core and a
//! few hundred megabytes), and the pm protocol on top of it.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use pm_proto::pb::{self, server_message::Message as Server};
use pm_proto::{Request, Response};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single step (connect, a reply) may take before the benchmark calls it failed: far
/// beyond a healthy server's latency, so it only turns a hang into an error.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Read buffer per client connection. Frames here are small (under a kilobyte, a snapshot aside),
/// and 10,000 connections at tungstenite's 128 KiB default would cost the generator 1.3 GB.
const CLIENT_READ_BUFFER: usize = 8 * 1024;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket to `url`, with `Authorization: Bearer <token>` when given.
pub async fn connect(url: &str, token: Option<&str>) -> anyhow::Result<Ws> {
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let (ws, _) = tokio::time::timeout(
        PATIENCE,
        tokio_tungstenite::connect_async_with_config(request, Some(config), true),
    )
    .await
    .context("connect timed out")??;
    Ok(ws)
}

/// The next binary frame (pings and pongs are answered by tungstenite and skipped here); `None`
/// when the connection closed.
pub async fn next_binary(ws: &mut Ws) -> anyhow::Result<Option<bytes::Bytes>> {
    loop {
        match ws.next().await {
            None | Some(Ok(Message::Close(None))) => return Ok(None),
            Some(Ok(Message::Close(Some(frame)))) => {
                bail!("closed by the server: {} {}", frame.code, frame.reason)
            }
            Some(Ok(Message::Binary(bytes))) => return Ok(Some(bytes)),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Text(t))) => bail!("unexpected text frame {t:?}"),
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// Retries of one request the server answered as busy before the benchmark gives up on it.
pub const MAX_RETRIES: u32 = 50;

/// How long to wait before retrying a refused request, when the refusal says to retry: the
/// server's own `retry_after_ms` when rate limited, a short pause when it is busy.
pub fn retry_after(error: &pb::Error) -> Option<Duration> {
    match pb::ErrorCode::try_from(error.code) {
        Ok(pb::ErrorCode::RateLimited) => Some(Duration::from_millis(
            u64::from(error.retry_after_ms).max(10),
        )),
        Ok(pb::ErrorCode::Unavailable) => Some(Duration::from_millis(250)),
        _ => None,
    }
}

/// A fresh request id (mutations need a UUID).
pub fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// What a successful call brought back.
pub struct Called<T> {
    pub response: T,
    pub events: Vec<pb::Event>,
    /// Size of the reply frame.
    pub reply_bytes: usize,
    /// Size of the request frame.
    pub request_bytes: usize,
}

/// A connection speaking the pm protocol, past its `Welcome`.
pub struct PmClient {
    pub ws: Ws,
    /// The tenant's history epoch from the welcome, sent with every resume.
    pub history_epoch: String,
}

impl PmClient {
    pub async fn connect(url: &str, token: &str) -> anyhow::Result<Self> {
        let mut ws = connect(url, Some(token)).await?;
        let frame = tokio::time::timeout(PATIENCE, next_binary(&mut ws))
            .await
            .context("no welcome in time")??
            .context("closed before the welcome")?;
        match pm_proto::decode_server(&frame)?.message {
            Some(Server::Welcome(w)) => Ok(Self {
                ws,
                history_epoch: w.history_epoch,
            }),
            other => bail!("expected a welcome, got {other:?}"),
        }
    }

    /// Sends one request; returns the frame's size.
    pub async fn send<R: Request>(&mut self, id: &str, request: R) -> anyhow::Result<usize> {
        let frame = pm_proto::encode(&pb::ClientMessage::request(id, request));
        let len = frame.len();
        self.ws.send(Message::Binary(frame.into())).await?;
        Ok(len)
    }

    /// The next server message and its size.
    pub async fn recv(&mut self) -> anyhow::Result<(pb::ServerMessage, usize)> {
        let frame = tokio::time::timeout(PATIENCE, next_binary(&mut self.ws))
            .await
            .context("nothing received in time")??
            .context("the server closed the connection")?;
        Ok((pm_proto::decode_server(&frame)?, frame.len()))
    }

    /// Sends `request` and waits for its reply; whatever else arrives meanwhile (events of other
    /// connections, presence) is discarded. A refused request is an error naming its code.
    pub async fn call<R: Request>(&mut self, request: R) -> anyhow::Result<Called<R::Response>> {
        self.call_raw(request).await?.map_err(|e| {
            anyhow!(
                "{} refused: {:?} {} {}",
                R::NAME,
                pb::ErrorCode::try_from(e.code).unwrap_or(pb::ErrorCode::Unspecified),
                e.field,
                e.message
            )
        })
    }

    /// Like [`PmClient::call`], with a refusal as a value.
    pub async fn call_raw<R: Request>(
        &mut self,
        request: R,
    ) -> anyhow::Result<Result<Called<R::Response>, pb::Error>> {
        let id = request_id();
        let request_bytes = self.send(&id, request).await?;
        loop {
            let (message, reply_bytes) = self.recv().await?;
            let Some(Server::Reply(reply)) = message.message else {
                continue;
            };
            if reply.request_id != id {
                continue;
            }
            return match reply.result {
                Some(pb::reply::Result::Error(e)) => Ok(Err(e)),
                Some(result) => Ok(Ok(Called {
                    response: R::Response::from_result(result)
                        .with_context(|| format!("{} got a reply of another type", R::NAME))?,
                    events: reply.events,
                    reply_bytes,
                    request_bytes,
                })),
                None => bail!("{} got a reply without a result", R::NAME),
            };
        }
    }

    /// Subscribes to a project, retrying as a client must when the server answers that it is busy
    /// (`UNAVAILABLE`, `RATE_LIMITED`). Returns the reply and the number of retries.
    pub async fn subscribe(
        &mut self,
        project_id: &str,
        since: Option<u64>,
    ) -> anyhow::Result<(pb::Subscribed, u32)> {
        let mut retries = 0;
        loop {
            let request = pb::Subscribe {
                project_id: project_id.to_owned(),
                since,
                history_epoch: self.history_epoch.clone(),
            };
            match self.call_raw(request).await? {
                Ok(called) => return Ok((called.response, retries)),
                Err(e) => match retry_after(&e) {
                    Some(wait) if retries < MAX_RETRIES => {
                        retries += 1;
                        tokio::time::sleep(wait).await;
                    }
                    _ => bail!("subscribe refused: {e:?}"),
                },
            }
        }
    }

    pub async fn create_project(&mut self, key: &str) -> anyhow::Result<pb::Project> {
        self.call(pb::CreateProject {
            key: key.to_owned(),
            title: format!("Benchmark {key}"),
            description: String::new(),
        })
        .await?
        .response
        .project
        .context("no project in the reply")
    }

    pub async fn create_item(
        &mut self,
        project_id: &str,
        title: &str,
        description: &str,
    ) -> anyhow::Result<Called<pb::WorkItemResponse>> {
        self.call(pb::CreateWorkItem {
            project_id: project_id.to_owned(),
            r#type: pb::WorkItemType::Task.into(),
            title: title.to_owned(),
            description: description.to_owned(),
            ..Default::default()
        })
        .await
    }

    /// Renames an item; returns the call and the item's new version.
    pub async fn rename_item(
        &mut self,
        item_id: &str,
        version: i64,
        title: String,
    ) -> anyhow::Result<(Called<pb::WorkItemResponse>, i64)> {
        let called = self
            .call(pb::UpdateWorkItem {
                work_item_id: item_id.to_owned(),
                version,
                title: Some(title),
                ..Default::default()
            })
            .await?;
        let version = called
            .response
            .work_item
            .as_ref()
            .map_or(version + 1, |w| w.version);
        Ok((called, version))
    }
}

/// The work item an event carries, if it carries one.
pub fn event_item(event: &pb::Event) -> Option<&pb::WorkItem> {
    match event.change.as_ref()?.change.as_ref()? {
        pb::change::Change::WorkItem(item) => Some(item),
        _ => None,
    }
}
