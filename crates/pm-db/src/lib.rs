//! Per-tenant storage for pm: one SQLite file per tenant, opened lazily, migrated on open, capped
//! and evicted, and the repositories that read and write every table.
//!
//! This crate knows SQL and files, and nothing of sockets, HTTP, protobuf or who is allowed to do
//! what: permission checks and command rules belong to the callers. Its invariants:
//! * every connection has WAL, `synchronous=NORMAL`, `foreign_keys=ON` and a busy timeout, and
//!   no commit runs a WAL checkpoint (they run in the background, see [`TenantDb::committed`]);
//! * a tenant has exactly one writer connection, and every write transaction begins `IMMEDIATE`;
//! * updates compare the entity version inside the UPDATE itself, so of two writers holding the
//!   same version exactly one succeeds;
//! * infrastructure errors are translated here into [`Error`] variants that carry meaning
//!   (not found, stale version, which uniqueness rule) — callers never inspect sqlx errors.

mod error;
mod row;
mod tenant;

pub mod activity;
pub mod change_log;
pub mod comment;
pub mod dependency;
pub mod history;
pub mod idempotency;
pub mod journal;
pub mod member;
pub mod project;
pub mod sprint;
pub mod swim_lane;
pub mod time_entry;
pub mod work_item;

pub use error::{Conflict, Error, Result};
pub use sqlx::pool::PoolConnection;
pub use sqlx::{Connection, SqliteConnection};
pub use sqlx::{Sqlite, Transaction};
pub use tenant::{Checkpoint, StorageConfig, TenantDb, TenantManager, WriteTx, begin_immediate};
