//! Operations run from the command line beside (or before) a running server.

use std::path::Path;

use anyhow::{Context, bail};
use pm_db::{StorageConfig, TenantManager};

use crate::Config;

fn manager(config: &Config) -> TenantManager {
    TenantManager::new(StorageConfig::new(&config.data_dir))
}

/// Opens, and thereby migrates, every tenant database under the data directory. Returns how many.
pub async fn migrate(config: &Config) -> anyhow::Result<usize> {
    let tenants = manager(config);
    let ids = tenants.tenants_on_disk()?;
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
pub async fn backup(config: &Config, target: &Path) -> anyhow::Result<usize> {
    let tenants = manager(config);
    let ids = tenants.tenants_on_disk()?;
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
