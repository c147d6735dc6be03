//! The tenant connection manager: one SQLite file per tenant under
//! `<data_dir>/tenants/<tenant_id>/pm.sqlite3`, opened on first use and migrated on open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pm_core::TenantId;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::OnceCell;

use crate::history::{self, Mark};
use crate::{Error, Result};

/// Every migration in `migrations/`, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

const DB_FILE_NAME: &str = "pm.sqlite3";

/// A write transaction on a tenant's single writer connection, begun `IMMEDIATE`. Dropping it
/// without `commit` rolls back.
pub type WriteTx = Transaction<'static, Sqlite>;

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Root of all data; tenant files live under `tenants/` inside it.
    pub data_dir: PathBuf,
    /// How many tenant databases may be open at once before the least recently used idle one is
    /// closed.
    pub max_open_tenants: usize,
    /// A tenant database unused for this long is closed by [`TenantManager::close_idle`].
    pub idle_timeout: Duration,
    /// Read connections per tenant (the writer is always exactly one).
    pub read_connections: u32,
    /// How long a statement waits for a lock held by another connection before failing.
    pub busy_timeout: Duration,
    /// A commit that leaves the WAL file larger than this starts a checkpoint in the background
    /// (SQLite's own automatic checkpoint, which runs inside the commit that crosses its threshold
    /// and makes that client wait for the copy and its `fsync`, is off). It is also the size the
    /// WAL file is cut back to when SQLite starts it over after a checkpoint.
    pub wal_checkpoint_bytes: u64,
    /// A WAL file larger than this is checkpointed with `TRUNCATE` (which waits for readers and
    /// briefly holds off writers) instead of `PASSIVE`: it grows that far only when readers kept
    /// the WAL from being started over.
    pub wal_truncate_bytes: u64,
}

impl StorageConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            max_open_tenants: 256,
            idle_timeout: Duration::from_secs(10 * 60),
            read_connections: 4,
            busy_timeout: Duration::from_secs(5),
            // About SQLite's own default threshold (1,000 pages of 4 KiB).
            wal_checkpoint_bytes: 4 << 20,
            wal_truncate_bytes: 64 << 20,
        }
    }
}

/// An open tenant database: one writer connection and a small pool of readers.
#[derive(Debug)]
pub struct TenantDb {
    tenant: TenantId,
    path: PathBuf,
    writer: SqlitePool,
    reader: SqlitePool,
    /// The history epoch (see [`crate::history`]), read when the database was opened.
    epoch: Mutex<String>,
    /// Milliseconds since the manager's epoch at the last `open` that returned this database.
    last_used: AtomicI64,
    wal_path: PathBuf,
    wal_checkpoint_bytes: u64,
    wal_truncate_bytes: u64,
    /// A background checkpoint is running (at most one per tenant).
    checkpointing: AtomicBool,
    /// The WAL file's size when the last background checkpoint started; 0 once SQLite has
    /// started the WAL over (and cut the file back) since.
    checkpointed_at: AtomicU64,
    /// Checkpoints run, over all tenants (shared with the manager).
    checkpoints: Arc<AtomicU64>,
    /// The manager's count of reads begun (see [`TenantManager::reads_begun`]).
    reads: Arc<AtomicU64>,
}

impl TenantDb {
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Begins a write transaction. `IMMEDIATE` takes the write lock up front, so a transaction that
    /// reads before it writes can never fail later with "database is locked".
    pub async fn begin_write(&self) -> Result<WriteTx> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Takes the tenant's one writer connection. While it is held no other write can start, which
    /// lets a caller commit and then publish the committed changes before anyone else commits:
    /// that is how events leave in sequence order. Begin transactions on it with
    /// [`begin_immediate`].
    pub async fn writer(&self) -> Result<PoolConnection<Sqlite>> {
        Ok(self.writer.acquire().await?)
    }

