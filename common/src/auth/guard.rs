//! The checks every tenant-scoped handler starts with, written once: who
//! calls, in which tenant (admitted by the policy and still existing), and
//! whether they may act there. A caller who may not use the tenant at all
//! learns nothing: the resource is "not found", whether or not it exists.

use crate::grpc::Channel;
use tonic::{Request, Status};

use super::{AccessClient, Caller, Grant, NamespaceScope, caller_of};
use crate::tenant::{TenantId, TenantPolicy, scoped_tenant};
use crate::tenant_directory::TenantDirectory;

/// Who calls, in which tenant.
pub struct Call {
    pub caller: Caller,
    pub tenant: TenantId,
}

/// Authorizes callers of one service in the tenant of each call.
#[derive(Clone)]
pub struct TenantGuard {
    policy: TenantPolicy,
    access: AccessClient,
    /// Whether a named tenant still exists: a deleted tenant's data stays
    /// unreachable also for its former members calling a service directly.
    tenants: TenantDirectory,
}

impl TenantGuard {
    /// `auth` reaches auth-svc, `tenants` tenant-svc (asked with the
    /// internal service credential).
    pub fn new(
        policy: TenantPolicy,
        auth: Channel,
        tenants: Channel,
        service_token: String,
        watch: &crate::changes::ChangeWatch,
    ) -> TenantGuard {
        TenantGuard {
            policy,
            access: AccessClient::new(auth, watch),
            tenants: TenantDirectory::for_service(policy, tenants, service_token, watch),
        }
    }

    pub fn policy(&self) -> &TenantPolicy {
        &self.policy
    }

    /// The caller and the tenant of a call; a named tenant must exist and
    /// the caller must be able to use it. Both are checked before anything
    /// else of the request, so that a caller from another tenant gets the
    /// same answer for a tenant that exists as for one that does not,
    /// whatever it sends.
    pub async fn call<T>(&self, request: &Request<T>) -> Result<Call, Status> {
        let call = Call {
            caller: caller_of(request)?,
            tenant: scoped_tenant(request, &self.policy)?,
        };
        self.tenants.resolve(&call.tenant, &call.caller).await?;
        if call.tenant.as_named().is_some() {
            self.require_tenant_use(&call).await?;
        }
        Ok(call)
    }

    /// The tenant of a call that carries no caller (a webhook, whose key is
    /// the credential); it must be admitted and exist.
    pub async fn anonymous_tenant<T>(&self, request: &Request<T>) -> Result<TenantId, Status> {
        let tenant = scoped_tenant(request, &self.policy)?;
        self.tenants.exists(&tenant).await?;
        Ok(tenant)
    }

    /// Requires `grant` on `namespace`; `missing` describes the resource as
    /// not found for a caller without access to the tenant.
    pub async fn authorize(
        &self,
        call: &Call,
        grant: Grant,
        namespace: &str,
        missing: impl FnOnce() -> String,
    ) -> Result<(), Status> {
        let allowed = self
            .access
            .allowed(&call.caller, &call.tenant, grant, Some(namespace))
            .await?;
        if allowed {
            return Ok(());
        }
        Err(self.denial(call, grant, namespace, missing).await)
    }

    async fn denial(
        &self,
        call: &Call,
        grant: Grant,
        namespace: &str,
        missing: impl FnOnce() -> String,
    ) -> Status {
        match self.access.may_use_tenant(&call.caller, &call.tenant).await {
            Ok(true) => Status::permission_denied(format!(
                "{} may not {} {} in namespace {namespace} of {}",
                call.caller.name,
                grant.action().as_str(),
                grant.permission().as_str(),
                call.tenant
            )),
            Ok(false) => Status::not_found(missing()),
            Err(status) => status,
        }
    }

    /// The caller may use the tenant at all; otherwise the tenant is "not
    /// found", exactly like one that does not exist.
    pub async fn require_tenant_use(&self, call: &Call) -> Result<(), Status> {
        if self
            .access
            .may_use_tenant(&call.caller, &call.tenant)
            .await?
        {
            Ok(())
        } else {
            // Word for word what an unknown tenant answers.
            Err(Status::not_found(format!(
                "tenant {} not found",
                call.tenant
            )))
        }
    }

    /// Where the caller may use `grant`, for listings; nowhere at all is a
    /// denial like [`TenantGuard::authorize`]'s.
    pub async fn scope(&self, call: &Call, grant: Grant) -> Result<NamespaceScope, Status> {
        let scope = self
            .access
            .granted_namespaces(&call.caller, &call.tenant, grant)
            .await?;
        if scope == NamespaceScope::Within(Vec::new()) {
            let tenant = call.tenant.clone();
            return Err(self
                .denial(call, grant, "any", || format!("tenant {tenant} not found"))
                .await);
        }
        Ok(scope)
    }
}
