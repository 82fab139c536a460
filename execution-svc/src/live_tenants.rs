//! The tenants this instance serves now, for background work that visits
//! each tenant in turn (the scheduler, retention).

use aerie_common::grpc::Channel;
use aerie_common::{TenantId, TenantPolicy};
use aerie_proto::tenant::internal::v1::ListLiveTenantIdsRequest;
use aerie_proto::tenant::internal::v1::tenant_internal_service_client::TenantInternalServiceClient;

use crate::executor::Engine;

#[derive(Clone)]
pub struct LiveTenants {
    engine: Engine,
    client: TenantInternalServiceClient<Channel>,
    policy: TenantPolicy,
}

impl LiveTenants {
    pub fn new(engine: Engine, tenants: Channel, policy: TenantPolicy) -> LiveTenants {
        LiveTenants {
            engine,
            client: TenantInternalServiceClient::new(tenants),
            policy,
        }
    }

    /// The stream of tenants changed (deleted ones among them), from tenant-svc.
    pub fn changes(&self) -> aerie_common::changes::Connect {
        let (engine, client) = (self.engine.clone(), self.client.clone());
        Box::new(move || {
            let mut client = client.clone();
            let request = engine.internal(
                &TenantId::default_tenant(),
                aerie_proto::tenant::internal::v1::WatchTenantChangesRequest {},
            );
            Box::pin(async move { Ok(client.watch_tenant_changes(request).await?.into_inner()) })
        })
    }

    /// The default tenant (when admitted) and every live named tenant.
    pub async fn list(&self) -> Result<Vec<TenantId>, tonic::Status> {
        let mut tenants = Vec::new();
        if self.policy.admit(&TenantId::default_tenant()).is_ok() {
            tenants.push(TenantId::default_tenant());
        }
        if self.policy.multi_tenancy {
            let request = self
                .engine
                .internal(&TenantId::default_tenant(), ListLiveTenantIdsRequest {});
            let ids = self
                .client
                .clone()
                .list_live_tenant_ids(request)
                .await?
                .into_inner()
                .ids;
            tenants.extend(ids.iter().filter_map(|id| TenantId::parse(id).ok()));
        }
        Ok(tenants)
    }
}
