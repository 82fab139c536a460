//! Audit retention: entries older than their tenant's `audit-retention`
//! (instance default `aerie.tenants.quotas.audit-retention`, overridable
//! per tenant) are deleted every `executor.retention-interval-seconds`, in
//! bounded batches, each in the tenant's own transaction.

use std::sync::Arc;
use std::time::Duration;

use aerie_common::TenantId;
use aerie_common::config::Config;
use aerie_common::quota::{QuotaBook, parse_retention};
use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;

use crate::repo::{self, SystemScan, TenantTxn};

/// Entries deleted per transaction.
const BATCH: u64 = 1000;

/// Starts the audit retention job of this process until `shutdown`.
pub fn spawn(
    db: DatabaseConnection,
    config: &Config,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error + Send + Sync>> {
    let quotas = Arc::new(QuotaBook::new(
        &config.tenants.quotas,
        aerie_common::grpc::lazy_channel(&config.tenant_endpoint())?,
        config.service_token()?,
        &aerie_common::changes::ChangeWatch::for_config(config)?,
    ));
    config.tenants.quotas.retention()?;
    let every = Duration::from_secs(config.executor.retention_interval_seconds.max(1));
    Ok(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            if let Err(err) = pass(&db, &quotas, &shutdown).await {
                tracing::warn!(%err, "audit retention failed; tried again later");
            }
        }
    }))
}

async fn pass(
    db: &DatabaseConnection,
    quotas: &QuotaBook,
    shutdown: &CancellationToken,
) -> Result<(), DbErr> {
    let tenants = {
        let scan = SystemScan::begin(db, "tenants with audit entries").await?;
        let tenants = repo::tenants_with_entries(scan.conn()).await?;
        scan.commit().await?;
        tenants
    };
    for tenant in tenants {
        if shutdown.is_cancelled() {
            break;
        }
        let Ok(tenant) = TenantId::from_storage_key(&tenant) else {
            continue;
        };
        let retention = quotas.of(&tenant).await.audit_retention;
        let Some(keep) =
            parse_retention(&retention).and_then(|d| chrono::Duration::from_std(d).ok())
        else {
            continue;
        };
        let before = Utc::now() - keep;
        let mut deleted = 0;
        loop {
            let tx = TenantTxn::write(db, &tenant).await?;
            let removed = repo::delete_older(&tx, before, BATCH).await?;
            tx.commit().await?;
            deleted += removed;
            if removed < BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
        if deleted > 0 {
            tracing::info!(%tenant, deleted, %retention, "audit entries past retention deleted");
        }
    }
    Ok(())
}
