//! Admission of new executions against each tenant's quotas (see
//! [`QuotaBook`]). [`Admission`] checks new
//! executions: at most `executions-per-minute` created through the API or a
//! webhook, and at most `queued-executions` waiting for a worker. Past
//! either the request is refused with RESOURCE_EXHAUSTED and a retry time
//! (429 with Retry-After through the gateway); nothing is created, nothing
//! is dropped silently. Scheduled executions are bounded by their cron and
//! are not counted.

use std::sync::Arc;

pub use aerie_common::quota::QuotaBook;
use aerie_common::rate::{KeyedLimiter, Rate};
use aerie_common::{ServiceError, TenantId};
use sea_orm::DatabaseConnection;

use crate::repo::queue;

/// Seconds a caller refused for a full queue is asked to wait.
const QUEUE_FULL_RETRY_SECS: u64 = 5;

/// The admission checks of one execution-svc process.
pub struct Admission {
    db: DatabaseConnection,
    quotas: Arc<QuotaBook>,
    per_minute: KeyedLimiter,
}

impl Admission {
    pub fn new(db: DatabaseConnection, quotas: Arc<QuotaBook>) -> Admission {
        let rate = Rate::per_minute(quotas.defaults().executions_per_minute);
        Admission {
            db,
            quotas,
            per_minute: KeyedLimiter::new(rate, 100_000),
        }
    }

    /// Ok when `tenant` may create one more execution now.
    pub async fn admit(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        self.admit_beside(tenant, 0).await
    }

    /// [`Admission::admit`] for one execution of a batch, `pending` others
    /// of which were admitted but are not written yet (they count as
    /// queued).
    pub async fn admit_beside(&self, tenant: &TenantId, pending: u64) -> Result<(), ServiceError> {
        let quotas = self.quotas.of(tenant).await;
        let queued = queue::queued_count(&self.db, tenant).await? + pending;
        if queued >= u64::from(quotas.queued_executions) {
            aerie_common::metrics::instruments().quota_refusal("queued-executions");
            return Err(ServiceError::TooManyRequests(
                format!(
                    "{tenant} has {queued} executions waiting for a worker, its quota (queued-executions) is {}",
                    quotas.queued_executions
                ),
                QUEUE_FULL_RETRY_SECS,
            ));
        }
        self.per_minute
            .take_at(
                tenant.storage_key(),
                Rate::per_minute(quotas.executions_per_minute),
            )
            .await
            .map_err(|retry| {
                aerie_common::metrics::instruments().quota_refusal("executions-per-minute");
                ServiceError::TooManyRequests(
                    format!(
                        "{tenant} may create {} executions per minute (its quota executions-per-minute)",
                        quotas.executions_per_minute
                    ),
                    retry.seconds(),
                )
            })
    }
}
