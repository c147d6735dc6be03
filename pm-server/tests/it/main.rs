//! The server end to end: a real server on port 0, real WebSocket clients speaking protobuf,
//! real SQLite files in temporary directories.

mod helpers;

mod architecture;
mod auth;
mod comments;
mod connection;
mod dependencies;
mod group_commit;
mod history;
mod mcp;
mod members;
mod naming;
mod ops;
mod projects;
mod rest;
mod sprints;
mod subscriptions;
mod sync;
mod time;
mod web;
mod work_items;
