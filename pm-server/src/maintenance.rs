//! Periodic upkeep inside the server: purge change-log entries past the retention window and
//! expired idempotency records, checkpoint WAL files, and close idle tenant databases. Each step is
//! a short write on one tenant at a time, so requests are never blocked for long.

use std::future::Future;
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
    every(interval, shutdown, move || {
        round(Arc::clone(&tenants), retention)
    })
    .await;
}

/// Runs `round` at every tick of `interval` until `shutdown`, each round in a task of its own. A
/// round that panics is logged at error level and the next one runs at the next tick as usual:
/// the upkeep restarts instead of stopping silently (a stopped upkeep lets the change log and the
/// WAL files grow without bound) or taking every connection down with the server. Returns how
/// many rounds panicked.
pub async fn every<F, R>(interval: Duration, shutdown: CancellationToken, mut round: F) -> u64
where
    F: FnMut() -> R,
    R: Future<Output = ()> + Send + 'static,
{
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut panicked = 0;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return panicked,
            _ = tick.tick() => {
                if let Err(e) = tokio::spawn(round()).await {
                    panicked += 1;
                    tracing::error!(
                        error = %e,
                        panicked,
                        "a maintenance round panicked; the next one runs at the next interval"
                    );
                }
            }
        }
    }
}

/// One round of upkeep over every open tenant.
async fn round(tenants: Arc<TenantManager>, retention: Retention) {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_round_that_panics_is_counted_and_the_rounds_go_on() {
        let shutdown = CancellationToken::new();
        let rounds = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&rounds);
        let stop = shutdown.clone();
        let panicked = every(Duration::from_millis(1), shutdown, move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            let stop = stop.clone();
            async move {
                if n == 3 {
                    stop.cancel();
                }
                assert!(n != 1, "the first round fails");
            }
        });
        let panicked = tokio::time::timeout(Duration::from_secs(20), panicked)
            .await
            .expect("the rounds went on after the panic");
        assert_eq!((panicked, rounds.load(Ordering::SeqCst)), (1, 3));
    }
}
