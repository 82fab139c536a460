//! Answers "may this tenant be addressed, and does it exist?" for any
//! process that receives tenant-scoped calls. Named tenants are looked up in
//! tenant-svc over gRPC; live answers are cached, keyed by tenant, until
//! tenant-svc or auth-svc announces a change (see `changes`).

use std::time::Instant;

use crate::grpc::Channel;
use aerie_proto::tenant::internal::v1::TenantExistsRequest;
use aerie_proto::tenant::internal::v1::tenant_internal_service_client::TenantInternalServiceClient;
use aerie_proto::tenant::v1::GetTenantRequest;
use aerie_proto::tenant::v1::tenant_service_client::TenantServiceClient;
use tonic::{Code, Status};

use crate::auth::Caller;
use crate::cache::Cache;
use crate::changes::{Change, ChangeWatch, WATCHED_TTL};
use crate::tenant::{TenantId, TenantPolicy};

/// A tenant, and who asked (none when only existence matters).
type LiveKey = (
    TenantId,
    Option<(crate::auth::PrincipalKind, std::sync::Arc<str>)>,
);

/// Resolves tenants under a [`TenantPolicy`] for a caller, with a cache
/// keyed by tenant and caller (whether a tenant is visible depends on who
/// asks), or by tenant alone for a service that checks access itself.
#[derive(Clone)]
pub struct TenantDirectory {
    policy: TenantPolicy,
    client: TenantServiceClient<Channel>,
    channel: Channel,
    /// Set for services: existence only, asked with this credential.
    service_token: Option<String>,
    /// Live answers, with when they were given. Deletes made through this
    /// process are seen at once ([`TenantDirectory::forget`]); others when
    /// announced (or within the fallback TTL when announcements are not heard).
    live: Cache<LiveKey, Instant>,
    watch: ChangeWatch,
}

impl TenantDirectory {
    /// A directory that asks the tenant service behind `channel` whether
    /// each caller may see a tenant (the gateway's view).
    pub fn new(policy: TenantPolicy, channel: Channel, watch: &ChangeWatch) -> Self {
        Self::build(policy, channel, None, watch)
    }

    /// A directory for a service that authorizes callers itself: it asks
    /// only whether a tenant exists, once per tenant, with the internal
    /// service credential.
    pub fn for_service(
        policy: TenantPolicy,
        channel: Channel,
        service_token: String,
        watch: &ChangeWatch,
    ) -> Self {
        Self::build(policy, channel, Some(service_token), watch)
    }

    fn build(
        policy: TenantPolicy,
        channel: Channel,
        service_token: Option<String>,
        watch: &ChangeWatch,
    ) -> Self {
        let live: Cache<LiveKey, Instant> = Cache::new(100_000, WATCHED_TTL);
        let entries = live.clone();
        // Whether a caller sees a tenant depends on its bindings there too.
        watch.on_change(move |change| match change {
            Change::Everything => entries.invalidate_all(),
            Change::Tenant(tenant) => {
                entries.invalidate_if(|(t, _), _| t == tenant);
            }
            Change::Principal(kind, id) => {
                let principal = Some((*kind, id.clone()));
                entries.invalidate_if(|(_, p), _| *p == principal);
            }
        });
        TenantDirectory {
            policy,
            client: TenantServiceClient::new(channel.clone()),
            channel,
            service_token,
            live,
            watch: watch.clone(),
        }
    }

    /// Whether `key` was found live and may still be believed.
    async fn known_live(&self, key: &LiveKey) -> bool {
        self.live.get(key).is_some_and(|at| self.watch.trusts(at))
    }

    /// The policy this directory enforces.
    pub fn policy(&self) -> TenantPolicy {
        self.policy
    }

    /// Ok when `caller` may address `tenant` now: admitted by the policy
    /// and, for a named tenant, existing, not deleted and visible to the
    /// caller. NOT_FOUND names the tenant either way.
    pub async fn resolve(&self, tenant: &TenantId, caller: &Caller) -> Result<(), Status> {
        self.policy.admit(tenant).map_err(Status::not_found)?;
        let Some(id) = tenant.as_named() else {
            return Ok(());
        };
        let principal = match self.service_token {
            Some(_) => None,
            None => Some((caller.kind, caller.id.clone())),
        };
        let key = (tenant.clone(), principal);
        if self.known_live(&key).await {
            return Ok(());
        }
        let epoch = self.watch.epoch();
        let mut request = caller.request(GetTenantRequest { id: id.to_owned() }, None);
        if let Some(token) = &self.service_token
            && let Ok(value) = token.parse()
        {
            request
                .metadata_mut()
                .insert(crate::audit::SERVICE_TOKEN_HEADER, value);
        }
        let lookup = self.client.clone().get_tenant(request).await;
        match lookup {
            Ok(_) => {
                self.live
                    .insert_if(key, Instant::now(), || self.watch.epoch() == epoch);
                Ok(())
            }
            Err(status) if status.code() == Code::NotFound => {
                Err(Status::not_found(format!("tenant {tenant} not found")))
            }
            Err(status) => Err(status),
        }
    }

    /// Ok when `tenant` is admitted by the policy and, if named, exists:
    /// for a service's calls that carry no caller (webhooks).
    pub async fn exists(&self, tenant: &TenantId) -> Result<(), Status> {
        self.policy.admit(tenant).map_err(Status::not_found)?;
        let Some(id) = tenant.as_named() else {
            return Ok(());
        };
        let key = (tenant.clone(), None);
        if self.known_live(&key).await {
            return Ok(());
        }
        let epoch = self.watch.epoch();
        let Some(token) = &self.service_token else {
            return Err(Status::internal(
                "tenant existence needs the service credential",
            ));
        };
        let request = crate::audit::service_request(
            TenantExistsRequest { id: id.to_owned() },
            &TenantId::default_tenant(),
            token,
        );
        let exists = TenantInternalServiceClient::new(self.channel.clone())
            .tenant_exists(request)
            .await?
            .into_inner()
            .exists;
        if !exists {
            return Err(Status::not_found(format!("tenant {tenant} not found")));
        }
        self.live
            .insert_if(key, Instant::now(), || self.watch.epoch() == epoch);
        Ok(())
    }

    /// Drops what is cached for `tenant`, for every caller (after a delete).
    pub fn forget(&self, tenant: &TenantId) {
        self.live.invalidate_if(|(t, _), _| t == tenant);
    }
}
