//! pm-db against real SQLite files in temporary directories.

mod fixtures;

mod change_log;
mod entities;
mod history;
mod races;
mod schema;
mod tenants;
mod wal;
