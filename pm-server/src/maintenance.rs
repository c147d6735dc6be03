//! Periodic upkeep inside the server: purge change-log entries past the retention window and
//! expired idempotency records, checkpoint WAL files, and close idle tenant databases. Each step is
//! a short write on one tenant at a time, so requests are never blocked for long.

use std::sync::Arc;
use std::time::Duration;

use pm_core::Timestamp;
use pm_db::{TenantDb, TenantManager, change_log, idempotency};
use pm_ws::Retention;
use tokio_util::sync::CancellationToken;

/// Change-log entries always kept whatever their age, so a client that was only briefly away can
/// resume even on a quiet tenant.
const ALWAYS_KEEP: i64 = 1_000;

pub async fn run(
    tenants: Arc<TenantManager>,
    retention: Retention,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {
                for db in tenants.open_databases() {
                    if let Err(e) = tidy(&db, retention).await {
                        tracing::warn!(tenant = %db.tenant(), error = %e, "maintenance failed");
                    }
                }
                let closed = tenants.close_idle().await;
                if closed > 0 {
                    tracing::debug!(closed, "closed idle tenant databases");
                }
            }
        }
    }
}

/// One round of upkeep on one tenant.
pub async fn tidy(db: &TenantDb, retention: Retention) -> pm_db::Result<()> {
    let now = Timestamp::now();
    let mut tx = db.begin_write().await?;
    let purged = change_log::purge(
        &mut tx,
        now.plus_millis(-millis(retention.change_log_max_age)),
        ALWAYS_KEEP,
        retention.change_log_max_rows,
    )
    .await?;
    let expired = idempotency::purge(
        &mut tx,
        now.plus_millis(-millis(retention.idempotency_max_age)),
    )
    .await?;
    tx.commit().await?;
    db.checkpoint().await?;
    // Keeps the history mark close to the head, so a database replaced by hand after a crash is
    // still noticed (see `pm_db::history`).
    db.mark_history().await?;
    if purged + expired > 0 {
        tracing::debug!(tenant = %db.tenant(), purged, expired, "purged old records");
    }
    Ok(())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