    /// The pool for reads. Readers see the last committed state (WAL snapshot isolation).
    pub fn reader(&self) -> &SqlitePool {
        self.reads.fetch_add(1, Ordering::Relaxed);
        &self.reader
    }

    /// Begins a read transaction: every query in it sees one consistent snapshot.
    pub async fn begin_read(&self) -> Result<Transaction<'static, Sqlite>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.reader.begin().await?)
    }

    /// Copies the whole database, consistently, to `target` (which must not exist) while it keeps
    /// serving: `VACUUM INTO` runs in a read transaction of its own.
    pub async fn backup_to(&self, target: &Path) -> Result<()> {
        let target = target.to_str().ok_or(Error::Corrupt {
            column: "backup path",
        })?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&self.reader)
            .await?;
        Ok(())
    }

    /// The identity of this database's change history: sequence numbers are comparable only
    /// within one epoch.
    pub fn epoch(&self) -> String {
        self.epoch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts a new history epoch (after a restore) and returns it.
    pub async fn rekey_history(&self) -> Result<String> {
        let mut writer = self.writer().await?;
        let mut tx = begin_immediate(&mut writer).await?;
        let epoch = history::rekey(&mut tx).await?;
        tx.commit().await?;
        *self.epoch.lock().unwrap_or_else(PoisonError::into_inner) = epoch.clone();
        self.mark_history().await?;
        Ok(epoch)
    }

    /// Records the history as it is now in the mark file beside the database, so a database
    /// replaced by hand later is noticed (see [`crate::history`]).
    pub async fn mark_history(&self) -> Result<()> {
        let mut conn = self.reader.acquire().await?;
        let mark = Mark::read_db(&mut conn).await?;
        mark.store(self.dir())
    }

    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Moves the WAL's content into the main file so the WAL does not grow without bound:
    /// `PASSIVE` (never waits for readers or holds off writers; it runs on a read connection, so
    /// commits go on meanwhile), or `TRUNCATE` when the WAL file has grown past
    /// `wal_truncate_bytes` (readers kept SQLite from starting it over).
    pub async fn checkpoint(&self) -> Result<Checkpoint> {
        let mut conn = self.reader.acquire().await?;
        let mode = if self.wal_size() > self.wal_truncate_bytes {
            "TRUNCATE"
        } else {
            "PASSIVE"
        };
        let (busy, log, checkpointed): (i64, i64, i64) =
            sqlx::query_as(&format!("PRAGMA wal_checkpoint({mode})"))
                .fetch_one(&mut *conn)
                .await?;
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(Checkpoint {
            complete: busy == 0 && log == checkpointed,
            wal_frames: log,
        })
    }

    /// Called after every commit: when the WAL file has grown past `wal_checkpoint_bytes`, starts
    /// a checkpoint in the background (unless one is running) and returns it. The commit itself
    /// never waits for it.
    ///
    /// While commits keep coming, SQLite cannot start the WAL over (a commit lands while the
    /// checkpoint copies), so the file keeps growing past the bound; the next checkpoint then
    /// starts only once another `wal_checkpoint_bytes` were written, not after every commit.
    pub fn committed(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let size = self.wal_size();
        let last = self.checkpointed_at.load(Ordering::Relaxed);
        // The file only shrinks when SQLite started the WAL over: a new cycle.
        let last = if size < last { 0 } else { last };
        if size <= self.wal_checkpoint_bytes
            || size < last.saturating_add(self.wal_checkpoint_bytes)
            || self.checkpointing.swap(true, Ordering::AcqRel)
        {
            self.checkpointed_at.store(last, Ordering::Relaxed);
            return None;
        }
        self.checkpointed_at.store(size, Ordering::Relaxed);
        let db = Arc::clone(self);
        Some(tokio::spawn(async move {
            if let Err(e) = db.checkpoint().await {
                tracing::warn!(tenant = %db.tenant, error = %e, "WAL checkpoint failed");
            }
            db.checkpointing.store(false, Ordering::Release);
        }))
    }

    /// The WAL file's size now (0 when there is none).
    pub fn wal_size(&self) -> u64 {
        std::fs::metadata(&self.wal_path).map_or(0, |m| m.len())
    }

    /// Copies the whole WAL into the database file and empties it, so the file alone holds every
    /// committed change (before the file is moved, as a restore does). `Unavailable` when a
    /// reader kept part of the WAL in use.
    pub async fn checkpoint_truncate(&self) -> Result<()> {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.writer)
            .await?;
        if busy != 0 {
            return Err(Error::Unavailable(sqlx::Error::PoolTimedOut));
        }
        Ok(())
    }

    async fn close(&self) {
        if let Err(e) = self.mark_history().await {
            tracing::warn!(tenant = %self.tenant, error = %e, "could not record the history mark");
        }
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every frame of the WAL is in the database file now: the next write starts the WAL over.
    pub complete: bool,
    /// Frames in the WAL when the checkpoint ran.
    pub wal_frames: i64,
}

