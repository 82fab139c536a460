//! Quotas per tenant. [`QuotaBook`] knows each tenant's quotas (instance
//! defaults with its overrides from tenant-svc). [`Admission`] checks new
//! executions: at most `executions-per-minute` created through the API or a
//! webhook, and at most `queued-executions` waiting for a worker. Past
//! either the request is refused with RESOURCE_EXHAUSTED and a retry time
//! (429 with Retry-After through the gateway); nothing is created, nothing
//! is dropped silently. Scheduled executions are bounded by their cron and
//! are not counted.

use std::sync::Arc;
use std::time::Duration;

use aerie_common::config::QuotasConfig;
use aerie_common::grpc::Channel;
use aerie_common::quota::QuotaOverrides;
use aerie_common::rate::{KeyedLimiter, Rate};
use aerie_common::{ServiceError, TenantId};
use aerie_proto::tenant::v1::GetTenantQuotasRequest;
use aerie_proto::tenant::v1::tenant_internal_service_client::TenantInternalServiceClient;
use moka::future::Cache;
use sea_orm::DatabaseConnection;

use crate::repo::queue;

/// Seconds a caller refused for a full queue is asked to wait.
const QUEUE_FULL_RETRY_SECS: u64 = 5;

/// How long a tenant's overrides are used before they are read again: a
/// change made through the tenant API is in force everywhere within this.
const OVERRIDES_TTL: Duration = Duration::from_secs(5);

/// Each tenant's quotas.
pub struct QuotaBook {
    defaults: QuotasConfig,
    tenants: TenantInternalServiceClient<Channel>,
    service_token: String,
    overrides: Cache<TenantId, Arc<QuotaOverrides>>,
}

impl QuotaBook {
    pub fn new(defaults: &QuotasConfig, tenants: Channel, service_token: String) -> QuotaBook {
        QuotaBook {
            defaults: defaults.clone(),
            tenants: TenantInternalServiceClient::new(tenants),
            service_token,
            overrides: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(OVERRIDES_TTL)
                .build(),
        }
    }

    /// The instance defaults (`aerie.tenants.quotas.*`).
    pub fn defaults(&self) -> &QuotasConfig {
        &self.defaults
    }

    /// The quotas in force for `tenant`.
    pub async fn of(&self, tenant: &TenantId) -> QuotasConfig {
        self.overrides(tenant).await.apply(&self.defaults)
    }

    /// Where `tenant`'s quotas differ from the defaults. The default
    /// tenant has no overrides. When tenant-svc cannot answer, the defaults
    /// apply until it can (and nothing is remembered).
    pub async fn overrides(&self, tenant: &TenantId) -> Arc<QuotaOverrides> {
        let Some(id) = tenant.as_named() else {
            return Arc::default();
        };
        if let Some(known) = self.overrides.get(tenant).await {
            return known;
        }
        let request = aerie_common::audit::service_request(
            GetTenantQuotasRequest { id: id.to_owned() },
            tenant,
            &self.service_token,
        );
        let found = match self.tenants.clone().get_tenant_quotas(request).await {
            Ok(quotas) => QuotaOverrides::from(quotas.into_inner()),
            // A deleted tenant runs nothing anyway.
            Err(status) if status.code() == tonic::Code::NotFound => QuotaOverrides::default(),
            Err(status) => {
                tracing::warn!(%tenant, %status, "cannot read the tenant's quotas; defaults apply");
                return Arc::default();
            }
        };
        let found = Arc::new(found);
        self.overrides.insert(tenant.clone(), found.clone()).await;
        found
    }
}

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
        let quotas = self.quotas.of(tenant).await;
        let queued = queue::queued_count(&self.db, tenant).await?;
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
