//! Answers "may this tenant be addressed, and does it exist?" for any
//! process that receives tenant-scoped calls. Named tenants are looked up in
//! tenant-svc over gRPC; live answers are cached briefly, keyed by tenant.

use std::time::Duration;

use aerie_proto::tenant::v1::GetTenantRequest;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use moka::future::Cache;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::tenant::{TenantId, TenantPolicy};

/// How long a tenant found live is trusted without asking again. Deletes
/// made through this process are seen at once ([`TenantDirectory::forget`]);
/// deletes made elsewhere within this time.
pub const LIVE_TENANT_TTL: Duration = Duration::from_secs(5);

/// Resolves tenants under a [`TenantPolicy`], with a per-tenant cache.
#[derive(Clone)]
pub struct TenantDirectory {
    policy: TenantPolicy,
    client: TenantServiceClient<Channel>,
    live: Cache<TenantId, ()>,
}

impl TenantDirectory {
    /// A directory that asks the tenant service behind `channel`.
    pub fn new(policy: TenantPolicy, channel: Channel) -> Self {
        TenantDirectory {
            policy,
            client: TenantServiceClient::new(channel),
            live: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(LIVE_TENANT_TTL)
                .build(),
        }
    }

    /// The policy this directory enforces.
    pub fn policy(&self) -> TenantPolicy {
        self.policy
    }

    /// Ok when `tenant` may be used now: admitted by the policy and, for a
    /// named tenant, existing and not deleted. NOT_FOUND names the tenant.
    pub async fn resolve(&self, tenant: &TenantId) -> Result<(), Status> {
        self.policy.admit(tenant).map_err(Status::not_found)?;
        let Some(id) = tenant.as_named() else {
            return Ok(());
        };
        if self.live.contains_key(tenant) {
            return Ok(());
        }
        let lookup = self
            .client
            .clone()
            .get_tenant(GetTenantRequest { id: id.to_owned() })
            .await;
        match lookup {
            Ok(_) => {
                self.live.insert(tenant.clone(), ()).await;
                Ok(())
            }
            Err(status) if status.code() == Code::NotFound => {
                Err(Status::not_found(format!("tenant {tenant} not found")))
            }
            Err(status) => Err(status),
        }
    }

    /// Drops what is cached for `tenant` (after a delete).
    pub async fn forget(&self, tenant: &TenantId) {
        self.live.invalidate(tenant).await;
    }
}
