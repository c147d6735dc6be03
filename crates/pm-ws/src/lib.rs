//! The real-time core of pm: WebSocket connections, the per-tenant hub that fans committed changes
//! out to subscribers, the command service that executes every command, and the read path
//! ([`query`]) every surface shares.
//!
//! The command service ([`Service`]) knows nothing of sockets: it takes an authenticated identity
//! and a protobuf command and returns a reply, so every surface calls it (the WebSocket, and the MCP
//! tools of `pm-server`); reads go through the transport-free queries of [`query`] (`/ws` read
//! commands, the REST API, the MCP read tools). [`connection`] is the only place that knows a
//! WebSocket. Invariants:
//! * a mutation commits (data, activity, change log, idempotency record) in one transaction —
//!   shared with the other mutations queued with it ([`group_commit`]), each in its own savepoint —
//!   and is published only after it committed, while still holding the tenant's writer: events
//!   leave in sequence order;
//! * the hub never waits on a connection: a full outbound queue drops that connection's
//!   subscriptions and tells it to resync;
//! * a connection only receives events of its own tenant and of projects it subscribed to after
//!   passing the read check.

mod access;
mod admission;
pub mod commands;
pub mod connection;
mod error;
mod group_commit;
mod hub;
mod limits;
mod lookup;
mod metrics;
mod mutation;
mod outbox;
pub mod query;
mod rate;
pub mod read;
mod service;
mod subscription;
mod view;

pub use admission::{Admission, Permit, Refusal};
pub use connection::Realtime;
pub use error::{Error, Result};
pub use hub::{Hub, Hubs};
pub use limits::Limits;
pub use metrics::Metrics;
pub use service::{Outcome, Retention, Service};
