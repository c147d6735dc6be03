//! The write baseline: the fastest a durable write can be on this disk with pm's SQLite settings.
//! One loop per database, each iteration one `BEGIN IMMEDIATE` transaction that inserts a row the
//! size of a work item and reads it back, through sqlx like pm (one pooled writer connection per
//! database, WAL, `synchronous=NORMAL`, `foreign_keys=ON`, a busy timeout). It runs in its own
//! process, pinned to the server's core, and prints its result as one JSON line.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqlitePool};

use crate::latency::Latencies;
use crate::system::Sample;

/// pm-db's busy timeout.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What the child process reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SqliteResult {
    pub databases: usize,
    pub ops: u64,
    pub wall_s: f64,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub cpu_s: f64,
    pub rss_kb: u64,
}

async fn open(path: &Path) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .min_connections(1)
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS items (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            version INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) STRICT",
    )
    .execute(&pool)
    .await?;
    Ok(pool)
}

/// One database's loop until `deadline`.
async fn write_loop(
    pool: SqlitePool,
    payload: String,
    deadline: Instant,
) -> anyhow::Result<(u64, Latencies)> {
    let mut latencies = Latencies::new();
    let mut ops = 0u64;
    let mut conn = pool.acquire().await?;
    while Instant::now() < deadline {
        let started = Instant::now();
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO items (title, body, version, updated_at) VALUES (?, ?, 1, ?) RETURNING id",
        )
        .bind("benchmark item")
        .bind(&payload)
        .bind(i64::try_from(ops).unwrap_or(0))
        .fetch_one(&mut *tx)
        .await?;
        let _: (String, i64) = sqlx::query_as("SELECT body, version FROM items WHERE id = ?")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        latencies.record(started.elapsed());
        ops += 1;
    }
    Ok((ops, latencies))
}

/// Runs `databases` loops at once for `duration` in `dir`.
pub async fn run(
    dir: PathBuf,
    databases: usize,
    duration: Duration,
    payload_bytes: usize,
) -> anyhow::Result<SqliteResult> {
    std::fs::create_dir_all(&dir)?;
    let mut pools = Vec::with_capacity(databases);
    for i in 0..databases {
        pools.push(open(&dir.join(format!("baseline-{i}.sqlite3"))).await?);
    }
    let payload = "x".repeat(payload_bytes);
    let before = Sample::own()?;
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = pools
        .iter()
        .map(|pool| tokio::spawn(write_loop(pool.clone(), payload.clone(), deadline)))
        .collect();
    let mut ops = 0;
    let mut latencies = Latencies::new();
    for task in tasks {
        let (n, l) = task.await??;
        ops += n;
        latencies.merge(&l);
    }
    let after = Sample::own()?;
    for pool in pools {
        pool.close().await;
    }
    let wall_s = after.wall_since(&before);
    Ok(SqliteResult {
        databases,
        ops,
        wall_s,
        ops_per_sec: ops as f64 / wall_s.max(f64::EPSILON),
        p50_ms: latencies.quantile_ms(0.5),
        p99_ms: latencies.quantile_ms(0.99),
        max_ms: latencies.max_ms(),
        cpu_s: after.cpu_since(&before),
        rss_kb: after.rss_kb,
    })
}
