//! Retention: ended executions older than their tenant's
//! `execution-retention` are deleted with their task runs, log lines,
//! idempotency keys and files. Deletion runs in bounded batches, each in
//! the tenant's own transaction, so a tenant with millions of executions
//! never holds a long lock nor stalls its neighbours. The background job
//! visits every live tenant each `executor.retention-interval-seconds`;
//! `aerie executions purge` and `POST /api/v1/{tenant}/executions/purge`
//! do the same for one tenant and any date. Running executions are never
//! touched.

use std::time::Duration;

use aerie_common::audit::AuditEntry;
use aerie_common::{ServiceError, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::domain::{ExecutionId, execution_folder};
use crate::executor::Engine;
use crate::live_tenants::LiveTenants;
use crate::repo::{self, TenantTxn};
use crate::storage::{Storage, StoragePath};

/// Executions deleted per transaction.
const BATCH: u64 = 500;

/// Deletes the executions of `tenant` that ended before `before`, with
/// everything they own; answers how many.
pub async fn purge(
    db: &DatabaseConnection,
    storage: &Storage,
    tenant: &TenantId,
    before: DateTime<Utc>,
    actor: &str,
) -> Result<u64, ServiceError> {
    let mut purged = 0;
    loop {
        let tx = TenantTxn::write(db, tenant).await?;
        let batch = repo::executions::ended_before(&tx, before, BATCH).await?;
        let ids: Vec<String> = batch.iter().map(|(id, _, _)| id.clone()).collect();
        repo::executions::delete_executions(&tx, &ids).await?;
        if !ids.is_empty() {
            // Every batch is audited in its own transaction: deleting
            // history never goes unrecorded.
            let entry = AuditEntry::new(tenant, "EXECUTION", "", "DELETE", actor).with_details(
                serde_json::json!({"operation": "PURGE", "endedBefore": before.to_rfc3339(),
                                   "executions": ids}),
            );
            aerie_common::audit::enqueue(tx.conn(), entry).await?;
        }
        tx.commit().await?;
        // Files go once their rows are gone; a crash in between leaves
        // files no execution names, never an execution without its files
        // while it is still shown.
        for (id, namespace, flow_id) in &batch {
            let Ok(id) = ExecutionId::parse(id) else {
                continue;
            };
            let folder = StoragePath::parse(&execution_folder(namespace, flow_id, &id));
            if let Ok(folder) = folder
                && let Err(err) = storage.delete_folder(tenant, &folder).await
            {
                tracing::warn!(%tenant, execution = %id, %err, "files of a purged execution kept");
            }
        }
        purged += batch.len() as u64;
        if (batch.len() as u64) < BATCH {
            return Ok(purged);
        }
        // Other work of this process goes first between batches.
        tokio::task::yield_now().await;
    }
}

/// Applies every live tenant's retention every `every` until `shutdown`.
pub fn spawn(
    engine: Engine,
    tenants: LiveTenants,
    every: Duration,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let tenants = match tenants.list().await {
                Ok(tenants) => tenants,
                Err(status) => {
                    tracing::warn!(%status, "retention skipped: cannot list tenants");
                    continue;
                }
            };
            for tenant in tenants {
                if shutdown.is_cancelled() {
                    return;
                }
                apply(&engine, &tenant).await;
            }
        }
    })
}

/// Deletes what `tenant` keeps past its execution retention.
async fn apply(engine: &Engine, tenant: &TenantId) {
    let quotas = engine.quotas.of(tenant).await;
    let keep = aerie_common::quota::parse_retention(&quotas.execution_retention)
        .and_then(|keep| chrono::Duration::from_std(keep).ok());
    let Some(keep) = keep else {
        tracing::warn!(%tenant, retention = %quotas.execution_retention, "unusable retention period");
        return;
    };
    match purge(
        &engine.db,
        &engine.storage,
        tenant,
        Utc::now() - keep,
        "retention",
    )
    .await
    {
        Ok(0) => {}
        Ok(purged) => tracing::info!(%tenant, purged, retention = %quotas.execution_retention,
            "ended executions past retention deleted"),
        Err(err) => tracing::warn!(%tenant, %err, "retention failed; tried again later"),
    }
}