/// Begins an `IMMEDIATE` write transaction on a connection taken with [`TenantDb::writer`].
pub async fn begin_immediate(conn: &mut SqliteConnection) -> Result<Transaction<'_, Sqlite>> {
    Ok(conn.begin_with("BEGIN IMMEDIATE").await?)
}

type Slot = Arc<OnceCell<Arc<TenantDb>>>;

/// Opens tenant databases on demand and keeps at most `max_open_tenants` of them open.
///
/// Concurrent first opens of one tenant share one [`OnceCell`], so the file is opened and migrated
/// once. The map's lock is a plain mutex held only for map operations, never across `.await`.
/// A database is only ever closed while nobody holds it (its `Arc` is held by the map alone), so an
/// in-flight query never sees its pool closed underneath it.
#[derive(Debug)]
pub struct TenantManager {
    config: StorageConfig,
    slots: Mutex<HashMap<TenantId, Slot>>,
    epoch: Instant,
    opens: AtomicU64,
    checkpoints: Arc<AtomicU64>,
    /// Reads begun on any of its databases ([`TenantDb::begin_read`], [`TenantDb::reader`]).
    reads: Arc<AtomicU64>,
}

impl TenantManager {
    pub fn new(config: StorageConfig) -> Self {
        Self {
            config,
            slots: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            opens: AtomicU64::new(0),
            checkpoints: Arc::new(AtomicU64::new(0)),
            reads: Arc::default(),
        }
    }

    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// Returns the tenant's database, opening and migrating it first if it is not open.
    pub async fn open(&self, tenant: &TenantId) -> Result<Arc<TenantDb>> {
        let slot = {
            let mut slots = self.lock();
            let slot = slots.entry(tenant.clone()).or_default();
            if let Some(db) = slot.get() {
                let db = Arc::clone(db);
                self.touch(&db);
                return Ok(db);
            }
            Arc::clone(slot)
        };
        let db = slot
            .get_or_try_init(|| self.open_new(tenant))
            .await
            .map(Arc::clone);
        drop(slot);
        let db = db?;
        self.touch(&db);
        self.enforce_cap().await;
        Ok(db)
    }

    /// Opens a tenant by its id as text, refusing unsafe ids before any path is built.
    pub async fn open_str(&self, tenant: &str) -> Result<Arc<TenantDb>> {
        let tenant = TenantId::parse(tenant).map_err(Error::InvalidTenant)?;
        self.open(&tenant).await
    }

    /// The databases open now (for periodic maintenance).
    pub fn open_databases(&self) -> Vec<Arc<TenantDb>> {
        self.lock()
            .values()
            .filter_map(|slot| slot.get().cloned())
            .collect()
    }

    /// How many tenant databases are open now.
    pub fn open_count(&self) -> usize {
        self.lock()
            .values()
            .filter(|slot| slot.initialized())
            .count()
    }

