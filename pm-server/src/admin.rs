//! Operations run from the command line beside (or before) a running server.

use std::path::Path;

use anyhow::{Context, bail};
use pm_core::TenantId;
use pm_db::{StorageConfig, TenantManager};

use crate::Config;

fn manager(config: &Config) -> TenantManager {
    TenantManager::new(StorageConfig::new(&config.data_dir))
}

/// Whether a data directory holding no tenant database is fine (a fresh installation) or a
/// mistake (a typo in a cron job's `--data-dir`, which would otherwise back up nothing, forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenEmpty {
    Refuse,
    Allow,
}

/// The tenants under the data directory. A data directory that does not exist is always an
/// error; one without tenant databases is one unless `when_empty` allows it.
fn tenants_on_disk(
    config: &Config,
    tenants: &TenantManager,
    when_empty: WhenEmpty,
) -> anyhow::Result<Vec<TenantId>> {
    let dir = &config.data_dir;
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => bail!("data_dir: {} is not a directory", shown.display()),
        Err(e) => bail!("data_dir: cannot use {}: {e}", shown.display()),
    }
    let ids = tenants
        .tenants_on_disk()
        .with_context(|| format!("data_dir: cannot list the tenants in {}", shown.display()))?;
    if ids.is_empty() && when_empty == WhenEmpty::Refuse {
        bail!(
            "data_dir: {} holds no tenant database (expected tenants/<tenant>/pm.sqlite3); \
             check --data-dir, PM_DATA_DIR or the config file, or pass --allow-empty if an \
             empty data directory is expected",
            shown.display()
        );
    }
    Ok(ids)
}

/// Opens, and thereby migrates, every tenant database under the data directory. Returns how many.
pub async fn migrate(config: &Config, when_empty: WhenEmpty) -> anyhow::Result<usize> {
    let tenants = manager(config);
    let ids = tenants_on_disk(config, &tenants, when_empty)?;
    for id in &ids {
        tenants
            .open(id)
            .await
            .with_context(|| format!("migrating tenant {id}"))?;
        tracing::info!(tenant = %id, "migrated");
    }
    tenants.close_all().await;
    Ok(ids.len())
}

/// Copies every tenant database to `<target>/tenants/<tenant>/pm.sqlite3` with `VACUUM INTO`: a
/// consistent copy taken in a read transaction, so a running server keeps serving meanwhile.
/// Returns how many tenants were copied.
pub async fn backup(
    config: &Config,
    target: &Path,
    when_empty: WhenEmpty,
) -> anyhow::Result<usize> {
    let tenants = manager(config);
    let ids = tenants_on_disk(config, &tenants, when_empty)?;
    for id in &ids {
        let dir = target.join("tenants").join(id.as_str());
        let file = dir.join("pm.sqlite3");
        if file.exists() {
            bail!(
                "backup: {} exists already; choose an empty directory",
                file.display()
            );
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("backup: cannot create {}", dir.display()))?;
        let db = tenants
            .open(id)
            .await
            .with_context(|| format!("opening tenant {id}"))?;
        db.backup_to(&file)
            .await
            .with_context(|| format!("backing up tenant {id}"))?;
        tracing::info!(tenant = %id, to = %file.display(), "backed up");
    }
    tenants.close_all().await;
    Ok(ids.len())
}

/// What a restore produced.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The restored database's newest sequence number.
    pub head_seq: i64,
    /// The new history epoch.
    pub history_epoch: String,
}

/// Replaces one tenant's database with a backup (run with the server stopped): the backup is
/// checked, copied beside the live file, migrated, given a new history epoch, and only then
/// renamed over the live database, so a failed restore leaves the old database in place.
pub async fn restore(config: &Config, tenant: &str, from: &Path) -> anyhow::Result<Restored> {
    let tenant = TenantId::parse(tenant).context("restore: not a tenant id")?;
    install(&config.data_dir, &tenant, from, History::NewEpoch).await
}

/// What an installed database's history is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// A restore: the copy's sequence numbers may already have been handed out for other changes,
    /// so it starts a new epoch and clients take fresh snapshots.
    NewEpoch,
    /// A move: the copy is the tenant's whole history up to now, so it keeps its epoch and
    /// clients resume from their last sequence number.
    Keep,
}

/// Installs `from` as `tenant`'s database under `data_dir` (which must not have it open): the
/// copy is checked, staged, migrated, given its history (see [`History`]), and only then renamed
/// over the live database with its history mark, so a failure leaves the old database in place.
pub async fn install(
    data_dir: &Path,
    tenant: &TenantId,
    from: &Path,
    history: History,
) -> anyhow::Result<Restored> {
    if !from.is_file() {
        bail!("restore: {} is not a file", from.display());
    }
    let dir = data_dir.join("tenants").join(tenant.as_str());
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("restore: cannot create {}", dir.display()))?;
    // Staged as a tenant of its own in a scratch data directory beside the real one, so the
    // normal open path checks and migrates it.
    let staging = data_dir.join(format!(".restore-{tenant}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("restore: cannot clear {}", staging.display()))?;
    }
    let staged_dir = staging.join("tenants").join(tenant.as_str());
    std::fs::create_dir_all(&staged_dir)?;
    let staged = staged_dir.join("pm.sqlite3");
    std::fs::copy(from, &staged)
        .with_context(|| format!("restore: cannot copy {}", from.display()))?;
    let restored = {
        let tenants = TenantManager::new(StorageConfig::new(&staging));
        let db = tenants
            .open(tenant)
            .await
            .with_context(|| format!("restore: {} is not a usable pm database", from.display()))?;
        let history_epoch = match history {
            History::NewEpoch => db.rekey_history().await?,
            History::Keep => db.epoch(),
        };
        let head_seq = {
            let mut conn = db.reader().acquire().await?;
            pm_db::change_log::head(&mut conn).await?
        };
        // The file alone must hold everything before it moves: the WAL stays behind.
        db.checkpoint_truncate()
            .await
            .context("restore: cannot write the restored database out")?;
        drop(db);
        tenants.close_all().await;
        Restored {
            head_seq,
            history_epoch,
        }
    };
    let live = dir.join("pm.sqlite3");
    for suffix in ["-wal", "-shm"] {
        let stale = dir.join(format!("pm.sqlite3{suffix}"));
        if stale.exists() {
            std::fs::remove_file(&stale)
                .with_context(|| format!("restore: cannot remove {}", stale.display()))?;
        }
    }
    std::fs::rename(&staged, &live).with_context(|| {
        format!(
            "restore: cannot move the restored file to {}",
            live.display()
        )
    })?;
    std::fs::rename(
        staged_dir.join(pm_db::history::MARK_FILE_NAME),
        dir.join(pm_db::history::MARK_FILE_NAME),
    )
    .context("restore: cannot record the history mark")?;
    std::fs::remove_dir_all(&staging).ok();
    tracing::info!(
        tenant = %tenant,
        head_seq = restored.head_seq,
        epoch = %restored.history_epoch,
        history = ?history,
        "installed a tenant database"
    );
    Ok(restored)
}
