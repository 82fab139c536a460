//! Admission of new executions, per tenant: at most
//! `aerie.tenants.quotas.executions-per-minute` created through the API or
//! a webhook, and at most `aerie.tenants.quotas.queued-executions` waiting
//! for a worker. Past either the request is refused with RESOURCE_EXHAUSTED
//! and a retry time (429 with Retry-After through the gateway); nothing is
//! created, nothing is dropped silently. Scheduled executions are bounded
//! by their cron and are not counted.

use aerie_common::config::QuotasConfig;
use aerie_common::rate::{KeyedLimiter, Rate};
use aerie_common::{ServiceError, TenantId};
use sea_orm::DatabaseConnection;

use crate::repo::queue;

/// Seconds a caller refused for a full queue is asked to wait.
const QUEUE_FULL_RETRY_SECS: u64 = 5;

/// The admission checks of one execution-svc process.
pub struct Admission {
    db: DatabaseConnection,
    per_minute: KeyedLimiter,
    per_minute_quota: u32,
    queued_quota: u32,
}

impl Admission {
    pub fn new(db: DatabaseConnection, quotas: &QuotasConfig) -> Admission {
        Admission {
            db,
            per_minute: KeyedLimiter::new(Rate::per_minute(quotas.executions_per_minute), 100_000),
            per_minute_quota: quotas.executions_per_minute,
            queued_quota: quotas.queued_executions,
        }
    }

    /// Ok when `tenant` may create one more execution now.
    pub async fn admit(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        let queued = queue::queued_count(&self.db, tenant).await?;
        if queued >= u64::from(self.queued_quota) {
            aerie_common::metrics::instruments().quota_refusal("queued-executions");
            return Err(ServiceError::TooManyRequests(
                format!(
                    "{tenant} has {queued} executions waiting for a worker, its quota (aerie.tenants.quotas.queued-executions) is {}",
                    self.queued_quota
                ),
                QUEUE_FULL_RETRY_SECS,
            ));
        }
        self.per_minute
            .take(tenant.storage_key())
            .await
            .map_err(|retry| {
                aerie_common::metrics::instruments().quota_refusal("executions-per-minute");
                ServiceError::TooManyRequests(
                    format!(
                        "{tenant} may create {} executions per minute (aerie.tenants.quotas.executions-per-minute)",
                        self.per_minute_quota
                    ),
                    retry.seconds(),
                )
            })
    }
}