    /// How many times a tenant file was actually opened (and migrated) since start.
    pub fn opens_performed(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }

    /// How many WAL checkpoints ran since start, over all tenants.
    pub fn checkpoints_performed(&self) -> u64 {
        self.checkpoints.load(Ordering::Relaxed)
    }

    /// How many reads (read transactions or reader-pool uses) were begun on the tenant databases
    /// since start: what proves that a request was answered without reading SQLite.
    pub fn reads_begun(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Closes every open database that nobody holds and that was not used for `idle_timeout`.
    /// Returns how many were closed.
    pub async fn close_idle(&self) -> usize {
        let cutoff = self.now_ms() - duration_ms(self.config.idle_timeout);
        let victims = self.take_unused(
            |db| db.last_used.load(Ordering::Relaxed) <= cutoff,
            usize::MAX,
        );
        close_all(&victims).await;
        victims.len()
    }

    /// Closes every open database (at shutdown). Databases still held elsewhere close when their
    /// last holder drops them.
    pub async fn close_all(&self) {
        let all: Vec<Arc<TenantDb>> = {
            let mut slots = self.lock();
            slots
                .drain()
                .filter_map(|(_, slot)| slot.get().cloned())
                .collect()
        };
        close_all(&all).await;
    }

    /// Closes one tenant's database if it is open and nobody holds it (before its files are moved
    /// away). Returns whether the tenant is closed now: `false` while someone still holds it.
    pub async fn close(&self, tenant: &TenantId) -> bool {
        let victim = {
            let mut slots = self.lock();
            match slots.get(tenant) {
                None => return true,
                Some(slot) => {
                    let unheld = Arc::strong_count(slot) == 1
                        && slot.get().is_none_or(|db| Arc::strong_count(db) == 1);
                    if !unheld {
                        return false;
                    }
                }
            }
            slots.remove(tenant).and_then(|slot| slot.get().cloned())
        };
        if let Some(db) = victim {
            close_all(&[db]).await;
        }
        true
    }

    /// Checks that a database can be created and queried under the data directory, without
    /// touching any tenant: readiness means "a tenant could be opened now".
    pub async fn probe(&self) -> Result<()> {
        tokio::fs::create_dir_all(&self.config.data_dir)
            .await
            .map_err(Error::storage(&self.config.data_dir))?;
        let path = self.config.data_dir.join("ready-probe.sqlite3");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(self.config.busy_timeout);
        let mut conn = sqlx::ConnectOptions::connect(&options)
            .await
            .map_err(Error::open(&path))?;
        sqlx::query("CREATE TABLE IF NOT EXISTS probe (x INTEGER); SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(Error::open(&path))?;
        conn.close().await?;
        Ok(())
    }

    /// Every tenant that has a database file under the data directory.
    pub fn tenants_on_disk(&self) -> Result<Vec<TenantId>> {
        let dir = self.config.data_dir.join("tenants");
        let mut tenants = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(tenants),
            Err(e) => return Err(Error::storage(&dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(Error::storage(&dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if let Ok(tenant) = TenantId::parse(&name)
                && entry.path().join(DB_FILE_NAME).is_file()
            {
                tenants.push(tenant);
            }
        }
        tenants.sort();
        Ok(tenants)
    }

    async fn open_new(&self, tenant: &TenantId) -> Result<Arc<TenantDb>> {
        let dir = self.config.data_dir.join("tenants").join(tenant.as_str());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(Error::storage(&dir))?;
        let path = dir.join(DB_FILE_NAME);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(self.config.busy_timeout)
            // Checkpoints run off the commit path (see `TenantDb::committed`), not inside it.
            .pragma("wal_autocheckpoint", "0")
            // Each command of a group commit runs in a savepoint, whose journal (the pages it
            // changed, as they were) is a temporary file by default: one `pwrite` per page.
            .pragma("temp_store", "memory")
            .pragma(
                "journal_size_limit",
                self.config.wal_checkpoint_bytes.to_string(),
            );
        // Connections are never dropped for idleness by the pool itself: the manager closes whole
        // tenants instead, so the writer is either open or the tenant is closed.
        let writer = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(Error::open(&path))?;
        MIGRATOR.run(&writer).await.map_err(Error::Migration)?;
        let epoch = check_history(&writer, tenant, &dir).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(self.config.read_connections.max(1))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        self.opens.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(tenant = %tenant, "opened tenant database");
        Ok(Arc::new(TenantDb {
            tenant: tenant.clone(),
            wal_path: dir.join(format!("{DB_FILE_NAME}-wal")),
            wal_checkpoint_bytes: self.config.wal_checkpoint_bytes,
            wal_truncate_bytes: self.config.wal_truncate_bytes,
            checkpointing: AtomicBool::new(false),
            checkpointed_at: AtomicU64::new(0),
            checkpoints: Arc::clone(&self.checkpoints),
            path,
            writer,
            reader,
            epoch: Mutex::new(epoch),
            last_used: AtomicI64::new(self.now_ms()),
            reads: Arc::clone(&self.reads),
        }))
    }

    /// Closes the least recently used unheld databases while more than the cap are open.
    async fn enforce_cap(&self) {
        let open = self.open_count();
        if open <= self.config.max_open_tenants {
            return;
        }
        let excess = open - self.config.max_open_tenants;
        let victims = self.take_unused(|_| true, excess);
        close_all(&victims).await;
    }

    /// Removes from the map up to `limit` open databases that satisfy `pred` and that nobody
    /// holds or is waiting for, least recently used first, and returns them for closing.
    fn take_unused(&self, pred: impl Fn(&TenantDb) -> bool, limit: usize) -> Vec<Arc<TenantDb>> {
        let mut slots = self.lock();
        let mut candidates: Vec<(i64, TenantId)> = slots
            .iter()
            .filter_map(|(tenant, slot)| {
                let db = slot.get()?;
                // The map holds one reference to the slot and the slot one to the database; any
                // more means someone is using it or waiting for it.
                let unheld = Arc::strong_count(slot) == 1 && Arc::strong_count(db) == 1;
                (unheld && pred(db)).then(|| (db.last_used.load(Ordering::Relaxed), tenant.clone()))
            })
            .collect();
        candidates.sort();
        candidates
            .into_iter()
            .take(limit)
            .filter_map(|(_, tenant)| slots.remove(&tenant).and_then(|slot| slot.get().cloned()))
            .collect()
    }

    fn touch(&self, db: &TenantDb) {
        db.last_used.store(self.now_ms(), Ordering::Relaxed);
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Slot>> {
        // A panic while holding this lock cannot leave the map half-updated (every critical
        // section is a single map operation), so a poisoned lock is still usable.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads the database's history epoch on open, starting a new one if the database does not
/// continue the history the server last saw (a backup copied over it by hand), and records the
/// new mark.
async fn check_history(writer: &SqlitePool, tenant: &TenantId, dir: &Path) -> Result<String> {
    let mut conn = writer.acquire().await?;
    let mut epoch = history::epoch(&mut conn).await?;
    if let Some(mark) = Mark::load(dir)
        && mark.replaced_by(&mut conn).await?
    {
        let mut tx = begin_immediate(&mut conn).await?;
        epoch = history::rekey(&mut tx).await?;
        tx.commit().await?;
        tracing::warn!(
            tenant = %tenant,
            last_seen_seq = mark.seq,
            "the database does not continue the history last seen here (restored by hand?); \
             started a new history epoch, clients will take fresh snapshots"
        );
    }
    Mark::read_db(&mut conn).await?.store(dir)?;
    Ok(epoch)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn close_all(dbs: &[Arc<TenantDb>]) {
    for db in dbs {
        tracing::debug!(tenant = %db.tenant, "closing tenant database");
        db.close().await;
    }
}
